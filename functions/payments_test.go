package functions_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
)

type allocation struct {
	ID             string  `json:"id"`
	InvoiceID      string  `json:"invoice_id"`
	AmountMinor    int64   `json:"amount_minor"`
	EffectiveDate  string  `json:"effective_date"`
	Status         string  `json:"status"`
	ReversalReason *string `json:"reversal_reason"`
}

type payment struct {
	ID                     string       `json:"id"`
	Direction              string       `json:"direction"`
	Status                 string       `json:"status"`
	AmountMinor            int64        `json:"amount_minor"`
	AmountAllocatedMinor   int64        `json:"amount_allocated_minor"`
	AmountUnallocatedMinor int64        `json:"amount_unallocated_minor"`
	Version                int          `json:"version"`
	Allocations            []allocation `json:"allocations"`
}

func (f fixture) openInvoice(t *testing.T, extra map[string]any) invoice {
	t.Helper()
	body := f.invoiceBody(map[string]any{"status": "open"})
	for k, v := range extra {
		body[k] = v
	}
	resp, inv := f.create(t, body)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	return inv
}

func (f fixture) getInvoice(t *testing.T, id string) invoice {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + id, Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var inv invoice
	resp.JSON(t, &inv)
	return inv
}

func (f fixture) pay(t *testing.T, body map[string]any) (apitest.Response, payment) {
	t.Helper()
	b := map[string]any{"direction": "incoming", "counterparty_id": f.customer, "amount_minor": 45000,
		"currency": "USD", "value_date": "2026-11-10"}
	for k, v := range body {
		b[k] = v
	}
	resp := f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/payments", Token: f.token, Body: b})
	var p payment
	if resp.Status == http.StatusCreated {
		resp.JSON(t, &p)
	}
	return resp, p
}

func (f fixture) post(t *testing.T, path string, body any) (apitest.Response, payment) {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "POST", Path: path, Token: f.token, Body: body})
	var p payment
	if resp.Status < 300 {
		resp.JSON(t, &p)
	}
	return resp, p
}

func alloc(invoiceID string, amount int64) map[string]any {
	return map[string]any{"invoice_id": invoiceID, "amount_minor": amount}
}

func TestPaymentsSettleInvoices(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Payer")
	a := f.openInvoice(t, nil) // 45000
	b := f.openInvoice(t, nil) // 45000

	// One payment covers one invoice in full and part of another.
	resp, p := f.pay(t, map[string]any{"amount_minor": 60000, "method": "bank_transfer", "reference": "INV-000001 INV-000002",
		"allocations": []any{alloc(a.ID, 45000), alloc(b.ID, 10000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Equal(t, `"`+itoa(p.Version)+`"`, resp.Header.Get("ETag"))
	require.Equal(t, int64(55000), p.AmountAllocatedMinor)
	require.Equal(t, int64(5000), p.AmountUnallocatedMinor)
	require.Len(t, p.Allocations, 2)
	require.Equal(t, "2026-11-10", p.Allocations[0].EffectiveDate, "defaults to the value date")

	ga, gb := f.getInvoice(t, a.ID), f.getInvoice(t, b.ID)
	require.Equal(t, "paid", ga.Status)
	require.Zero(t, ga.AmountDueMinor)
	require.Equal(t, int64(45000), ga.AmountPaidMinor)
	require.Greater(t, ga.Version, a.Version)
	require.Equal(t, "open", gb.Status)
	require.Equal(t, int64(35000), gb.AmountDueMinor)

	// A second payment finishes invoice b; the remainder stays on the payment.
	resp, q := f.pay(t, map[string]any{"amount_minor": 40000})
	require.Equal(t, http.StatusCreated, resp.Status)
	resp, q = f.post(t, "/v1/payments/"+q.ID+"/allocations", map[string]any{"allocations": []any{
		map[string]any{"invoice_id": b.ID, "amount_minor": 35000, "effective_date": "2026-11-20"}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Equal(t, int64(5000), q.AmountUnallocatedMinor)
	require.Equal(t, "2026-11-20", q.Allocations[0].EffectiveDate)
	require.Equal(t, "paid", f.getInvoice(t, b.ID).Status)

	// Reversing an allocation re-opens the invoice and frees the payment.
	resp, p = f.post(t, "/v1/payments/"+p.ID+"/allocations/"+p.Allocations[0].ID+"/reverse", map[string]any{"reason": "wrong invoice"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, int64(10000), p.AmountAllocatedMinor)
	require.Equal(t, "reversed", p.Allocations[0].Status)
	require.Equal(t, "wrong invoice", *p.Allocations[0].ReversalReason)
	ga = f.getInvoice(t, a.ID)
	require.Equal(t, "open", ga.Status)
	require.Equal(t, int64(45000), ga.AmountDueMinor)
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/allocations/"+p.Allocations[0].ID+"/reverse", map[string]any{"reason": "again"})
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "allocation_reversed", resp.Problem(t).Code)

	// Reversing the payment takes back everything it still paid.
	resp, p = f.post(t, "/v1/payments/"+p.ID+"/reverse", map[string]any{"reason": "bounced"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, "reversed", p.Status)
	require.Zero(t, p.AmountAllocatedMinor)
	for _, al := range p.Allocations {
		require.Equal(t, "reversed", al.Status)
	}
	gb = f.getInvoice(t, b.ID)
	require.Equal(t, "open", gb.Status, "b lost the 10000 of the reversed payment")
	require.Equal(t, int64(10000), gb.AmountDueMinor)
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/reverse", map[string]any{"reason": "twice"})
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "payment_reversed", resp.Problem(t).Code)
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/allocations", map[string]any{"allocations": []any{alloc(b.ID, 1)}})
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "payment_reversed", resp.Problem(t).Code)

	got := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments/" + p.ID, Token: f.token})
	require.Equal(t, http.StatusOK, got.Status)
	var l struct{ Data []payment }
	s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments?status=reversed", Token: f.token}).JSON(t, &l)
	require.Len(t, l.Data, 1)
	s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments?direction=incoming&currency=USD&counterparty_id=" + f.customer, Token: f.token}).JSON(t, &l)
	require.Len(t, l.Data, 2)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestPaymentRefusals(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Refusals")
	inv := f.openInvoice(t, nil)
	eur := f.openInvoice(t, map[string]any{"currency": "EUR"})
	_, draft := f.create(t, f.invoiceBody(nil))
	bill := f.openInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor})
	other := newFixture(t, s, "Elsewhere")
	foreign := other.openInvoice(t, nil)

	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"currency mismatch", map[string]any{"allocations": []any{alloc(eur.ID, 100)}}, 422, "currency_mismatch"},
		{"direction mismatch", map[string]any{"allocations": []any{alloc(bill.ID, 100)}}, 422, "direction_mismatch"},
		{"draft invoice", map[string]any{"allocations": []any{alloc(draft.ID, 100)}}, 409, "invoice_not_open"},
		{"more than due", map[string]any{"amount_minor": 50000, "allocations": []any{alloc(inv.ID, 45001)}}, 422, "allocation_exceeds_amount_due"},
		{"more than due in two lines", map[string]any{"amount_minor": 50000, "allocations": []any{alloc(inv.ID, 30000), alloc(inv.ID, 15001)}}, 422, "allocation_exceeds_amount_due"},
		{"more than the payment", map[string]any{"amount_minor": 100, "allocations": []any{alloc(inv.ID, 101)}}, 422, "allocation_exceeds_unallocated"},
		{"another tenant's invoice", map[string]any{"allocations": []any{alloc(foreign.ID, 100)}}, 422, "validation_failed"},
		{"vendor pays in", map[string]any{"counterparty_id": f.vendor}, 422, "counterparty_kind_mismatch"},
		{"zero amount", map[string]any{"amount_minor": 0}, 422, "validation_failed"},
		{"bad method", map[string]any{"method": "barter"}, 422, "validation_failed"},
		{"bad currency", map[string]any{"currency": "usd"}, 422, "validation_failed"},
		{"unknown counterparty", map[string]any{"counterparty_id": uuid.NewString()}, 422, "validation_failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := f.pay(t, tc.body)
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			require.Equal(t, tc.code, resp.Problem(t).Code)
		})
	}
	var n int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT count(*) FROM payments`).Scan(&n))
	require.Zero(t, n, "refused payments left nothing behind")
	require.Equal(t, int64(45000), f.getInvoice(t, inv.ID).AmountDueMinor)

	resp, p := f.pay(t, map[string]any{"external_id": "bank-1"})
	require.Equal(t, http.StatusCreated, resp.Status)
	resp, _ = f.pay(t, map[string]any{"external_id": "bank-1"})
	require.Equal(t, http.StatusConflict, resp.Status)
	require.Equal(t, "payment_external_id_exists", resp.Problem(t).Code)

	for _, path := range []string{"/v1/payments/" + uuid.NewString(), "/v1/payments/nope"} {
		resp = s.Do(t, apitest.Request{Method: "GET", Path: path, Token: f.token})
		require.Equal(t, http.StatusNotFound, resp.Status)
		require.Equal(t, "payment_not_found", resp.Problem(t).Code)
	}
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments/" + p.ID, Token: other.token})
	require.Equal(t, http.StatusNotFound, resp.Status, "another tenant's payment")
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/allocations/"+uuid.NewString()+"/reverse", map[string]any{"reason": "x"})
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.Equal(t, "allocation_not_found", resp.Problem(t).Code)
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/reverse", map[string]any{"reason": ""})
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/allocations", map[string]any{"allocations": []any{}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
}

func TestPaymentsWriteAuditAndEvents(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Traced")
	inv := f.openInvoice(t, nil)
	resp, p := f.pay(t, map[string]any{"allocations": []any{alloc(inv.ID, 45000)}})
	require.Equal(t, http.StatusCreated, resp.Status)

	ctx := context.Background()
	rows, err := s.DB.Admin.Query(ctx, `SELECT event_type, entity_version FROM outbox_events
 WHERE tenant_id = $1 AND entity_id = ANY($2) ORDER BY created_at, event_type`, f.tenant, []string{p.ID, inv.ID, p.Allocations[0].ID})
	require.NoError(t, err)
	got := map[string]int{}
	for rows.Next() {
		var typ string
		var v int
		require.NoError(t, rows.Scan(&typ, &v))
		got[typ] = v
	}
	require.NoError(t, rows.Err())
	inv2 := f.getInvoice(t, inv.ID)
	require.Equal(t, map[string]int{"invoice.created": 1, "payment.created": p.Version, "allocation.created": 1, "invoice.paid": inv2.Version}, got)

	var actions []string
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT array_agg(action ORDER BY seq) FROM audit_events
 WHERE tenant_id = $1 AND entity_id = ANY($2)`, f.tenant, []string{p.ID, inv.ID, p.Allocations[0].ID}).Scan(&actions))
	require.Equal(t, []string{"invoice.created", "payment.created", "allocation.created", "invoice.paid"}, actions)
}
