package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// invoiceDoc is the whole invoice object, lifecycle members included.
type invoiceDoc struct {
	ID                  string  `json:"id"`
	Direction           string  `json:"direction"`
	Status              string  `json:"status"`
	Number              *string `json:"number"`
	CounterpartyID      string  `json:"counterparty_id"`
	Currency            string  `json:"currency"`
	IssueDate           string  `json:"issue_date"`
	DueDate             string  `json:"due_date"`
	Memo                *string `json:"memo"`
	ExternalID          *string `json:"external_id"`
	SubtotalMinor       int64   `json:"subtotal_minor"`
	TaxMinor            int64   `json:"tax_minor"`
	TotalMinor          int64   `json:"total_minor"`
	AmountPaidMinor     int64   `json:"amount_paid_minor"`
	AmountCreditedMinor int64   `json:"amount_credited_minor"`
	AmountDueMinor      int64   `json:"amount_due_minor"`
	TaxRounding         string  `json:"tax_rounding"`
	Version             int     `json:"version"`
	FinalizedAt         *string `json:"finalized_at"`
	VoidedAt            *string `json:"voided_at"`
	UncollectibleAt     *string `json:"uncollectible_at"`
	Lines               []struct {
		ID              string  `json:"id"`
		Quantity        string  `json:"quantity"`
		UnitAmountMinor *int64  `json:"unit_amount_minor"`
		UnitPrice       *string `json:"unit_price"`
		TaxRate         *string `json:"tax_rate"`
		AmountMinor     int64   `json:"amount_minor"`
		TaxMinor        int64   `json:"tax_minor"`
		TotalMinor      int64   `json:"total_minor"`
	} `json:"lines"`
}

func (d invoiceDoc) lineAmounts() []int64 {
	out := make([]int64, len(d.Lines))
	for i, l := range d.Lines {
		out[i] = l.AmountMinor
	}
	return out
}

func (d invoiceDoc) lineTaxes() []int64 {
	out := make([]int64, len(d.Lines))
	for i, l := range d.Lines {
		out[i] = l.TaxMinor
	}
	return out
}

// call sends one request as the fixture's admin; headers are name, value pairs.
func (f fixture) call(t *testing.T, method, path string, body any, headers ...string) apitest.Response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	return f.s.Do(t, apitest.Request{Method: method, Path: path, Token: f.token, Body: body, Header: h})
}

// writeOff marks an invoice uncollectible as the tenant's controller, not its creator.
func (f fixture) writeOff(t *testing.T, id string, body any) apitest.Response {
	t.Helper()
	return f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + id + "/mark-uncollectible", Token: f.controller, Body: body})
}

func decodeInvoice(t *testing.T, resp apitest.Response, status int) invoiceDoc {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	var d invoiceDoc
	resp.JSON(t, &d)
	require.Equal(t, fmt.Sprintf(`"%d"`, d.Version), resp.Header.Get("ETag"), "the ETag is the version")
	return d
}

func (f fixture) newInvoice(t *testing.T, extra map[string]any) invoiceDoc {
	t.Helper()
	return decodeInvoice(t, f.call(t, "POST", "/v1/invoices", f.invoiceBody(extra)), http.StatusCreated)
}

func (f fixture) fetchInvoice(t *testing.T, id string) invoiceDoc {
	t.Helper()
	return decodeInvoice(t, f.call(t, "GET", "/v1/invoices/"+id, nil), http.StatusOK)
}

func wantProblem(t *testing.T, resp apitest.Response, status int, code string) apitest.Problem {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	p := resp.Problem(t)
	require.Equal(t, code, p.Code, string(resp.Body))
	return p
}

func etag(version int) string { return fmt.Sprintf(`"%d"`, version) }

type auditRow struct {
	Action     string
	EntityType string
	Before     json.RawMessage
	After      json.RawMessage
}

// auditOf is the audit trail of one entity, oldest first.
func (f fixture) auditOf(t *testing.T, entityID string) []auditRow {
	t.Helper()
	rows, err := f.s.DB.Admin.Query(context.Background(), `
SELECT action, entity_type, before, after FROM audit_events WHERE tenant_id = $1 AND entity_id = $2 ORDER BY seq`,
		f.tenant, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		require.NoError(t, rows.Scan(&r.Action, &r.EntityType, &r.Before, &r.After))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

type outboxRow struct {
	Type       string
	EntityType string
	Version    int
	Payload    json.RawMessage
}

// outboxOf is the outbox of one entity, oldest first.
func (f fixture) outboxOf(t *testing.T, entityID string) []outboxRow {
	t.Helper()
	rows, err := f.s.DB.Admin.Query(context.Background(), `
SELECT event_type, entity_type, entity_version, payload FROM outbox_events
 WHERE tenant_id = $1 AND entity_id = $2 ORDER BY created_at, id`, f.tenant, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		require.NoError(t, rows.Scan(&r.Type, &r.EntityType, &r.Version, &r.Payload))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func lastOf[T any](xs []T) T { return xs[len(xs)-1] }

func TestInvoiceUpdate(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Patcher")
	inv := f.newInvoice(t, nil)
	require.Equal(t, 1, inv.Version)
	require.Equal(t, etag(1), f.call(t, "GET", "/v1/invoices/"+inv.ID, nil).Header.Get("ETag"))
	path := "/v1/invoices/" + inv.ID

	t.Run("If-Match is required and must be current", func(t *testing.T) {
		wantProblem(t, f.call(t, "PATCH", path, map[string]any{"memo": "x"}), http.StatusPreconditionRequired, "precondition_required")
		wantProblem(t, f.call(t, "PATCH", path, map[string]any{"memo": "x"}, "If-Match", etag(7)), http.StatusPreconditionFailed, "version_conflict")
		wantProblem(t, f.call(t, "PATCH", path, map[string]any{"memo": "x"}, "If-Match", "abc"), http.StatusPreconditionFailed, "version_conflict")
		require.Equal(t, 1, f.fetchInvoice(t, inv.ID).Version, "refused patches change nothing")
	})

	t.Run("members and lines are patched and totals recomputed", func(t *testing.T) {
		resp := f.call(t, "PATCH", path, map[string]any{
			"memo": "revised", "due_date": "2026-12-01",
			"lines": []map[string]any{
				{"description": "Design", "quantity": "2", "unit_amount_minor": 10000, "tax_rate": "20"},
				{"description": "Hosting", "quantity": "1000", "unit_price": "0.0125"},
			},
		}, "If-Match", etag(1))
		got := decodeInvoice(t, resp, http.StatusOK)
		require.Equal(t, 2, got.Version)
		require.Equal(t, "revised", *got.Memo)
		require.Equal(t, "2026-12-01", got.DueDate)
		require.Equal(t, "2026-11-01", got.IssueDate, "absent members keep their value")
		require.Equal(t, []int64{20000, 1250}, got.lineAmounts())
		require.Equal(t, int64(21250), got.SubtotalMinor)
		require.Equal(t, int64(4000), got.TaxMinor)
		require.Equal(t, int64(25250), got.TotalMinor)
		require.Equal(t, got.TotalMinor, got.AmountDueMinor)
		require.JSONEq(t, string(resp.Body), string(f.call(t, "GET", path, nil).Body), "a read returns what the patch returned")

		wantProblem(t, f.call(t, "PATCH", path, map[string]any{"memo": "late"}, "If-Match", etag(1)), http.StatusPreconditionFailed, "version_conflict")
	})

	t.Run("merge patch content type, null clears, line ids kept", func(t *testing.T) {
		before := f.fetchInvoice(t, inv.ID)
		resp := f.call(t, "PATCH", path, `{"memo":null,"external_id":"erp-7"}`, "If-Match", etag(before.Version),
			"Content-Type", "application/merge-patch+json")
		got := decodeInvoice(t, resp, http.StatusOK)
		require.Nil(t, got.Memo)
		require.Equal(t, "erp-7", *got.ExternalID)
		require.Equal(t, before.Version+1, got.Version)
		require.Equal(t, before.Lines[0].ID, got.Lines[0].ID)
	})

	t.Run("a new currency reprices unit_price lines", func(t *testing.T) {
		cur := f.fetchInvoice(t, inv.ID)
		got := decodeInvoice(t, f.call(t, "PATCH", path, map[string]any{"currency": "KWD"}, "If-Match", etag(cur.Version)), http.StatusOK)
		require.Equal(t, "KWD", got.Currency)
		require.Equal(t, []int64{20000, 12500}, got.lineAmounts(), "1000 × 0.0125 KWD = 12.500 dinar in fils")
	})

	t.Run("refusals", func(t *testing.T) {
		v := etag(f.fetchInvoice(t, inv.ID).Version)
		other := f.newInvoice(t, map[string]any{"external_id": "taken"})
		cases := []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"null currency", `{"currency":null}`, 422, "validation_failed", "currency"},
			{"null lines", `{"lines":null}`, 422, "validation_failed", "lines"},
			{"due before issue", map[string]any{"due_date": "2026-10-01"}, 422, "validation_failed", "due_date"},
			{"both prices", map[string]any{"lines": []map[string]any{{"description": "x", "quantity": "1", "unit_amount_minor": 1, "unit_price": "1"}}}, 422, "validation_failed", "lines[0].unit_amount_minor"},
			{"no price", map[string]any{"lines": []map[string]any{{"description": "x", "quantity": "1"}}}, 422, "validation_failed", "lines[0].unit_amount_minor"},
			{"unknown counterparty", map[string]any{"counterparty_id": uuid.NewString()}, 422, "validation_failed", "counterparty_id"},
			{"vendor on a receivable", map[string]any{"counterparty_id": f.vendor}, 422, "counterparty_kind_mismatch", ""},
			{"unknown member", map[string]any{"status": "open"}, 400, "unknown_field", "status"},
			{"duplicate external id", map[string]any{"external_id": "taken"}, 409, "invoice_external_id_exists", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := wantProblem(t, f.call(t, "PATCH", path, tc.body, "If-Match", v), tc.status, tc.code)
				if tc.field != "" {
					require.Contains(t, p.Errors, tc.field, "problem names the field: %v", p.Errors)
				}
			})
		}
		require.Equal(t, v, etag(f.fetchInvoice(t, inv.ID).Version), "refused patches change nothing")
		require.Equal(t, "taken", *f.fetchInvoice(t, other.ID).ExternalID)
	})

	t.Run("only drafts", func(t *testing.T) {
		open := f.newInvoice(t, map[string]any{"status": "open"})
		wantProblem(t, f.call(t, "PATCH", "/v1/invoices/"+open.ID, map[string]any{"memo": "x"}, "If-Match", etag(open.Version)),
			http.StatusConflict, "invoice_not_draft")
	})

	t.Run("unknown invoice", func(t *testing.T) {
		wantProblem(t, f.call(t, "PATCH", "/v1/invoices/"+uuid.NewString(), map[string]any{"memo": "x"}, "If-Match", etag(1)),
			http.StatusNotFound, "invoice_not_found")
		wantProblem(t, f.call(t, "PATCH", "/v1/invoices/not-an-id", map[string]any{"memo": "x"}, "If-Match", etag(1)),
			http.StatusNotFound, "invoice_not_found")
	})

	t.Run("each change is audited and published with its version", func(t *testing.T) {
		final := f.fetchInvoice(t, inv.ID)
		trail := f.auditOf(t, inv.ID)
		require.Len(t, trail, final.Version, "created plus one per patch")
		require.Equal(t, "invoice.created", trail[0].Action)
		var before, after invoiceDoc
		for i, r := range trail[1:] {
			require.Equal(t, "invoice.updated", r.Action)
			require.NoError(t, json.Unmarshal(r.Before, &before))
			require.NoError(t, json.Unmarshal(r.After, &after))
			require.Equal(t, i+1, before.Version)
			require.Equal(t, i+2, after.Version)
		}
		out := f.outboxOf(t, inv.ID)
		require.Len(t, out, final.Version)
		for i, e := range out {
			require.Equal(t, i+1, e.Version)
		}
		require.Equal(t, "invoice.updated", lastOf(out).Type)
	})
}

func TestInvoiceDelete(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Deleter")
	ctx := context.Background()

	inv := f.newInvoice(t, nil)
	path := "/v1/invoices/" + inv.ID
	wantProblem(t, f.call(t, "DELETE", path, nil, "If-Match", etag(2)), http.StatusPreconditionFailed, "version_conflict")
	resp := f.call(t, "DELETE", path, nil, "If-Match", etag(1))
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
	require.Empty(t, resp.Body)
	wantProblem(t, f.call(t, "GET", path, nil), http.StatusNotFound, "invoice_not_found")
	wantProblem(t, f.call(t, "DELETE", path, nil), http.StatusNotFound, "invoice_not_found")
	var lines int
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT count(*) FROM invoice_lines WHERE invoice_id = $1`, inv.ID).Scan(&lines))
	require.Zero(t, lines)

	trail := f.auditOf(t, inv.ID)
	require.Equal(t, "invoice.deleted", lastOf(trail).Action)
	require.NotEmpty(t, lastOf(trail).Before)
	require.Nil(t, lastOf(trail).After)
	out := f.outboxOf(t, inv.ID)
	require.Equal(t, "invoice.deleted", lastOf(out).Type)
	require.Equal(t, 2, lastOf(out).Version, "the version after the last one")

	// Without If-Match the current version goes.
	other := f.newInvoice(t, nil)
	require.Equal(t, http.StatusNoContent, f.call(t, "DELETE", "/v1/invoices/"+other.ID, nil).Status)

	open := f.newInvoice(t, map[string]any{"status": "open"})
	wantProblem(t, f.call(t, "DELETE", "/v1/invoices/"+open.ID, nil), http.StatusConflict, "invoice_not_draft")
	require.Equal(t, "open", f.fetchInvoice(t, open.ID).Status)
}

func TestInvoiceFinalize(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Finalizer")

	a, b := f.newInvoice(t, nil), f.newInvoice(t, nil)
	ga := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+a.ID+"/finalize", nil), http.StatusOK)
	require.Equal(t, "open", ga.Status)
	require.Equal(t, "INV-000001", *ga.Number)
	require.NotNil(t, ga.FinalizedAt)
	require.Equal(t, 2, ga.Version)
	require.Equal(t, a.TotalMinor, ga.AmountDueMinor)

	wantProblem(t, f.call(t, "POST", "/v1/invoices/"+a.ID+"/finalize", nil), http.StatusConflict, "invoice_not_draft")
	wantProblem(t, f.call(t, "POST", "/v1/invoices/"+b.ID+"/finalize", map[string]any{"now": true}), http.StatusBadRequest, "unknown_field")

	// A refused finalization took no number: the next one is gapless.
	gb := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+b.ID+"/finalize", map[string]any{}), http.StatusOK)
	require.Equal(t, "INV-000002", *gb.Number)
	created := f.newInvoice(t, map[string]any{"status": "open"})
	require.Equal(t, "INV-000003", *created.Number, "finalize and create share the counter")

	bill := f.newInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor})
	gbill := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+bill.ID+"/finalize", nil), http.StatusOK)
	require.Equal(t, "BILL-000001", *gbill.Number)

	t.Run("a zero total is paid at once", func(t *testing.T) {
		zero := f.newInvoice(t, map[string]any{"lines": []map[string]any{{"description": "Free", "quantity": "1", "unit_amount_minor": 0}}})
		got := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+zero.ID+"/finalize", nil), http.StatusOK)
		require.Equal(t, "paid", got.Status)
		require.Equal(t, "INV-000004", *got.Number)
		require.Zero(t, got.AmountDueMinor)
	})

	t.Run("replayed with an idempotency key", func(t *testing.T) {
		c := f.newInvoice(t, nil)
		first := f.call(t, "POST", "/v1/invoices/"+c.ID+"/finalize", nil, "Idempotency-Key", "fin-1")
		again := f.call(t, "POST", "/v1/invoices/"+c.ID+"/finalize", nil, "Idempotency-Key", "fin-1")
		require.Equal(t, http.StatusOK, again.Status, string(again.Body))
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(again.Body))
		require.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
	})

	require.Equal(t, []string{"invoice.created", "invoice.finalized"}, actions(f.auditOf(t, a.ID)))
	out := f.outboxOf(t, a.ID)
	require.Equal(t, "invoice.finalized", lastOf(out).Type)
	require.Equal(t, 2, lastOf(out).Version)
	wantProblem(t, f.call(t, "POST", "/v1/invoices/"+uuid.NewString()+"/finalize", nil), http.StatusNotFound, "invoice_not_found")
}

func actions(rows []auditRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Action
	}
	return out
}

func TestInvoiceVoidAndUncollectible(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Voider")
	post := func(id, op string, body any) apitest.Response {
		if op == "mark-uncollectible" {
			return f.writeOff(t, id, body)
		}
		return f.call(t, "POST", "/v1/invoices/"+id+"/"+op, body)
	}

	t.Run("void an open invoice with a reason", func(t *testing.T) {
		inv := f.newInvoice(t, map[string]any{"status": "open"})
		got := decodeInvoice(t, post(inv.ID, "void", map[string]any{"reason": "issued twice"}), http.StatusOK)
		require.Equal(t, "void", got.Status)
		require.NotNil(t, got.VoidedAt)
		require.Equal(t, inv.Number, got.Number, "a void invoice keeps its number")
		require.Equal(t, inv.Version+1, got.Version)
		wantProblem(t, post(inv.ID, "void", nil), http.StatusConflict, "invoice_not_open")
		wantProblem(t, post(inv.ID, "mark-uncollectible", nil), http.StatusConflict, "invoice_not_open")

		var reason string
		require.NoError(t, json.Unmarshal(lastOf(f.auditOf(t, inv.ID)).After, &struct {
			Reason *string `json:"reason"`
		}{&reason}))
		require.Equal(t, "issued twice", reason)
		out := lastOf(f.outboxOf(t, inv.ID))
		require.Equal(t, "invoice.voided", out.Type)
		require.Equal(t, got.Version, out.Version)
		var payload struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		}
		require.NoError(t, json.Unmarshal(out.Payload, &payload))
		require.Equal(t, "void", payload.Status)
		require.Equal(t, "issued twice", payload.Reason)
	})

	t.Run("write off, then void", func(t *testing.T) {
		inv := f.newInvoice(t, map[string]any{"status": "open"})
		got := decodeInvoice(t, post(inv.ID, "mark-uncollectible", nil), http.StatusOK)
		require.Equal(t, "uncollectible", got.Status)
		require.NotNil(t, got.UncollectibleAt)
		require.Equal(t, inv.AmountDueMinor, got.AmountDueMinor)
		wantProblem(t, post(inv.ID, "mark-uncollectible", nil), http.StatusConflict, "invoice_not_open")
		require.Equal(t, "invoice.marked_uncollectible", lastOf(f.outboxOf(t, inv.ID)).Type)

		got = decodeInvoice(t, post(inv.ID, "void", nil), http.StatusOK)
		require.Equal(t, "void", got.Status)
		require.NotNil(t, got.UncollectibleAt, "the write-off stays on record")
		require.Equal(t, inv.Version+2, got.Version)
		require.Equal(t, []string{"invoice.created", "invoice.marked_uncollectible", "invoice.voided"}, actions(f.auditOf(t, inv.ID)))
	})

	t.Run("separation of duties: no write-off by whoever raised the invoice", func(t *testing.T) {
		inv := f.newInvoice(t, map[string]any{"status": "open"})
		p := wantProblem(t, f.call(t, "POST", "/v1/invoices/"+inv.ID+"/mark-uncollectible", nil), http.StatusForbidden,
			"sod_write_off_own_invoice")
		require.Contains(t, p.Detail, "separation of duties")
		require.Equal(t, "open", f.fetchInvoice(t, inv.ID).Status)
		require.Equal(t, []string{"invoice.created"}, actions(f.auditOf(t, inv.ID)), "a refusal writes nothing")

		// A clerk drafts, the controller finalizes: neither may write it off; the
		// tenant's other admin, who touched nothing, may.
		clerk := s.TokenAs(t, f.tenant, "clerk-"+f.tenant.String()[:8], auth.RoleAccountant)
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: clerk, Body: f.invoiceBody(nil)})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		var draft invoiceDoc
		resp.JSON(t, &draft)
		decodeInvoice(t, f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + draft.ID + "/finalize", Token: f.controller}),
			http.StatusOK)
		wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + draft.ID + "/mark-uncollectible", Token: clerk}),
			http.StatusForbidden, "sod_write_off_own_invoice")
		wantProblem(t, f.writeOff(t, draft.ID, nil), http.StatusForbidden, "sod_write_off_own_invoice")
		got := decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+draft.ID+"/mark-uncollectible", nil), http.StatusOK)
		require.Equal(t, "uncollectible", got.Status)
	})

	t.Run("drafts and paid invoices are refused", func(t *testing.T) {
		draft := f.newInvoice(t, nil)
		wantProblem(t, post(draft.ID, "void", nil), http.StatusConflict, "invoice_not_open")
		wantProblem(t, post(draft.ID, "mark-uncollectible", nil), http.StatusConflict, "invoice_not_open")
		paid := f.newInvoice(t, map[string]any{"status": "open", "lines": []map[string]any{{"description": "Free", "quantity": "1", "unit_amount_minor": 0}}})
		require.Equal(t, "paid", paid.Status)
		wantProblem(t, post(paid.ID, "void", nil), http.StatusConflict, "invoice_not_open")
		wantProblem(t, post(paid.ID, "mark-uncollectible", nil), http.StatusConflict, "invoice_not_open")
	})

	t.Run("payments must be reversed first", func(t *testing.T) {
		inv := f.newInvoice(t, map[string]any{"status": "open"})
		resp := f.call(t, "POST", "/v1/payments", map[string]any{
			"direction": "incoming", "counterparty_id": f.customer, "amount_minor": 1000, "currency": "USD",
			"value_date": "2026-11-10", "allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 1000}}})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		wantProblem(t, post(inv.ID, "void", nil), http.StatusConflict, "invoice_has_allocations")
		var p struct{ ID string }
		resp.JSON(t, &p)
		resp = f.call(t, "POST", "/v1/payments/"+p.ID+"/reverse", map[string]any{"reason": "misapplied"})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "void", decodeInvoice(t, post(inv.ID, "void", nil), http.StatusOK).Status)
	})

	t.Run("a reason is 1 to 500 characters", func(t *testing.T) {
		inv := f.newInvoice(t, map[string]any{"status": "open"})
		p := wantProblem(t, post(inv.ID, "void", map[string]any{"reason": strings.Repeat("x", 501)}), http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "reason")
		p = wantProblem(t, post(inv.ID, "mark-uncollectible", map[string]any{"reason": ""}), http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "reason")
		require.Equal(t, "open", f.fetchInvoice(t, inv.ID).Status)
	})

	wantProblem(t, post(uuid.NewString(), "void", nil), http.StatusNotFound, "invoice_not_found")
	wantProblem(t, post(uuid.NewString(), "mark-uncollectible", nil), http.StatusNotFound, "invoice_not_found")
}

func TestInvoiceListFiltersAndDueDateSort(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Sorter")
	mk := func(extra map[string]any) invoiceDoc { return f.newInvoice(t, extra) }
	// "Today" is the real date: 2020 is long past, 2099 far ahead.
	pastOpen := mk(map[string]any{"status": "open", "issue_date": "2020-01-01", "due_date": "2020-02-01"})
	pastDraft := mk(map[string]any{"issue_date": "2020-01-01", "due_date": "2020-02-10"})
	futureOpen := mk(map[string]any{"status": "open", "issue_date": "2099-01-01", "due_date": "2099-02-01"})
	eur := mk(map[string]any{"currency": "EUR", "issue_date": "2030-05-01", "due_date": "2030-06-01"})
	paid := mk(map[string]any{"status": "open", "issue_date": "2020-03-01", "due_date": "2020-03-05",
		"lines": []map[string]any{{"description": "Free", "quantity": "1", "unit_amount_minor": 0}}})
	written := mk(map[string]any{"status": "open", "issue_date": "2020-04-01", "due_date": "2020-04-30"})
	decodeInvoice(t, f.writeOff(t, written.ID, nil), http.StatusOK)

	list := func(query string) invoiceList {
		t.Helper()
		resp := f.call(t, "GET", "/v1/invoices"+query, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var l invoiceList
		resp.JSON(t, &l)
		return l
	}
	ids := func(l invoiceList) []string {
		out := []string{}
		for _, i := range l.Data {
			out = append(out, i.ID)
		}
		return out
	}

	require.Equal(t, []string{eur.ID}, ids(list("?currency=EUR")))
	require.Equal(t, []string{written.ID, pastOpen.ID}, ids(list("?overdue=true")), "open or uncollectible, owing, past due")
	require.ElementsMatch(t, []string{pastDraft.ID, futureOpen.ID, eur.ID, paid.ID}, ids(list("?overdue=false")))
	require.Equal(t, []string{paid.ID, pastDraft.ID, pastOpen.ID}, ids(list("?due_before=2020-03-05")), "inclusive")
	require.Equal(t, []string{pastDraft.ID}, ids(list("?due_after=2020-02-10&due_before=2020-02-10")))
	require.Equal(t, []string{eur.ID, futureOpen.ID}, ids(list("?issued_from=2030-05-01")))
	require.Equal(t, []string{eur.ID}, ids(list("?issued_from=2030-05-01&issued_to=2030-05-01")))
	require.Equal(t, []string{written.ID}, ids(list("?overdue=true&status=uncollectible&currency=USD")))

	t.Run("due date order pages stably while invoices are added", func(t *testing.T) {
		want := []string{pastOpen.ID, pastDraft.ID, paid.ID, written.ID, eur.ID, futureOpen.ID}
		require.Equal(t, want, ids(list("?sort=due_date")))

		p1 := list("?sort=due_date&limit=2")
		require.Equal(t, want[:2], ids(p1))
		require.True(t, p1.HasMore)
		// One due before the cursor (never shows up later) and one due after it (shows
		// up in its place); neither shifts or repeats what follows.
		mk(map[string]any{"issue_date": "2019-01-01", "due_date": "2019-01-01"})
		later := mk(map[string]any{"issue_date": "2030-05-01", "due_date": "2030-06-01"})
		p2 := list("?sort=due_date&limit=2&starting_after=" + p1.Data[1].ID)
		require.Equal(t, want[2:4], ids(p2))
		p3 := list("?sort=due_date&limit=2&starting_after=" + p2.Data[1].ID)
		sameDay := []string{eur.ID, later.ID} // equal due dates are ordered by id
		require.Equal(t, sameDay, ids(p3))
		p4 := list("?sort=due_date&limit=2&starting_after=" + p3.Data[1].ID)
		require.Equal(t, []string{futureOpen.ID}, ids(p4))
		require.False(t, p4.HasMore)

		require.Equal(t, []string{pastDraft.ID, paid.ID}, ids(list("?sort=due_date&due_after=2020-02-02&limit=2")))
		require.Equal(t, []string{written.ID}, ids(list("?sort=due_date&overdue=true&starting_after="+pastOpen.ID)))
	})

	t.Run("created order is the default", func(t *testing.T) {
		l := list("?sort=created&limit=2")
		require.Equal(t, ids(list("?limit=2")), ids(l))
		require.Equal(t, []string{pastOpen.ID}, ids(list("?sort=created&starting_after="+pastDraft.ID)), "newest first")
	})

	t.Run("bad parameters", func(t *testing.T) {
		other := newFixture(t, s, "Other sorter")
		foreign := other.newInvoice(t, nil)
		cases := map[string]string{
			"?sort=amount":           "sort",
			"?overdue=yes":           "overdue",
			"?due_before=2020-13-01": "due_before",
			"?due_after=tomorrow":    "due_after",
			"?issued_from=2020-1-1":  "issued_from",
			"?issued_to=x":           "issued_to",
			"?currency=usd":          "currency",
			"?currency=XYZ":          "currency",
			"?sort=due_date&starting_after=" + uuid.NewString(): "starting_after",
			"?sort=due_date&starting_after=" + foreign.ID:       "starting_after",
		}
		for q, field := range cases {
			p := wantProblem(t, f.call(t, "GET", "/v1/invoices"+q, nil), http.StatusBadRequest, "invalid_parameter")
			require.Contains(t, p.Errors, field, q)
		}
		// With the default order a cursor is only a position, as before.
		require.Equal(t, http.StatusOK, f.call(t, "GET", "/v1/invoices?starting_after="+uuid.NewString(), nil).Status)
	})
}

func TestUnitPriceLinesOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Pricer")
	cases := []struct {
		currency, qty, price string
		want                 int64
	}{
		{"USD", "3", "0.0125", 4},    // 3.75 cents → 4
		{"USD", "1", "0.005", 0},     // half a cent → 0 (half-even)
		{"USD", "2", "19.99", 3998},  // 39.98 dollars
		{"JPY", "1.5", "333.3", 500}, // 499.95 yen → 500
		{"JPY", "1", "2.5", 2},       // 2.5 yen → 2
		{"KWD", "2", "1.2345", 2469}, // 2.469 dinar in fils
		{"KWD", "3", "0.0005", 2},    // 1.5 fils → 2
	}
	for _, tc := range cases {
		inv := f.newInvoice(t, map[string]any{"currency": tc.currency,
			"lines": []map[string]any{{"description": "Metered", "quantity": tc.qty, "unit_price": tc.price, "tax_rate": "10"}}})
		require.Equal(t, tc.want, inv.SubtotalMinor, "%s %s × %s", tc.currency, tc.qty, tc.price)
		require.Nil(t, inv.Lines[0].UnitAmountMinor)
		require.Equal(t, tc.price, *inv.Lines[0].UnitPrice)
		got := f.fetchInvoice(t, inv.ID)
		require.Equal(t, inv.Lines, got.Lines, "stored and read back as sent")
	}

	mixed := f.newInvoice(t, map[string]any{"lines": []map[string]any{
		{"description": "Fixed", "quantity": "1", "unit_amount_minor": 1000},
		{"description": "Metered", "quantity": "1", "unit_price": "2.50"}}})
	require.Equal(t, int64(1000), *mixed.Lines[0].UnitAmountMinor)
	require.Nil(t, mixed.Lines[0].UnitPrice)
	require.Equal(t, "2.5", *mixed.Lines[1].UnitPrice, "canonical form")
	require.Equal(t, int64(1250), mixed.TotalMinor)

	for name, line := range map[string]map[string]any{
		"both":    {"description": "x", "quantity": "1", "unit_amount_minor": 1, "unit_price": "0.01"},
		"neither": {"description": "x", "quantity": "1"},
	} {
		resp := f.call(t, "POST", "/v1/invoices", f.invoiceBody(map[string]any{"lines": []map[string]any{line}}))
		p := wantProblem(t, resp, http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "lines[0].unit_amount_minor", name)
	}
	resp := f.call(t, "POST", "/v1/invoices", f.invoiceBody(map[string]any{"lines": []map[string]any{
		{"description": "x", "quantity": "999999999999999999", "unit_price": "999999999999999999"}}}))
	require.Contains(t, wantProblem(t, resp, http.StatusUnprocessableEntity, "validation_failed").Errors, "lines[0].unit_price")
}

func TestPerDocumentTaxRoundingFromTenantSetting(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	doc := newFixture(t, s, "Per document")
	line := newFixture(t, s, "Per line")
	_, err := s.DB.Admin.Exec(context.Background(), `UPDATE tenants SET settings = '{"tax_rounding":"per_document"}' WHERE id = $1`, doc.tenant)
	require.NoError(t, err)
	thirds := map[string]any{"lines": []map[string]any{
		{"description": "a", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
		{"description": "b", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
		{"description": "c", "quantity": "0.333", "unit_amount_minor": 100, "tax_rate": "20"},
	}}

	// 33 cents a line; 6.6 cents of tax each: 7 + 7 + 7 per line, 19.8 → 20 per document.
	perLine := line.newInvoice(t, thirds)
	require.Equal(t, "per_line", perLine.TaxRounding)
	require.Equal(t, []int64{7, 7, 7}, perLine.lineTaxes())
	require.Equal(t, int64(21), perLine.TaxMinor)

	perDoc := doc.newInvoice(t, thirds)
	require.Equal(t, "per_document", perDoc.TaxRounding)
	require.Equal(t, []int64{7, 7, 6}, perDoc.lineTaxes())
	require.Equal(t, int64(20), perDoc.TaxMinor)
	require.Equal(t, int64(119), perDoc.TotalMinor)

	// The mode is the invoice's from then on, whatever the tenant changes later.
	_, err = s.DB.Admin.Exec(context.Background(), `UPDATE tenants SET settings = '{"tax_rounding":"per_line"}' WHERE id = $1`, doc.tenant)
	require.NoError(t, err)
	patched := decodeInvoice(t, doc.call(t, "PATCH", "/v1/invoices/"+perDoc.ID, map[string]any{"memo": "again"}, "If-Match", etag(1)), http.StatusOK)
	require.Equal(t, "per_document", patched.TaxRounding)
	require.Equal(t, int64(20), patched.TaxMinor)
	require.Equal(t, "per_line", doc.newInvoice(t, thirds).TaxRounding)

	// Credit notes follow the invoice's mode too.
	opened := decodeInvoice(t, doc.call(t, "POST", "/v1/invoices/"+perDoc.ID+"/finalize", nil), http.StatusOK)
	resp := doc.call(t, "POST", "/v1/invoices/"+opened.ID+"/credit-notes", map[string]any{"reason": "returned", "lines": thirds["lines"]})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var cn creditNote
	resp.JSON(t, &cn)
	require.Equal(t, int64(20), cn.TaxMinor)
	require.Equal(t, int64(119), cn.AmountMinor)
	require.Equal(t, "paid", doc.fetchInvoice(t, opened.ID).Status)
}

func TestInvoiceLifecycleIsTenantScoped(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	a := newFixture(t, s, "Owner")
	b := newFixture(t, s, "Intruder")
	draft := a.newInvoice(t, nil)
	open := a.newInvoice(t, map[string]any{"status": "open"})

	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/v1/invoices/" + draft.ID, map[string]any{"memo": "mine"}},
		{"DELETE", "/v1/invoices/" + draft.ID, nil},
		{"POST", "/v1/invoices/" + draft.ID + "/finalize", nil},
		{"POST", "/v1/invoices/" + open.ID + "/void", nil},
		{"POST", "/v1/invoices/" + open.ID + "/mark-uncollectible", nil},
		{"POST", "/v1/invoices/" + open.ID + "/credit-notes", map[string]any{"reason": "r", "amount_minor": 1}},
		{"GET", "/v1/invoices/" + open.ID + "/credit-notes", nil},
	} {
		resp := b.call(t, r.method, r.path, r.body, "If-Match", etag(1))
		wantProblem(t, resp, http.StatusNotFound, "invoice_not_found")
		require.NotContains(t, string(resp.Body), "Owner")
	}
	require.Equal(t, draft.Version, a.fetchInvoice(t, draft.ID).Version)
	require.Equal(t, open.Version, a.fetchInvoice(t, open.ID).Version)

	// Read-only roles cannot change invoices.
	viewer := s.Token(t, a.tenant, auth.RoleViewer)
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + draft.ID + "/finalize", Token: viewer})
	wantProblem(t, resp, http.StatusForbidden, "forbidden")
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + open.ID + "/credit-notes", Token: viewer})
	require.Equal(t, http.StatusOK, resp.Status)
}
