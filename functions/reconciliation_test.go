package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/platform"
)

type suggestion struct {
	ID         string   `json:"id"`
	PaymentID  string   `json:"payment_id"`
	InvoiceIDs []string `json:"invoice_ids"`
	Amounts    []struct {
		InvoiceID   string `json:"invoice_id"`
		AmountMinor int64  `json:"amount_minor"`
	} `json:"amounts"`
	Score   float64 `json:"score"`
	Reasons []struct {
		Field   string `json:"field"`
		Matched string `json:"matched"`
	} `json:"reasons"`
	Status    string  `json:"status"`
	DecidedAt *string `json:"decided_at"`
	DecidedBy *string `json:"decided_by"`
}

// inbound delivers an inbound payment message from the bank: 45000 USD from the
// fixture's customer unless body says otherwise.
func (f fixture) inbound(t *testing.T, messageID string, body map[string]any) error {
	t.Helper()
	b := map[string]any{"tenant_id": f.tenant.String(), "external_id": "bank-1", "direction": "incoming",
		"amount_minor": 45000, "currency": "USD", "value_date": "2026-11-10", "counterparty_id": f.customer}
	for k, v := range body {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	data, err := json.Marshal(b)
	require.NoError(t, err)
	return f.s.Deliver(t, "InboundPayments", platform.Message{ID: messageID, Data: data})
}

// paymentByExternalID finds the payment the processor recorded for a bank transaction.
func (f fixture) paymentByExternalID(t *testing.T, externalID string) (payment, bool) {
	t.Helper()
	var l struct {
		Data []struct {
			ID         string  `json:"id"`
			ExternalID *string `json:"external_id"`
		}
	}
	f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments?limit=100", Token: f.token}).JSON(t, &l)
	for _, p := range l.Data {
		if p.ExternalID != nil && *p.ExternalID == externalID {
			resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments/" + p.ID, Token: f.token})
			require.Equal(t, http.StatusOK, resp.Status)
			var full payment
			resp.JSON(t, &full)
			return full, true
		}
	}
	return payment{}, false
}

func (f fixture) suggestions(t *testing.T, query string) []suggestion {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reconciliation/suggestions" + query, Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l struct{ Data []suggestion }
	resp.JSON(t, &l)
	return l.Data
}

func (f fixture) decide(t *testing.T, id, decision string) apitest.Response {
	t.Helper()
	return f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/reconciliation/suggestions/" + id + "/" + decision, Token: f.token})
}

func (f fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.s.DB.Admin.QueryRow(context.Background(), sql, append([]any{f.tenant}, args...)...).Scan(&n), sql)
	return n
}

func TestInboundPaymentAllocatedOnceHoweverOftenDelivered(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Bank feed")
	f.openInvoice(t, nil) // INV-000001, 45000
	target := f.openInvoice(t, nil)

	msg := map[string]any{"reference": "Remittance INV-000002", "method": "bank_transfer"}
	for i := 0; i < 3; i++ {
		require.NoError(t, f.inbound(t, "msg-1", msg), "delivery %d", i+1)
	}
	// The bank publishes the same transaction again: a new message, the same external id.
	require.NoError(t, f.inbound(t, "msg-2", msg))

	p, ok := f.paymentByExternalID(t, "bank-1")
	require.True(t, ok)
	require.Equal(t, int64(45000), p.AmountAllocatedMinor)
	require.Len(t, p.Allocations, 1)
	require.Equal(t, target.ID, p.Allocations[0].InvoiceID)
	require.Equal(t, "paid", f.getInvoice(t, target.ID).Status)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payments WHERE tenant_id = $1`))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM allocations WHERE tenant_id = $1`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM reconciliation_suggestions WHERE tenant_id = $1`))
	require.Zero(t, f.count(t, `SELECT count(*) FROM inbound_payment_rejections WHERE tenant_id = $1`))
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND consumer = 'InboundPayments'`))

	// The processor is the audited actor of the payment and its allocation.
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND actor_type = 'system' AND actor_id = 'InboundPayments' AND action IN ('payment.created', 'allocation.created')`))
}

// Copies of one bank transaction arrive at once under different message ids (the bank
// published it several times): one payment, one allocation, every copy acknowledged.
func TestInboundPaymentCopiesAtOnce(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Eager bank")
	inv := f.openInvoice(t, nil)

	deliver := func(body map[string]any) {
		const copies = 6
		errs := make(chan error, copies)
		var wg sync.WaitGroup
		for i := 0; i < copies; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- f.inbound(t, fmt.Sprintf("%s-copy-%d", body["external_id"], i), body)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
	// Allocated: the copies queue on the invoice.
	deliver(map[string]any{"external_id": "bank-1", "reference": "INV-000001"})
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payments WHERE tenant_id = $1`))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM allocations WHERE tenant_id = $1`))
	require.Equal(t, "paid", f.getInvoice(t, inv.ID).Status)

	// Unmatched: the copies meet at the payments' external id.
	deliver(map[string]any{"external_id": "bank-2", "amount_minor": 777})
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM payments WHERE tenant_id = $1`))
}

func TestInboundPaymentWithoutAMatch(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Stranger")
	f.openInvoice(t, nil)

	// Neither the reference nor the amount fits: the payment is recorded, unallocated,
	// for people to allocate.
	require.NoError(t, f.inbound(t, "", map[string]any{"amount_minor": 1234, "reference": "rent november"}))
	p, ok := f.paymentByExternalID(t, "bank-1")
	require.True(t, ok)
	require.Empty(t, p.Allocations)
	require.Equal(t, int64(1234), p.AmountUnallocatedMinor)
	require.Empty(t, f.suggestions(t, ""))
}

func TestInboundPaymentOfSeveralInvoices(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Bulk payer")
	a := f.openInvoice(t, nil)
	f.openInvoice(t, map[string]any{"lines": []map[string]any{{"description": "Support", "quantity": "1", "unit_amount_minor": 30000}}})
	c := f.openInvoice(t, map[string]any{"lines": []map[string]any{{"description": "Travel", "quantity": "1", "unit_amount_minor": 12000}}})

	require.NoError(t, f.inbound(t, "", map[string]any{"amount_minor": 57000, "reference": "INV-000001 INV-000003",
		"counterparty_id": nil, "counterparty_name": "bulk PAYER customer"}))
	p, ok := f.paymentByExternalID(t, "bank-1")
	require.True(t, ok, "the counterparty was found by name, ignoring case")
	require.Equal(t, int64(57000), p.AmountAllocatedMinor)
	got := map[string]int64{}
	for _, al := range p.Allocations {
		got[al.InvoiceID] = al.AmountMinor
	}
	require.Equal(t, map[string]int64{a.ID: 45000, c.ID: 12000}, got)
}

func TestInboundPaymentToleranceFollowsTheTenantsSettings(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Tolerant")
	inv := f.openInvoice(t, nil)

	// 45040 for a 45000 invoice it names: within the default tolerance, but a weaker
	// match than the default threshold needs.
	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-1", "amount_minor": 45040, "reference": "INV-000001"}))
	p, _ := f.paymentByExternalID(t, "bank-1")
	require.Empty(t, p.Allocations)
	sg := f.suggestions(t, "?payment_id="+p.ID)
	require.Len(t, sg, 1)
	require.InDelta(t, 0.85, sg[0].Score, 1e-9)
	require.Equal(t, int64(45000), sg[0].Amounts[0].AmountMinor)

	_, err := s.DB.Admin.Exec(context.Background(), `UPDATE tenants SET settings = settings ||
   '{"reconciliation_auto_threshold": 0.8, "reconciliation_tolerance_minor": 50}' WHERE id = $1`, f.tenant)
	require.NoError(t, err)
	inv2 := f.openInvoice(t, nil) // INV-000002
	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-2", "amount_minor": 45040, "reference": "INV-000002"}))
	p, _ = f.paymentByExternalID(t, "bank-2")
	require.Len(t, p.Allocations, 1, "0.85 reaches the tenant's threshold")
	require.Equal(t, inv2.ID, p.Allocations[0].InvoiceID)
	require.Equal(t, int64(40), p.AmountUnallocatedMinor, "the overpayment stays on the payment")

	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-3", "amount_minor": 44940, "reference": "INV-000001"}))
	p, _ = f.paymentByExternalID(t, "bank-3")
	require.Empty(t, p.Allocations, "60 is outside the tenant's tolerance of 50")
	sg = f.suggestions(t, "?payment_id="+p.ID)
	require.Len(t, sg, 1)
	require.InDelta(t, 0.7, sg[0].Score, 1e-9)
	require.Equal(t, inv.ID, sg[0].InvoiceIDs[0])
}

func TestInboundPaymentPoisonAndTransientMessages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Poison")
	f.openInvoice(t, nil)
	ctx := context.Background()

	t.Run("invalid: acknowledged and recorded", func(t *testing.T) {
		require.NoError(t, f.inbound(t, "bad-1", map[string]any{"external_id": "bank-bad", "direction": "sideways", "amount_minor": -5}))
		require.NoError(t, f.inbound(t, "bad-1", map[string]any{"external_id": "bank-bad", "direction": "sideways", "amount_minor": -5}))
		var reason, code string
		var fields map[string]string
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT reason, detail->>'code', detail->'errors' FROM inbound_payment_rejections
 WHERE tenant_id = $1 AND message_id = 'bad-1'`, f.tenant).Scan(&reason, &code, &fields))
		require.Equal(t, "invalid_message", reason)
		require.Equal(t, "validation_failed", code)
		require.Contains(t, fields, "direction")
		require.Contains(t, fields, "amount_minor")
		require.Equal(t, 1, f.count(t, `SELECT count(*) FROM inbound_payment_rejections WHERE tenant_id = $1 AND message_id = 'bad-1'`))
	})

	t.Run("unresolved counterparty: acknowledged and recorded", func(t *testing.T) {
		f.counterparty(t, map[string]any{"name": "Twin", "kind": "customer"})
		f.counterparty(t, map[string]any{"name": "TWIN", "kind": "both"})
		for id, body := range map[string]map[string]any{
			"cp-1": {"external_id": "bank-cp1", "counterparty_id": nil, "counterparty_name": "Nobody"},
			"cp-2": {"external_id": "bank-cp2", "counterparty_id": f.vendor},
			"cp-3": {"external_id": "bank-cp3", "counterparty_id": nil},
			"cp-4": {"external_id": "bank-cp4", "counterparty_id": nil, "counterparty_name": "twin"},
		} {
			require.NoError(t, f.inbound(t, id, body), id)
			var reason string
			require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT reason FROM inbound_payment_rejections
 WHERE tenant_id = $1 AND message_id = $2`, f.tenant, id).Scan(&reason), id)
			require.Equal(t, "counterparty_unresolved", reason, id)
		}
	})

	t.Run("no tenant: acknowledged, only logged", func(t *testing.T) {
		for _, data := range []string{
			`{"tenant_id": "` + uuid.NewString() + `", "external_id": "x"}`,
			`{"tenant_id": "not-a-uuid"}`,
			`{"tenant_id": 42}`,
			`not json`,
		} {
			require.NoError(t, s.Deliver(t, "InboundPayments", platform.Message{Data: []byte(data)}), data)
		}
	})

	t.Run("transient failure: redelivered, then processed", func(t *testing.T) {
		fn, err := platform.EventProcessor("InboundPayments", s.Deps)
		require.NoError(t, err)
		data, err := json.Marshal(map[string]any{"tenant_id": f.tenant.String(), "external_id": "bank-late", "direction": "incoming",
			"amount_minor": 45000, "currency": "USD", "value_date": "2026-11-10", "counterparty_id": f.customer, "reference": "INV-000001"})
		require.NoError(t, err)
		e, err := platform.PubSubEvent("ledgerline-test", "ledgerline-inbound-payments", platform.Message{ID: "late-1", Data: data})
		require.NoError(t, err)
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		require.Error(t, fn(canceled, e), "the database was unreachable: nack")
		_, recorded := f.paymentByExternalID(t, "bank-late")
		require.False(t, recorded)
		require.Zero(t, f.count(t, `SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND message_id = 'late-1'`))

		require.NoError(t, fn(ctx, e), "the redelivery succeeds")
		p, recorded := f.paymentByExternalID(t, "bank-late")
		require.True(t, recorded)
		require.Len(t, p.Allocations, 1)
	})

	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payments WHERE tenant_id = $1`), "only the valid message recorded a payment")
}

func TestReconciliationSuggestions(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Reviewer")
	a := f.openInvoice(t, nil)
	b := f.openInvoice(t, nil)

	// 45000 with no reference fits both invoices equally: suggestions, no allocation.
	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-1"}))
	p1, _ := f.paymentByExternalID(t, "bank-1")
	require.Empty(t, p1.Allocations)
	sg := f.suggestions(t, "?status=pending&payment_id="+p1.ID)
	require.Len(t, sg, 2)
	ids := map[string]bool{}
	for _, x := range sg {
		require.Equal(t, "pending", x.Status)
		require.InDelta(t, 0.5, x.Score, 1e-9)
		require.Nil(t, x.DecidedAt)
		require.Len(t, x.InvoiceIDs, 1)
		ids[x.InvoiceIDs[0]] = true
		require.Equal(t, "amount", x.Reasons[0].Field)
		require.Equal(t, "exact", x.Reasons[0].Matched)
	}
	require.Equal(t, map[string]bool{a.ID: true, b.ID: true}, ids)

	// Accepting one allocates as the caller and supersedes the other.
	var accept, other suggestion
	for _, x := range sg {
		if x.InvoiceIDs[0] == a.ID {
			accept = x
		} else {
			other = x
		}
	}
	resp := f.decide(t, accept.ID, "accept")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var got suggestion
	resp.JSON(t, &got)
	require.Equal(t, "accepted", got.Status)
	require.NotNil(t, got.DecidedAt)
	subject := "user-" + f.tenant.String()[:8]
	require.Equal(t, subject, *got.DecidedBy)
	p1, _ = f.paymentByExternalID(t, "bank-1")
	require.Len(t, p1.Allocations, 1)
	require.Equal(t, a.ID, p1.Allocations[0].InvoiceID)
	require.Equal(t, "paid", f.getInvoice(t, a.ID).Status)
	require.Equal(t, "open", f.getInvoice(t, b.ID).Status)
	all := f.suggestions(t, "?payment_id="+p1.ID)
	require.Len(t, all, 2)
	for _, x := range all {
		if x.ID == other.ID {
			require.Equal(t, "superseded", x.Status)
		}
	}
	require.Len(t, f.suggestions(t, "?status=accepted"), 1)
	require.Empty(t, f.suggestions(t, "?status=pending"))

	for _, decision := range []string{"accept", "reject"} {
		resp = f.decide(t, other.ID, decision)
		require.Equal(t, http.StatusConflict, resp.Status, decision)
		require.Equal(t, "suggestion_not_pending", resp.Problem(t).Code)
	}

	// The audit trail names the person for the allocation and the decision.
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND action = 'allocation.created' AND actor_type = 'user' AND actor_id = $2`, subject))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND action = 'reconciliation_suggestion.accepted' AND actor_id = $2 AND entity_id = $3`, subject, accept.ID))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND action = 'reconciliation_suggestion.superseded' AND entity_id = $2`, other.ID))
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND action = 'reconciliation_suggestion.created' AND actor_id = 'InboundPayments'`))
	require.Equal(t, 2, f.count(t, `SELECT count(*) FROM outbox_events WHERE tenant_id = $1
   AND event_type IN ('reconciliation_suggestion.accepted', 'reconciliation_suggestion.superseded')`))

	// Rejecting allocates nothing.
	f.openInvoice(t, nil) // 45000, like b
	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-2"}))
	p2, _ := f.paymentByExternalID(t, "bank-2")
	sg = f.suggestions(t, "?payment_id="+p2.ID)
	require.Len(t, sg, 2)
	resp = f.decide(t, sg[0].ID, "reject")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	resp.JSON(t, &got)
	require.Equal(t, "rejected", got.Status)
	require.Len(t, f.suggestions(t, "?status=rejected"), 1)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1
   AND action = 'reconciliation_suggestion.rejected' AND actor_id = $2`, subject))
	p2, _ = f.paymentByExternalID(t, "bank-2")
	require.Empty(t, p2.Allocations)

	// The invoice of the remaining suggestion is paid by hand meanwhile: accepting it
	// answers the payments domain's refusal and decides nothing.
	remaining := sg[1]
	resp, _ = f.pay(t, map[string]any{"allocations": []any{alloc(remaining.InvoiceIDs[0], 45000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	resp = f.decide(t, remaining.ID, "accept")
	require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
	require.Equal(t, "invoice_not_open", resp.Problem(t).Code)
	require.Len(t, f.suggestions(t, "?status=pending&payment_id="+p2.ID), 1)

	// Pages, filters and refusals.
	page := f.suggestions(t, "?limit=1")
	require.Len(t, page, 1)
	next := f.suggestions(t, "?limit=10&starting_after="+page[0].ID)
	require.Len(t, next, 3)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reconciliation/suggestions?status=maybe", Token: f.token})
	require.Equal(t, http.StatusBadRequest, resp.Status)
	for _, id := range []string{uuid.NewString(), "nope"} {
		resp = f.decide(t, id, "accept")
		require.Equal(t, http.StatusNotFound, resp.Status)
		require.Equal(t, "suggestion_not_found", resp.Problem(t).Code)
	}

	// A rejected suggestion stays rejected when another one is accepted.
	f.openInvoice(t, nil)
	f.openInvoice(t, nil)
	require.NoError(t, f.inbound(t, "", map[string]any{"external_id": "bank-3"}))
	p3, _ := f.paymentByExternalID(t, "bank-3")
	sg = f.suggestions(t, "?payment_id="+p3.ID)
	require.Len(t, sg, 3)
	require.Equal(t, http.StatusOK, f.decide(t, sg[0].ID, "reject").Status)
	require.Equal(t, http.StatusOK, f.decide(t, sg[1].ID, "accept").Status)
	statuses := map[string]string{}
	for _, x := range f.suggestions(t, "?payment_id="+p3.ID) {
		statuses[x.ID] = x.Status
	}
	require.Equal(t, map[string]string{sg[0].ID: "rejected", sg[1].ID: "accepted", sg[2].ID: "superseded"}, statuses)

	// Another tenant sees none of it.
	outsider := newFixture(t, s, "Outsider")
	require.Empty(t, outsider.suggestions(t, ""))
	for _, decision := range []string{"accept", "reject"} {
		resp = outsider.decide(t, remaining.ID, decision)
		require.Equal(t, http.StatusNotFound, resp.Status)
		require.Equal(t, "suggestion_not_found", resp.Problem(t).Code)
	}

	// Reading needs payments:read, deciding payments:write.
	viewer := s.Token(t, f.tenant, auth.RoleViewer)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reconciliation/suggestions", Token: viewer})
	require.Equal(t, http.StatusOK, resp.Status)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/reconciliation/suggestions/" + remaining.ID + "/reject", Token: viewer})
	require.Equal(t, http.StatusForbidden, resp.Status)
}
