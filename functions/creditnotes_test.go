package functions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
)

type creditNote struct {
	ID            string          `json:"id"`
	Object        string          `json:"object"`
	InvoiceID     string          `json:"invoice_id"`
	Number        string          `json:"number"`
	Currency      string          `json:"currency"`
	SubtotalMinor int64           `json:"subtotal_minor"`
	TaxMinor      int64           `json:"tax_minor"`
	AmountMinor   int64           `json:"amount_minor"`
	Reason        string          `json:"reason"`
	EffectiveDate string          `json:"effective_date"`
	Lines         json.RawMessage `json:"lines"`
}

type creditNoteList struct {
	Data    []creditNote `json:"data"`
	HasMore bool         `json:"has_more"`
}

func (f fixture) credit(t *testing.T, invoiceID string, body any) apitest.Response {
	t.Helper()
	return f.call(t, "POST", "/v1/invoices/"+invoiceID+"/credit-notes", body)
}

func (f fixture) mustCredit(t *testing.T, invoiceID string, body any) creditNote {
	t.Helper()
	resp := f.credit(t, invoiceID, body)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var cn creditNote
	resp.JSON(t, &cn)
	return cn
}

func (f fixture) creditNotes(t *testing.T, invoiceID, query string) creditNoteList {
	t.Helper()
	resp := f.call(t, "GET", "/v1/invoices/"+invoiceID+"/credit-notes"+query, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l creditNoteList
	resp.JSON(t, &l)
	return l
}

func TestCreditNotes(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Creditor")
	inv := f.newInvoice(t, map[string]any{"status": "open"}) // 45000, no tax

	// By amount: no tax, no lines, effective today (UTC).
	before := time.Now().UTC().Format(time.DateOnly)
	first := f.mustCredit(t, inv.ID, map[string]any{"reason": "Goodwill", "amount_minor": 5000})
	after := time.Now().UTC().Format(time.DateOnly)
	require.Equal(t, "credit_note", first.Object)
	require.Equal(t, "CN-000001", first.Number)
	require.Equal(t, inv.ID, first.InvoiceID)
	require.Equal(t, "USD", first.Currency)
	require.Equal(t, [3]int64{5000, 0, 5000}, [3]int64{first.SubtotalMinor, first.TaxMinor, first.AmountMinor})
	require.Equal(t, "null", string(first.Lines))
	require.Contains(t, []string{before, after}, first.EffectiveDate)
	got := f.fetchInvoice(t, inv.ID)
	require.Equal(t, int64(5000), got.AmountCreditedMinor)
	require.Equal(t, int64(40000), got.AmountDueMinor)
	require.Equal(t, "open", got.Status)
	require.Equal(t, 2, got.Version)

	// By lines, priced like invoice lines.
	second := f.mustCredit(t, inv.ID, map[string]any{"reason": "Hour billed twice", "effective_date": "2026-11-05",
		"lines": []map[string]any{{"description": "Consulting", "quantity": "1", "unit_amount_minor": 10000, "tax_rate": "20"}}})
	require.Equal(t, "CN-000002", second.Number)
	require.Equal(t, [3]int64{10000, 2000, 12000}, [3]int64{second.SubtotalMinor, second.TaxMinor, second.AmountMinor})
	require.Equal(t, "2026-11-05", second.EffectiveDate)
	var lines []struct {
		Quantity        string `json:"quantity"`
		UnitAmountMinor int64  `json:"unit_amount_minor"`
		TaxMinor        int64  `json:"tax_minor"`
		TotalMinor      int64  `json:"total_minor"`
	}
	require.NoError(t, json.Unmarshal(second.Lines, &lines))
	require.Len(t, lines, 1)
	require.Equal(t, int64(12000), lines[0].TotalMinor)
	got = f.fetchInvoice(t, inv.ID)
	require.Equal(t, int64(28000), got.AmountDueMinor)
	require.Equal(t, 3, got.Version)

	// Over-crediting is refused and takes no number.
	p := wantProblem(t, f.credit(t, inv.ID, map[string]any{"reason": "Too much", "amount_minor": 28001}),
		http.StatusUnprocessableEntity, "credit_exceeds_amount_due")
	require.Contains(t, p.Detail, "28000")
	require.Equal(t, 3, f.fetchInvoice(t, inv.ID).Version)
	other := f.newInvoice(t, map[string]any{"status": "open"})
	require.Equal(t, "CN-000003", f.mustCredit(t, other.ID, map[string]any{"reason": "Discount", "amount_minor": 1}).Number,
		"numbers are per tenant and gapless")

	// Crediting what is left settles the invoice.
	last := f.mustCredit(t, inv.ID, map[string]any{"reason": "Settled", "amount_minor": 28000})
	require.Equal(t, "CN-000004", last.Number)
	got = f.fetchInvoice(t, inv.ID)
	require.Equal(t, "paid", got.Status)
	require.Zero(t, got.AmountDueMinor)
	require.Equal(t, int64(45000), got.AmountCreditedMinor)
	require.Equal(t, 4, got.Version)
	wantProblem(t, f.credit(t, inv.ID, map[string]any{"reason": "More", "amount_minor": 1}),
		http.StatusUnprocessableEntity, "credit_exceeds_amount_due")

	t.Run("audit and outbox", func(t *testing.T) {
		out := f.outboxOf(t, first.ID)
		require.Len(t, out, 1)
		require.Equal(t, outboxRow{Type: "credit_note.created", EntityType: "credit_note", Version: 1}, outboxRow{Type: out[0].Type, EntityType: out[0].EntityType, Version: out[0].Version})
		trail := f.auditOf(t, first.ID)
		require.Len(t, trail, 1)
		require.Equal(t, "credit_note.created", trail[0].Action)
		require.Nil(t, trail[0].Before)
		var recorded creditNote
		require.NoError(t, json.Unmarshal(trail[0].After, &recorded))
		require.Equal(t, "CN-000001", recorded.Number)

		var types []string
		var versions []int
		for _, e := range f.outboxOf(t, inv.ID) {
			types, versions = append(types, e.Type), append(versions, e.Version)
		}
		require.Equal(t, []string{"invoice.created", "invoice.credited", "invoice.credited", "invoice.paid"}, types)
		require.Equal(t, []int{1, 2, 3, 4}, versions, "each event carries the invoice's new version")
		require.Equal(t, []string{"invoice.created", "invoice.credited", "invoice.credited", "invoice.paid"}, actions(f.auditOf(t, inv.ID)))
		var b, a invoiceDoc
		row := lastOf(f.auditOf(t, inv.ID))
		require.NoError(t, json.Unmarshal(row.Before, &b))
		require.NoError(t, json.Unmarshal(row.After, &a))
		require.Equal(t, [2]string{"open", "paid"}, [2]string{b.Status, a.Status})
		require.Equal(t, [2]int64{28000, 0}, [2]int64{b.AmountDueMinor, a.AmountDueMinor})
	})

	t.Run("only issued invoices that owe", func(t *testing.T) {
		draft := f.newInvoice(t, nil)
		wantProblem(t, f.credit(t, draft.ID, map[string]any{"reason": "r", "amount_minor": 1}), http.StatusConflict, "invoice_not_open")
		void := f.newInvoice(t, map[string]any{"status": "open"})
		decodeInvoice(t, f.call(t, "POST", "/v1/invoices/"+void.ID+"/void", nil), http.StatusOK)
		wantProblem(t, f.credit(t, void.ID, map[string]any{"reason": "r", "amount_minor": 1}), http.StatusConflict, "invoice_not_open")

		written := f.newInvoice(t, map[string]any{"status": "open"})
		decodeInvoice(t, f.writeOff(t, written.ID, nil), http.StatusOK)
		f.mustCredit(t, written.ID, map[string]any{"reason": "Partial write-back", "amount_minor": 1000})
		require.Equal(t, "uncollectible", f.fetchInvoice(t, written.ID).Status)
		f.mustCredit(t, written.ID, map[string]any{"reason": "Rest", "amount_minor": 44000})
		require.Equal(t, "paid", f.fetchInvoice(t, written.ID).Status)

		wantProblem(t, f.credit(t, uuid.NewString(), map[string]any{"reason": "r", "amount_minor": 1}), http.StatusNotFound, "invoice_not_found")
	})

	t.Run("validation", func(t *testing.T) {
		target := f.newInvoice(t, map[string]any{"status": "open"})
		line := map[string]any{"description": "x", "quantity": "1", "unit_amount_minor": 100}
		cases := []struct {
			name  string
			body  any
			code  string
			field string
		}{
			{"both", map[string]any{"reason": "r", "amount_minor": 1, "lines": []any{line}}, "validation_failed", "amount_minor"},
			{"neither", map[string]any{"reason": "r"}, "validation_failed", "amount_minor"},
			{"no reason", map[string]any{"amount_minor": 1}, "validation_failed", "reason"},
			{"empty reason", map[string]any{"reason": "", "amount_minor": 1}, "validation_failed", "reason"},
			{"zero amount", map[string]any{"reason": "r", "amount_minor": 0}, "validation_failed", "amount_minor"},
			{"no lines", map[string]any{"reason": "r", "lines": []any{}}, "validation_failed", "lines"},
			{"before the invoice", map[string]any{"reason": "r", "amount_minor": 1, "effective_date": "2026-10-31"}, "validation_failed", "effective_date"},
			{"line with both prices", map[string]any{"reason": "r", "lines": []any{
				map[string]any{"description": "x", "quantity": "1", "unit_amount_minor": 1, "unit_price": "1"}}}, "validation_failed", "lines[0].unit_amount_minor"},
			{"lines worth nothing", map[string]any{"reason": "r", "lines": []any{
				map[string]any{"description": "x", "quantity": "1", "unit_amount_minor": 0}}}, "validation_failed", "lines"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := wantProblem(t, f.credit(t, target.ID, tc.body), http.StatusUnprocessableEntity, tc.code)
				require.Contains(t, p.Errors, tc.field, "problem names the field: %v", p.Errors)
			})
		}
		require.Equal(t, target.Version, f.fetchInvoice(t, target.ID).Version, "refused credit notes change nothing")
	})

	t.Run("unit prices in the invoice's currency", func(t *testing.T) {
		jpy := f.newInvoice(t, map[string]any{"status": "open", "currency": "JPY",
			"lines": []map[string]any{{"description": "Item", "quantity": "10", "unit_amount_minor": 1000}}})
		cn := f.mustCredit(t, jpy.ID, map[string]any{"reason": "Returned", "lines": []any{
			map[string]any{"description": "Item", "quantity": "1.5", "unit_price": "333.3", "tax_rate": "10"}}})
		require.Equal(t, "JPY", cn.Currency)
		require.Equal(t, [3]int64{500, 50, 550}, [3]int64{cn.SubtotalMinor, cn.TaxMinor, cn.AmountMinor}, "499.95 yen → 500")
		require.Equal(t, int64(9450), f.fetchInvoice(t, jpy.ID).AmountDueMinor)
	})
}

func TestCreditNoteList(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Credit lister")
	inv := f.newInvoice(t, map[string]any{"status": "open"})
	var created []apitest.Response
	for i := 1; i <= 3; i++ {
		resp := f.credit(t, inv.ID, map[string]any{"reason": fmt.Sprintf("credit %d", i), "amount_minor": 100 * i})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		created = append(created, resp)
	}
	f.mustCredit(t, f.newInvoice(t, map[string]any{"status": "open"}).ID, map[string]any{"reason": "elsewhere", "amount_minor": 1})

	all := f.creditNotes(t, inv.ID, "")
	require.Len(t, all.Data, 3, "only this invoice's credit notes")
	require.False(t, all.HasMore)
	var raw struct{ Data []json.RawMessage }
	f.call(t, "GET", "/v1/invoices/"+inv.ID+"/credit-notes", nil).JSON(t, &raw)
	for i, cn := range all.Data {
		require.Equal(t, fmt.Sprintf("CN-%06d", i+1), cn.Number, "oldest first")
		require.JSONEq(t, string(created[i].Body), string(raw.Data[i]), "a list item is the created credit note")
	}

	p1 := f.creditNotes(t, inv.ID, "?limit=2")
	require.True(t, p1.HasMore)
	require.Equal(t, []string{"CN-000001", "CN-000002"}, []string{p1.Data[0].Number, p1.Data[1].Number})
	p2 := f.creditNotes(t, inv.ID, "?limit=2&starting_after="+p1.Data[1].ID)
	require.False(t, p2.HasMore)
	require.Len(t, p2.Data, 1)
	require.Equal(t, "CN-000003", p2.Data[0].Number)

	require.Empty(t, f.creditNotes(t, f.newInvoice(t, nil).ID, "").Data)
	wantProblem(t, f.call(t, "GET", "/v1/invoices/"+uuid.NewString()+"/credit-notes", nil), http.StatusNotFound, "invoice_not_found")
	wantProblem(t, f.call(t, "GET", "/v1/invoices/nope/credit-notes", nil), http.StatusNotFound, "invoice_not_found")
	wantProblem(t, f.call(t, "GET", "/v1/invoices/"+inv.ID+"/credit-notes?limit=0", nil), http.StatusBadRequest, "invalid_parameter")
}

func TestCreditNotesUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Racer")
	inv := f.newInvoice(t, map[string]any{"status": "open"}) // 45000
	const n = 10
	var wg sync.WaitGroup
	statuses := make([]int, n)
	numbers := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := f.credit(t, inv.ID, map[string]any{"reason": "race", "amount_minor": 9000})
			statuses[i] = resp.Status
			if resp.Status == http.StatusCreated {
				var cn creditNote
				resp.JSON(t, &cn)
				numbers[i] = cn.Number
			} else {
				require.Equal(t, "credit_exceeds_amount_due", resp.Problem(t).Code, string(resp.Body))
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, num := range numbers {
		if num != "" {
			seen[num] = true
		}
	}
	require.Len(t, seen, 5, "statuses %v", statuses)
	for i := 1; i <= 5; i++ {
		require.True(t, seen[fmt.Sprintf("CN-%06d", i)], "gap at %d in %v", i, numbers)
	}
	got := f.fetchInvoice(t, inv.ID)
	require.Equal(t, "paid", got.Status)
	require.Equal(t, int64(45000), got.AmountCreditedMinor)
	require.Equal(t, 6, got.Version)
}
