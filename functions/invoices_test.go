package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

type invoice struct {
	ID                  string  `json:"id"`
	Direction           string  `json:"direction"`
	Status              string  `json:"status"`
	Number              *string `json:"number"`
	CounterpartyID      string  `json:"counterparty_id"`
	Currency            string  `json:"currency"`
	IssueDate           string  `json:"issue_date"`
	DueDate             string  `json:"due_date"`
	SubtotalMinor       int64   `json:"subtotal_minor"`
	TaxMinor            int64   `json:"tax_minor"`
	TotalMinor          int64   `json:"total_minor"`
	AmountDueMinor      int64   `json:"amount_due_minor"`
	AmountPaidMinor     int64   `json:"amount_paid_minor"`
	AmountCreditedMinor int64   `json:"amount_credited_minor"`
	Version             int     `json:"version"`
	FinalizedAt         *string `json:"finalized_at"`
	Lines               []struct {
		Position    int     `json:"position"`
		Quantity    string  `json:"quantity"`
		TaxRate     *string `json:"tax_rate"`
		AmountMinor int64   `json:"amount_minor"`
		TaxMinor    int64   `json:"tax_minor"`
		TotalMinor  int64   `json:"total_minor"`
	} `json:"lines"`
}

type invoiceList struct {
	Data    []invoice `json:"data"`
	HasMore bool      `json:"has_more"`
}

// fixture is one tenant with a customer and a vendor.
type fixture struct {
	s      *apitest.Server
	tenant uuid.UUID
	token  string
	// controller is a second admin of the tenant: separation of duties keeps whoever
	// raised an invoice from writing it off.
	controller string
	customer   string
	vendor     string
}

func newFixture(t *testing.T, s *apitest.Server, name string) fixture {
	t.Helper()
	f := fixture{s: s}
	f.tenant, f.token = s.Tenant(t, name)
	f.controller = s.TokenAs(t, f.tenant, "controller-"+f.tenant.String()[:8], auth.RoleAdmin)
	f.customer = f.counterparty(t, map[string]any{"name": name + " customer", "kind": "customer", "payment_terms_days": 14})
	f.vendor = f.counterparty(t, map[string]any{"name": name + " vendor", "kind": "vendor"})
	return f
}

func (f fixture) counterparty(t *testing.T, body map[string]any) string {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: f.token, Body: body})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var c struct{ ID string }
	resp.JSON(t, &c)
	return c.ID
}

func (f fixture) invoiceBody(extra map[string]any) map[string]any {
	b := map[string]any{
		"direction": "receivable", "counterparty_id": f.customer, "currency": "USD", "issue_date": "2026-11-01",
		"lines": []map[string]any{{"description": "Consulting", "quantity": "3", "unit_amount_minor": 15000}},
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (f fixture) create(t *testing.T, body map[string]any, headers ...string) (apitest.Response, invoice) {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	resp := f.s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: f.token, Body: body, Header: h})
	var inv invoice
	if resp.Status == http.StatusCreated {
		resp.JSON(t, &inv)
	}
	return resp, inv
}

func TestInvoiceCreateComputesTotalsAndNumbers(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Acme")

	t.Run("draft has no number and due date from terms", func(t *testing.T) {
		resp, inv := f.create(t, f.invoiceBody(nil))
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		require.Equal(t, "draft", inv.Status)
		require.Nil(t, inv.Number)
		require.Nil(t, inv.FinalizedAt)
		require.Equal(t, "2026-11-15", inv.DueDate, "14 days of the customer's terms")
		require.Equal(t, int64(45000), inv.TotalMinor)
		require.Equal(t, inv.TotalMinor, inv.AmountDueMinor)
		require.Equal(t, 1, inv.Version)
	})

	t.Run("lines round half-even once, tax per line", func(t *testing.T) {
		resp, inv := f.create(t, f.invoiceBody(map[string]any{
			"due_date": "2026-11-30",
			"lines": []map[string]any{
				{"description": "Consulting", "quantity": "3", "unit_amount_minor": 15000, "tax_rate": "20"},
				{"description": "Travel", "quantity": "0.333", "unit_amount_minor": 100},                      // 33.3 → 33
				{"description": "Half", "quantity": "2.5", "unit_amount_minor": 1},                            // 2.5 → 2
				{"description": "Sales tax", "quantity": "1", "unit_amount_minor": 1000, "tax_rate": "8.875"}, // 88.75 → 89
			},
		}))
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		require.Equal(t, "2026-11-30", inv.DueDate)
		require.Len(t, inv.Lines, 4)
		require.Equal(t, []int64{45000, 33, 2, 1000}, []int64{inv.Lines[0].AmountMinor, inv.Lines[1].AmountMinor, inv.Lines[2].AmountMinor, inv.Lines[3].AmountMinor})
		require.Equal(t, []int64{9000, 0, 0, 89}, []int64{inv.Lines[0].TaxMinor, inv.Lines[1].TaxMinor, inv.Lines[2].TaxMinor, inv.Lines[3].TaxMinor})
		require.Equal(t, int64(46035), inv.SubtotalMinor)
		require.Equal(t, int64(9089), inv.TaxMinor)
		require.Equal(t, int64(55124), inv.TotalMinor)
		require.Equal(t, "0.333", inv.Lines[1].Quantity)
		require.Equal(t, "8.875", *inv.Lines[3].TaxRate)

		got := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + inv.ID, Token: f.token})
		require.Equal(t, http.StatusOK, got.Status)
		require.JSONEq(t, string(resp.Body), string(got.Body), "a read returns exactly what the create returned")
	})

	t.Run("zero and three decimal currencies", func(t *testing.T) {
		_, jpy := f.create(t, f.invoiceBody(map[string]any{"currency": "JPY",
			"lines": []map[string]any{{"description": "Item", "quantity": "1.5", "unit_amount_minor": 333, "tax_rate": "10"}}}))
		require.Equal(t, int64(500), jpy.SubtotalMinor, "499.5 yen rounds half-even to 500")
		require.Equal(t, int64(50), jpy.TaxMinor)
		_, kwd := f.create(t, f.invoiceBody(map[string]any{"currency": "KWD",
			"lines": []map[string]any{{"description": "Item", "quantity": "2", "unit_amount_minor": 1250}}}))
		require.Equal(t, int64(2500), kwd.TotalMinor, "2.500 KWD in fils")
	})

	t.Run("open invoices and bills are numbered per direction", func(t *testing.T) {
		_, a := f.create(t, f.invoiceBody(map[string]any{"status": "open"}))
		_, b := f.create(t, f.invoiceBody(map[string]any{"status": "open"}))
		_, bill := f.create(t, f.invoiceBody(map[string]any{"status": "open", "direction": "payable", "counterparty_id": f.vendor}))
		require.Equal(t, "INV-000001", *a.Number)
		require.Equal(t, "INV-000002", *b.Number)
		require.Equal(t, "BILL-000001", *bill.Number)
		require.Equal(t, "open", a.Status)
		require.NotNil(t, a.FinalizedAt)
		require.Equal(t, "2026-12-01", bill.DueDate, "the vendor's default 30 days")
	})

	t.Run("counterparty must fit the direction", func(t *testing.T) {
		resp, _ := f.create(t, f.invoiceBody(map[string]any{"direction": "payable"}))
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
		require.Equal(t, "counterparty_kind_mismatch", resp.Problem(t).Code)
		resp, _ = f.create(t, f.invoiceBody(map[string]any{"counterparty_id": uuid.NewString()}))
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
		require.Equal(t, "no such counterparty", resp.Problem(t).Errors["counterparty_id"])
	})
}

func TestInvoiceValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Validation")
	line := func(k string, v any) map[string]any {
		l := map[string]any{"description": "x", "quantity": "1", "unit_amount_minor": 1}
		l[k] = v
		return map[string]any{"lines": []map[string]any{l}}
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"malformed", `{"direction":`, 400, "malformed_json", ""},
		{"not an object", `[1,2]`, 422, "validation_failed", ""},
		{"unknown field", f.invoiceBody(map[string]any{"colour": "red"}), 400, "unknown_field", "colour"},
		{"lower-case currency", f.invoiceBody(map[string]any{"currency": "usd"}), 422, "validation_failed", "currency"},
		{"unknown currency", f.invoiceBody(map[string]any{"currency": "XYZ"}), 422, "validation_failed", "currency"},
		{"negative quantity", f.invoiceBody(line("quantity", "-1")), 422, "validation_failed", "lines[0].quantity"},
		{"zero quantity", f.invoiceBody(line("quantity", "0")), 422, "validation_failed", "lines[0].quantity"},
		{"quantity as number", f.invoiceBody(line("quantity", 3)), 422, "validation_failed", "lines[0].quantity"},
		{"negative unit amount", f.invoiceBody(line("unit_amount_minor", -5)), 422, "validation_failed", "lines[0].unit_amount_minor"},
		{"tax over 100", f.invoiceBody(line("tax_rate", "150")), 422, "validation_failed", "lines[0].tax_rate"},
		{"no lines", f.invoiceBody(map[string]any{"lines": []any{}}), 422, "validation_failed", "lines"},
		{"missing direction", map[string]any{"counterparty_id": f.customer, "currency": "USD", "issue_date": "2026-11-01",
			"lines": []map[string]any{{"description": "x", "quantity": "1", "unit_amount_minor": 1}}}, 422, "validation_failed", "direction"},
		{"bad date", f.invoiceBody(map[string]any{"issue_date": "2026-13-01"}), 422, "validation_failed", "issue_date"},
		{"due before issue", f.invoiceBody(map[string]any{"due_date": "2026-10-01"}), 422, "validation_failed", "due_date"},
		{"status paid", f.invoiceBody(map[string]any{"status": "paid"}), 422, "validation_failed", "status"},
		{"line overflow", f.invoiceBody(map[string]any{"lines": []map[string]any{{"description": "x", "quantity": "3", "unit_amount_minor": int64(1) << 62}}}), 422, "validation_failed", "lines[0].unit_amount_minor"},
		{"total overflow", f.invoiceBody(map[string]any{"lines": []map[string]any{
			{"description": "x", "quantity": "1", "unit_amount_minor": int64(1) << 62},
			{"description": "y", "quantity": "1", "unit_amount_minor": int64(1) << 62}}}), 422, "validation_failed", "lines"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: f.token, Body: tc.body})
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			p := resp.Problem(t)
			require.Equal(t, tc.code, p.Code)
			if tc.field != "" {
				require.Contains(t, p.Errors, tc.field, "problem names the field: %v", p.Errors)
			}
		})
	}

	t.Run("body too large", func(t *testing.T) {
		big := f.invoiceBody(map[string]any{"memo": strings.Repeat("x", 70<<10)})
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: f.token, Body: big})
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status)
		require.Equal(t, "body_too_large", resp.Problem(t).Code)
	})

	var count int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT count(*) FROM invoices`).Scan(&count))
	require.Zero(t, count, "refused requests wrote nothing")
}

func TestInvoiceListFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Lister")
	other := f.counterparty(t, map[string]any{"name": "Second customer", "kind": "both"})
	var created []string
	for i := 0; i < 5; i++ {
		_, inv := f.create(t, f.invoiceBody(nil))
		created = append(created, inv.ID)
	}
	_, open := f.create(t, f.invoiceBody(map[string]any{"status": "open", "counterparty_id": other}))
	_, bill := f.create(t, f.invoiceBody(map[string]any{"direction": "payable", "counterparty_id": f.vendor}))

	list := func(query string) invoiceList {
		t.Helper()
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices" + query, Token: f.token})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var l invoiceList
		resp.JSON(t, &l)
		return l
	}
	ids := func(l invoiceList) []string {
		var out []string
		for _, i := range l.Data {
			out = append(out, i.ID)
		}
		return out
	}

	require.Equal(t, []string{open.ID}, ids(list("?status=open")))
	require.Equal(t, []string{bill.ID}, ids(list("?direction=payable")))
	require.Equal(t, []string{open.ID}, ids(list("?counterparty_id="+other)))
	require.Len(t, list("?direction=receivable&status=draft").Data, 5)
	require.Empty(t, list("?status=void").Data)

	// Pages of two over the five drafts, newest first, with an insert between pages.
	p1 := list("?status=draft&direction=receivable&limit=2")
	require.True(t, p1.HasMore)
	require.Equal(t, []string{created[4], created[3]}, ids(p1))
	f.create(t, f.invoiceBody(nil)) // a new draft must not shift later pages
	p2 := list("?status=draft&direction=receivable&limit=2&starting_after=" + p1.Data[1].ID)
	require.Equal(t, []string{created[2], created[1]}, ids(p2))
	p3 := list("?status=draft&direction=receivable&limit=2&starting_after=" + p2.Data[1].ID)
	require.Equal(t, []string{created[0]}, ids(p3))
	require.False(t, p3.HasMore)
	require.Empty(t, p3.Data[0].Lines, "list items carry no lines")

	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?status=late", "?direction=up", "?starting_after=nope", "?counterparty_id=7"} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices" + q, Token: f.token})
		require.Contains(t, []int{400, 422}, resp.Status, "%s → %s", q, resp.Body)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	a := newFixture(t, s, "Alpha")
	b := newFixture(t, s, "Beta")
	_, inv := a.create(t, a.invoiceBody(nil))

	for _, path := range []string{"/v1/invoices/" + inv.ID, "/v1/counterparties/" + a.customer} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: b.token})
		require.Equal(t, http.StatusNotFound, resp.Status, "%s: %s", path, resp.Body)
		require.NotContains(t, string(resp.Body), "Alpha")
	}
	var l invoiceList
	s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: b.token}).JSON(t, &l)
	require.Empty(t, l.Data)
	var cl struct{ Data []map[string]any }
	s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: b.token}).JSON(t, &cl)
	require.Len(t, cl.Data, 2, "only Beta's own two counterparties")

	// Beta cannot reference Alpha's counterparty, even knowing its id.
	resp, _ := b.create(t, b.invoiceBody(map[string]any{"counterparty_id": a.customer}))
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	require.Contains(t, resp.Problem(t).Errors, "counterparty_id")
}

func TestAuthAndPermissions(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Perms")
	viewer := s.Token(t, f.tenant, auth.RoleViewer)
	accountant := s.Token(t, f.tenant, auth.RoleAccountant)

	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices"})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "unauthenticated", resp.Problem(t).Code)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: "not.a.jwt"})
	require.Equal(t, http.StatusUnauthorized, resp.Status)

	require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: viewer}).Status)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: viewer, Body: f.invoiceBody(nil)})
	require.Equal(t, http.StatusForbidden, resp.Status)
	require.Equal(t, "forbidden", resp.Problem(t).Code)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: accountant, Body: f.invoiceBody(nil)})
	require.Equal(t, http.StatusCreated, resp.Status)
	noRoles := s.Token(t, f.tenant)
	require.Equal(t, http.StatusForbidden, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: noRoles}).Status)
}

func TestMutationsWriteAuditAndOutbox(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Audited")
	resp, inv := f.create(t, f.invoiceBody(map[string]any{"status": "open"}), "X-Request-Id", "req-audit-1")
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, "req-audit-1", resp.Header.Get("X-Request-Id"))

	ctx := context.Background()
	var action, actorType, actorID, requestID string
	var afterTotal int64
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT action, actor_type, actor_id, request_id, (after->>'total_minor')::bigint
  FROM audit_events WHERE entity_id = $1`, inv.ID).Scan(&action, &actorType, &actorID, &requestID, &afterTotal))
	require.Equal(t, "invoice.created", action)
	require.Equal(t, "user", actorType)
	require.Equal(t, "user-"+f.tenant.String()[:8], actorID)
	require.Equal(t, "req-audit-1", requestID)
	require.Equal(t, inv.TotalMinor, afterTotal)

	var evType string
	var version int
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `
SELECT event_type, entity_version FROM outbox_events WHERE entity_id = $1 AND published_at IS NULL`, inv.ID).Scan(&evType, &version))
	require.Equal(t, "invoice.created", evType)
	require.Equal(t, 1, version)

	// Two counterparties and one invoice: three audited mutations, chained.
	var n int64
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1`, f.tenant).Scan(&n))
	require.Equal(t, int64(3), n)
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE tenant_id = $1`, f.tenant).Scan(&n))
	require.Equal(t, int64(3), n)
}

func TestIdempotencyKeyOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Idem")
	body := f.invoiceBody(map[string]any{"status": "open"})

	first, inv := f.create(t, body, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, first.Status)
	again, _ := f.create(t, body, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, again.Status)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(again.Body))
	require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))

	changed, _ := f.create(t, f.invoiceBody(map[string]any{"memo": "different"}), "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusUnprocessableEntity, changed.Status)
	require.Equal(t, "idempotency_key_reused", changed.Problem(t).Code)

	// A refused request stores nothing: fixing it and retrying with the key works.
	bad, _ := f.create(t, f.invoiceBody(map[string]any{"counterparty_id": uuid.NewString()}), "Idempotency-Key", "key-2")
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	fixed, _ := f.create(t, f.invoiceBody(nil), "Idempotency-Key", "key-2")
	require.Equal(t, http.StatusCreated, fixed.Status)

	// Another tenant's identical key is its own.
	g := newFixture(t, s, "Other")
	otherResp, otherInv := g.create(t, g.invoiceBody(nil), "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, otherResp.Status)
	require.NotEqual(t, inv.ID, otherInv.ID)

	// Concurrent retries of one key create one invoice.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := f.create(t, f.invoiceBody(map[string]any{"memo": "race"}), "Idempotency-Key", "key-race")
			statuses[i] = r.Status
		}()
	}
	wg.Wait()
	var n int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT count(*) FROM invoices WHERE tenant_id = $1 AND memo = 'race'`, f.tenant).Scan(&n))
	require.Equal(t, 1, n, "statuses %v", statuses)
	for _, st := range statuses {
		require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, st)
	}
}

func TestNumbersAreGaplessUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Numbers")
	const n = 20
	var wg sync.WaitGroup
	numbers := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := f.invoiceBody(map[string]any{"status": "open"})
			if i%4 == 0 {
				// Some requests fail after taking a number; their transaction rolls back and
				// must not leave a gap.
				body["counterparty_id"] = f.vendor
			}
			resp, inv := f.create(t, body)
			if resp.Status == http.StatusCreated {
				numbers[i] = *inv.Number
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, num := range numbers {
		if num != "" {
			require.False(t, seen[num], "duplicate %s", num)
			seen[num] = true
		}
	}
	require.Len(t, seen, n-n/4)
	for i := 1; i <= len(seen); i++ {
		require.True(t, seen[fmt.Sprintf("INV-%06d", i)], "gap at %d in %v", i, numbers)
	}
}
