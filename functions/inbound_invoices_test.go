package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// erpDoc builds an inbound invoice message of f's tenant; edit changes the invoice.
func (f fixture) erpDoc(externalID string, version int, edit func(inv map[string]any)) map[string]any {
	inv := map[string]any{
		"direction": "receivable", "counterparty_id": f.customer, "currency": "USD", "issue_date": "2026-11-01",
		"lines": []map[string]any{{"description": "Consulting", "quantity": "3", "unit_amount_minor": 15000}},
	}
	if edit != nil {
		edit(inv)
	}
	return map[string]any{"tenant_id": f.tenant.String(), "source": "netsuite", "external_id": externalID,
		"version": version, "invoice": inv}
}

// deliverERP delivers msg (a value to encode, or raw bytes) to InboundInvoices with
// message id id and returns the processor's verdict.
func (f fixture) deliverERP(t *testing.T, id string, msg any) error {
	t.Helper()
	data, ok := msg.([]byte)
	if !ok {
		var err error
		data, err = json.Marshal(msg)
		require.NoError(t, err)
	}
	return f.s.Deliver(t, "InboundInvoices", platform.Message{ID: id, Data: data})
}

// erpInvoice is the invoice with externalID and the source version it holds; found is
// false when there is none.
func (f fixture) erpInvoice(t *testing.T, externalID string) (doc invoiceDoc, sourceVersion int64, found bool) {
	t.Helper()
	var id string
	err := f.s.DB.Admin.QueryRow(context.Background(), `SELECT id::text, coalesce(source_version, 0) FROM invoices
 WHERE tenant_id = $1 AND external_id = $2`, f.tenant, externalID).Scan(&id, &sourceVersion)
	if err != nil {
		require.ErrorContains(t, err, "no rows")
		return invoiceDoc{}, 0, false
	}
	return f.fetchInvoice(t, id), sourceVersion, true
}

func (f fixture) countRows(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.s.DB.Admin.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

type rejection struct {
	Code      string
	Detail    string
	InvoiceID *string
	Version   *int64
}

func (f fixture) rejectionOf(t *testing.T, messageID string) rejection {
	t.Helper()
	var r rejection
	require.NoError(t, f.s.DB.Admin.QueryRow(context.Background(), `SELECT code, detail, invoice_id::text, source_version
  FROM inbound_rejections WHERE tenant_id = $1 AND message_id = $2`, f.tenant, messageID).
		Scan(&r.Code, &r.Detail, &r.InvoiceID, &r.Version))
	return r
}

func TestInboundInvoiceCreatedOnceHoweverOftenDelivered(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Upstream")

	msg := f.erpDoc("NS-1", 1, func(inv map[string]any) { inv["memo"] = "from the ERP" })
	for range 3 {
		require.NoError(t, f.deliverERP(t, "m-1", msg))
	}
	// The same document published again gets a new message id: the version stops it.
	require.NoError(t, f.deliverERP(t, "m-1-again", msg))

	require.Equal(t, 1, f.countRows(t, `SELECT count(*) FROM invoices WHERE tenant_id = $1`, f.tenant))
	inv, sourceVersion, found := f.erpInvoice(t, "NS-1")
	require.True(t, found)
	require.EqualValues(t, 1, sourceVersion)
	require.Equal(t, "draft", inv.Status)
	require.Equal(t, 1, inv.Version)
	require.Equal(t, "NS-1", *inv.ExternalID)
	require.Equal(t, "from the ERP", *inv.Memo)
	require.Equal(t, int64(45000), inv.TotalMinor)
	require.Equal(t, "2026-11-15", inv.DueDate, "due date from the customer's 14 days of terms, as through the API")

	// Audit and outbox exactly as a create through the API, by the processor.
	require.Equal(t, []string{"invoice.created"}, actions(f.auditOf(t, inv.ID)))
	out := f.outboxOf(t, inv.ID)
	require.Len(t, out, 1)
	require.Equal(t, "invoice.created", out[0].Type)
	var actorType, actorID, requestID string
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT actor_type, actor_id, request_id FROM audit_events
 WHERE tenant_id = $1 AND entity_id = $2`, f.tenant, inv.ID).Scan(&actorType, &actorID, &requestID))
	require.Equal(t, []string{"system", "InboundInvoices", "msg-m-1"}, []string{actorType, actorID, requestID})
	require.Zero(t, f.countRows(t, `SELECT count(*) FROM inbound_rejections WHERE tenant_id = $1`, f.tenant))

	t.Run("issued at once when the first version is open", func(t *testing.T) {
		require.NoError(t, f.deliverERP(t, "m-open", f.erpDoc("NS-OPEN", 1, func(inv map[string]any) { inv["status"] = "open" })))
		inv, _, found := f.erpInvoice(t, "NS-OPEN")
		require.True(t, found)
		require.Equal(t, "open", inv.Status)
		require.NotNil(t, inv.Number)
	})

	t.Run("the event id attribute is the dedupe key when present", func(t *testing.T) {
		data, err := json.Marshal(f.erpDoc("NS-EV", 1, nil))
		require.NoError(t, err)
		for _, id := range []string{"ev-copy-1", "ev-copy-2"} {
			require.NoError(t, s.Deliver(t, "InboundInvoices", platform.Message{ID: id, Data: data,
				Attributes: map[string]string{"event_id": "erp-event-9"}}))
		}
		require.Equal(t, 1, f.countRows(t, `SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND message_id = 'erp-event-9'`, f.tenant))
		require.Zero(t, f.countRows(t, `SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND message_id LIKE 'ev-copy-%'`, f.tenant))
	})
}

func TestInboundInvoiceVersions(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Versions")
	v2 := func(inv map[string]any) {
		inv["issue_date"] = "2026-11-05"
		inv["due_date"] = "2026-12-31"
		inv["lines"] = []map[string]any{
			{"description": "Consulting", "quantity": "4", "unit_amount_minor": 15000, "tax_rate": "20"},
			{"description": "Travel", "quantity": "1", "unit_amount_minor": 9999},
		}
	}

	t.Run("a newer version replaces the draft", func(t *testing.T) {
		require.NoError(t, f.deliverERP(t, "a-1", f.erpDoc("NS-A", 1, func(inv map[string]any) { inv["memo"] = "first" })))
		first, _, _ := f.erpInvoice(t, "NS-A")
		require.NoError(t, f.deliverERP(t, "a-2", f.erpDoc("NS-A", 2, v2)))

		inv, sourceVersion, found := f.erpInvoice(t, "NS-A")
		require.True(t, found)
		require.Equal(t, first.ID, inv.ID)
		require.EqualValues(t, 2, sourceVersion)
		require.Equal(t, first.Version+1, inv.Version)
		require.Equal(t, "draft", inv.Status)
		require.Equal(t, "2026-11-05", inv.IssueDate)
		require.Equal(t, "2026-12-31", inv.DueDate)
		require.Nil(t, inv.Memo, "what the new version leaves out is cleared")
		require.Equal(t, []int64{60000, 9999}, inv.lineAmounts())
		require.Equal(t, []int64{12000, 0}, inv.lineTaxes())
		require.Equal(t, int64(81999), inv.TotalMinor)
		require.Equal(t, int64(81999), inv.AmountDueMinor)
		require.Equal(t, []string{"invoice.created", "invoice.updated"}, actions(f.auditOf(t, inv.ID)))
		out := f.outboxOf(t, inv.ID)
		require.Equal(t, "invoice.updated", lastOf(out).Type)
		require.Equal(t, inv.Version, lastOf(out).Version)

		t.Run("and the older one, arriving late, changes nothing", func(t *testing.T) {
			require.NoError(t, f.deliverERP(t, "a-1-late", f.erpDoc("NS-A", 1, nil)))
			require.NoError(t, f.deliverERP(t, "a-2-again", f.erpDoc("NS-A", 2, nil)))
			again, sourceVersion, _ := f.erpInvoice(t, "NS-A")
			require.Equal(t, inv, again)
			require.EqualValues(t, 2, sourceVersion)
		})
	})

	t.Run("versions in reverse order end in the newest", func(t *testing.T) {
		require.NoError(t, f.deliverERP(t, "b-2", f.erpDoc("NS-B", 2, v2)))
		require.NoError(t, f.deliverERP(t, "b-1", f.erpDoc("NS-B", 1, nil)))
		inv, sourceVersion, found := f.erpInvoice(t, "NS-B")
		require.True(t, found)
		require.EqualValues(t, 2, sourceVersion)
		require.Equal(t, 1, inv.Version, "created from version 2, never changed")
		require.Equal(t, int64(81999), inv.TotalMinor)
		require.Equal(t, []string{"invoice.created"}, actions(f.auditOf(t, inv.ID)))
	})

	t.Run("a version after the invoice was issued is recorded and ignored", func(t *testing.T) {
		require.NoError(t, f.deliverERP(t, "c-1", f.erpDoc("NS-C", 1, nil)))
		draft, _, _ := f.erpInvoice(t, "NS-C")
		issued := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+draft.ID+"/finalize", nil), http.StatusOK)

		require.NoError(t, f.deliverERP(t, "c-3", f.erpDoc("NS-C", 3, v2)))
		inv, sourceVersion, _ := f.erpInvoice(t, "NS-C")
		require.Equal(t, issued, inv)
		require.EqualValues(t, 1, sourceVersion)
		r := f.rejectionOf(t, "c-3")
		require.Equal(t, "invoice_not_draft", r.Code)
		require.Equal(t, draft.ID, *r.InvoiceID)
		require.EqualValues(t, 3, *r.Version)
	})

	t.Run("an open version replaces and issues the draft", func(t *testing.T) {
		require.NoError(t, f.deliverERP(t, "d-1", f.erpDoc("NS-D", 1, nil)))
		require.NoError(t, f.deliverERP(t, "d-2", f.erpDoc("NS-D", 2, func(inv map[string]any) {
			v2(inv)
			delete(inv, "due_date")
			inv["status"] = "open"
		})))
		inv, sourceVersion, _ := f.erpInvoice(t, "NS-D")
		require.EqualValues(t, 2, sourceVersion)
		require.Equal(t, "open", inv.Status)
		require.NotNil(t, inv.Number)
		require.Equal(t, "2026-11-19", inv.DueDate, "derived again from the terms for the new issue date")
		require.Equal(t, []string{"invoice.created", "invoice.updated", "invoice.finalized"}, actions(f.auditOf(t, inv.ID)))
	})
}

func TestInboundInvoicePoisonAndTransientMessages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Poison")
	other := newFixture(t, s, "Elsewhere")
	ctx := context.Background()

	t.Run("invalid: acknowledged and recorded with the reason", func(t *testing.T) {
		cases := []struct {
			id, code, detail string
			msg              any
		}{
			{"bad-currency", "validation_failed", "currency",
				f.erpDoc("NS-X1", 1, func(inv map[string]any) { inv["currency"] = "usd" })},
			{"no-lines", "validation_failed", "lines",
				f.erpDoc("NS-X2", 1, func(inv map[string]any) { inv["lines"] = []any{} })},
			{"unknown-counterparty", "validation_failed", "counterparty_id",
				f.erpDoc("NS-X3", 1, func(inv map[string]any) { inv["counterparty_id"] = uuid.NewString() })},
			{"another-tenants-counterparty", "validation_failed", "counterparty_id",
				f.erpDoc("NS-X4", 1, func(inv map[string]any) { inv["counterparty_id"] = other.customer })},
			{"vendor-on-receivable", "counterparty_kind_mismatch", "customer",
				f.erpDoc("NS-X5", 1, func(inv map[string]any) { inv["counterparty_id"] = f.vendor })},
			{"bad-source", "validation_failed", "source",
				func() map[string]any { m := f.erpDoc("NS-X6", 1, nil); m["source"] = "Net Suite"; return m }()},
			{"bad-version", "validation_failed", "version",
				f.erpDoc("NS-X7", 0, nil)},
			{"unknown-member", "malformed_message", "unknown field",
				func() map[string]any { m := f.erpDoc("NS-X8", 1, nil); m["priority"] = "high"; return m }()},
			{"wrong-type", "malformed_message", "version",
				[]byte(`{"tenant_id": "` + f.tenant.String() + `", "source": "netsuite", "external_id": "NS-X9", "version": "two"}`)},
		}
		for _, c := range cases {
			require.NoError(t, f.deliverERP(t, c.id, c.msg), c.id)
			require.NoError(t, f.deliverERP(t, c.id, c.msg), "%s: a redelivery records nothing more", c.id)
			r := f.rejectionOf(t, c.id)
			require.Equal(t, c.code, r.Code, c.id)
			require.Contains(t, r.Detail, c.detail, c.id)
		}
		require.Zero(t, f.countRows(t, `SELECT count(*) FROM invoices WHERE tenant_id = $1`, f.tenant))
		var source, externalID string
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT source, external_id FROM inbound_rejections
 WHERE tenant_id = $1 AND message_id = 'bad-currency'`, f.tenant).Scan(&source, &externalID))
		require.Equal(t, []string{"netsuite", "NS-X1"}, []string{source, externalID})
	})

	t.Run("an external_id of an invoice from elsewhere is not taken over", func(t *testing.T) {
		api := f.newInvoice(t, map[string]any{"external_id": "NS-API"})
		require.NoError(t, f.deliverERP(t, "takeover-1", f.erpDoc("NS-API", 1, nil)))
		require.NoError(t, f.deliverERP(t, "takeover-2", f.erpDoc("NS-A2", 1, nil)))
		m := f.erpDoc("NS-A2", 2, nil)
		m["source"] = "sap"
		require.NoError(t, f.deliverERP(t, "takeover-3", m))

		for _, id := range []string{"takeover-1", "takeover-3"} {
			r := f.rejectionOf(t, id)
			require.Equal(t, "invoice_external_id_exists", r.Code, id)
			require.NotNil(t, r.InvoiceID, id)
		}
		require.Equal(t, api, f.fetchInvoice(t, api.ID))
	})

	t.Run("no valid tenant: acknowledged, only logged", func(t *testing.T) {
		before := f.countRows(t, `SELECT count(*) FROM inbound_rejections`)
		for _, data := range []string{
			`{"tenant_id": "` + uuid.NewString() + `", "source": "netsuite", "external_id": "x", "version": 1}`,
			`{"tenant_id": "not-a-uuid"}`,
			`{"tenant_id": 42}`,
			`{"source": "netsuite"}`,
			`not json`,
		} {
			require.NoError(t, f.deliverERP(t, "", []byte(data)), data)
		}
		require.Equal(t, before, f.countRows(t, `SELECT count(*) FROM inbound_rejections`))
	})

	t.Run("transient failure: redelivered, then processed", func(t *testing.T) {
		fn, err := platform.EventProcessor("InboundInvoices", s.Deps)
		require.NoError(t, err)
		data, err := json.Marshal(f.erpDoc("NS-LATE", 1, nil))
		require.NoError(t, err)
		e, err := platform.PubSubEvent("ledgerline-test", "ledgerline-inbound-invoices", platform.Message{ID: "late-1", Data: data})
		require.NoError(t, err)
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		require.Error(t, fn(canceled, e), "the database was unreachable: nack")
		_, _, found := f.erpInvoice(t, "NS-LATE")
		require.False(t, found)
		require.Zero(t, f.countRows(t, `SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND message_id = 'late-1'`, f.tenant))

		require.NoError(t, fn(ctx, e), "the redelivery succeeds")
		_, _, found = f.erpInvoice(t, "NS-LATE")
		require.True(t, found)
	})
}
