package invoices

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
)

func ptr[T any](v T) *T { return &v }

func unitLine(qty string, unit int64, rate string) LineInput {
	l := LineInput{Description: "item", Quantity: qty, UnitAmountMinor: ptr(unit)}
	if rate != "" {
		l.TaxRate = ptr(rate)
	}
	return l
}

func priceLine(qty, price, rate string) LineInput {
	l := LineInput{Description: "item", Quantity: qty, UnitPrice: ptr(price)}
	if rate != "" {
		l.TaxRate = ptr(rate)
	}
	return l
}

// priced parses and prices lines the way a create does.
func priced(t *testing.T, currency string, mode TaxRounding, ins ...LineInput) ([]Line, totals) {
	t.Helper()
	f := apperr.Fields{}
	lines := parseLines(ins, currency, f)
	require.NoError(t, f.Err())
	tot, err := price(lines, mode)
	require.NoError(t, err)
	return lines, tot
}

func taxesOf(lines []Line) []int64 {
	out := make([]int64, len(lines))
	for i, l := range lines {
		out[i] = l.TaxMinor
	}
	return out
}

func TestTaxRounding(t *testing.T) {
	cases := []struct {
		name         string
		lines        []LineInput
		perLine      []int64
		perDocument  []int64
		wantSubtotal int64
	}{
		{
			// 33.3 → 33 cents each; 6.6 cents of tax each. Per line 7 + 7 + 7; per
			// document 99 × 20% = 19.8 → 20, split 6.6 / 6.6 / 6.6 → floors 6, and the two
			// units left go to the earliest of the equal remainders.
			name:    "three thirds at 20%",
			lines:   []LineInput{unitLine("0.333", 100, "20"), unitLine("0.333", 100, "20"), unitLine("0.333", 100, "20")},
			perLine: []int64{7, 7, 7}, perDocument: []int64{7, 7, 6}, wantSubtotal: 99,
		},
		{
			// 88.75 each: per line 89 × 3 = 267; per document 3000 × 8.875% = 266.25 → 266.
			name:    "sales tax 8.875%",
			lines:   []LineInput{unitLine("1", 1000, "8.875"), unitLine("1", 1000, "8.875"), unitLine("1", 1000, "8.875")},
			perLine: []int64{89, 89, 89}, perDocument: []int64{89, 89, 88}, wantSubtotal: 3000,
		},
		{
			// Exact 1.5, 2.7, 4.0: per line 2 + 3 + 4 = 9; per document 82 × 10% = 8.2 → 8,
			// floors 1 + 2 + 4 = 7 and the unit left goes to the largest remainder (0.7).
			name:    "largest remainder",
			lines:   []LineInput{unitLine("1", 15, "10"), unitLine("1", 27, "10"), unitLine("1", 40, "10")},
			perLine: []int64{2, 3, 4}, perDocument: []int64{1, 3, 4}, wantSubtotal: 82,
		},
		{
			// Rates are grouped ("10.000" is "10"); untaxed lines take no share. Per line,
			// 0.5 rounds half-even to 0. Per document, 10%: 671 → 67.1 → 67 over exact
			// 33.3 / 0.5 / 33.3, floors 66, the unit left to the 0.5; 20%: 666 → 133.2 →
			// 133 over 66.6 / 66.6, floors 132, the unit left to the earlier line.
			name: "two rates and an untaxed line",
			lines: []LineInput{
				unitLine("1", 333, "10"), unitLine("1", 5, "10"), unitLine("1", 1000, ""),
				unitLine("1", 333, "10.000"), unitLine("1", 333, "20"), unitLine("1", 333, "20"),
			},
			perLine: []int64{33, 0, 0, 33, 67, 67}, perDocument: []int64{33, 1, 0, 33, 67, 66}, wantSubtotal: 2337,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, tot := priced(t, "USD", PerLine, tc.lines...)
			require.Equal(t, tc.perLine, taxesOf(lines), "per line")
			require.Equal(t, tc.wantSubtotal, tot.subtotal)
			require.Equal(t, sum(tc.perLine), tot.tax)
			require.Equal(t, tot.subtotal+tot.tax, tot.total)

			lines, tot = priced(t, "USD", PerDocument, tc.lines...)
			require.Equal(t, tc.perDocument, taxesOf(lines), "per document")
			require.Equal(t, tc.wantSubtotal, tot.subtotal)
			require.Equal(t, sum(tc.perDocument), tot.tax)
			for _, l := range lines {
				require.Equal(t, l.AmountMinor+l.TaxMinor, l.TotalMinor)
			}
		})
	}
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func TestDistributeTaxProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rates := []string{"0", "5", "7.5", "8.875", "19.6", "20", "33.333333", "100"}
	for range 2000 {
		n := 1 + rng.IntN(8)
		amounts := make([]int64, n)
		for i := range amounts {
			amounts[i] = rng.Int64N(100000)
		}
		rate, err := money.ParseDecimal(rates[rng.IntN(len(rates))])
		require.NoError(t, err)
		shares, err := distributeTax(amounts, rate)
		require.NoError(t, err)

		base, _ := money.Sum(amounts...)
		want, _ := money.Tax(base, rate, money.HalfEven)
		require.Equal(t, want, sum(shares), "shares add up to the tax on the sum: %v at %s", amounts, rate)
		for i, a := range amounts {
			exact := new(big.Rat).Mul(new(big.Rat).SetInt64(a), rate.Rat())
			exact.Quo(exact, big.NewRat(100, 1))
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(shares[i]), exact)
			require.True(t, diff.Abs(diff).Cmp(big.NewRat(1, 1)) < 0, "share %d of %d at %s is %d", i, a, rate, shares[i])
		}
	}
}

func TestUnitPriceLines(t *testing.T) {
	cases := []struct {
		currency, qty, price string
		want                 int64
	}{
		{"USD", "3", "0.0125", 4},       // 3.75 cents
		{"USD", "1000", "0.0125", 1250}, // 12.50 dollars
		{"USD", "2", "19.99", 3998},
		{"JPY", "1.5", "333.3", 500}, // 499.95 yen
		{"JPY", "1", "2.5", 2},       // 2.5 yen, half-even
		{"KWD", "2", "1.2345", 2469}, // 2.469 dinar in fils
		{"KWD", "1", "0.0005", 0},    // half a fils, half-even
	}
	for _, tc := range cases {
		t.Run(tc.currency+" "+tc.qty+"×"+tc.price, func(t *testing.T) {
			lines, tot := priced(t, tc.currency, PerLine, priceLine(tc.qty, tc.price, ""))
			require.Equal(t, tc.want, lines[0].AmountMinor)
			require.Equal(t, tc.want, tot.total)
			require.Nil(t, lines[0].UnitAmountMinor)
			require.Equal(t, tc.price, *lines[0].UnitPrice)
		})
	}

	lines, _ := priced(t, "USD", PerLine, priceLine("1", "2.50", "20"))
	require.Equal(t, "2.5", *lines[0].UnitPrice, "stored in canonical form")
	require.Equal(t, int64(250), lines[0].AmountMinor)
	require.Equal(t, int64(50), lines[0].TaxMinor)
}

func TestLineValidation(t *testing.T) {
	both := unitLine("1", 100, "")
	both.UnitPrice = ptr("1")
	neither := LineInput{Description: "x", Quantity: "1"}
	cases := []struct {
		name  string
		line  LineInput
		field string
	}{
		{"both prices", both, "lines[0].unit_amount_minor"},
		{"no price", neither, "lines[0].unit_amount_minor"},
		{"negative unit amount", unitLine("1", -1, ""), "lines[0].unit_amount_minor"},
		{"negative unit price", priceLine("1", "-0.5", ""), "lines[0].unit_price"},
		{"malformed unit price", priceLine("1", "1e3", ""), "lines[0].unit_price"},
		{"unit price too precise", priceLine("1", "0.0000000000001", ""), "lines[0].unit_price"},
		{"unit price overflow", priceLine("999999999999999999", "999999999999999999", ""), "lines[0].unit_price"},
		{"unit amount overflow", unitLine("3", int64(1)<<62, ""), "lines[0].unit_amount_minor"},
		{"zero quantity", unitLine("0", 1, ""), "lines[0].quantity"},
		{"rate over 100", unitLine("1", 1, "100.5"), "lines[0].tax_rate"},
		{"rate too precise", unitLine("1", 1, "1.0000001"), "lines[0].tax_rate"},
		{"blank description", LineInput{Description: "  ", Quantity: "1", UnitAmountMinor: ptr(int64(1))}, "lines[0].description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := apperr.Fields{}
			lines := parseLines([]LineInput{tc.line}, "USD", f)
			require.Empty(t, lines)
			require.Contains(t, f, tc.field, "fields: %v", f)
		})
	}

	t.Run("line total overflow names the price", func(t *testing.T) {
		f := apperr.Fields{}
		lines := parseLines([]LineInput{unitLine("1", 1<<62+1<<61+1<<60, "100")}, "USD", f)
		require.NoError(t, f.Err())
		_, err := price(lines, PerLine)
		require.Contains(t, apperr.From(err).Fields, "lines[0].unit_amount_minor")
	})
	t.Run("document total overflow names lines", func(t *testing.T) {
		f := apperr.Fields{}
		lines := parseLines([]LineInput{unitLine("1", 1<<62, ""), unitLine("1", 1<<62, "")}, "USD", f)
		require.NoError(t, f.Err())
		for _, mode := range []TaxRounding{PerLine, PerDocument} {
			_, err := price(lines, mode)
			require.Contains(t, apperr.From(err).Fields, "lines")
		}
	})
	t.Run("unknown currency leaves unit_price lines to the currency error", func(t *testing.T) {
		f := apperr.Fields{}
		require.Empty(t, parseLines([]LineInput{priceLine("1", "1", "")}, "XYZ", f))
		require.Empty(t, f)
	})
}

func TestPrepare(t *testing.T) {
	in := CreateInput{
		Direction: Receivable, CounterpartyID: uuid.New(), Currency: "USD", IssueDate: civil.Date{Year: 2026, Month: 11, Day: 1},
		Lines: []LineInput{unitLine("3", 15000, "20"), priceLine("2", "0.005", "")},
	}
	d, err := prepare(in)
	require.NoError(t, err)
	require.Equal(t, Draft, d.status)
	require.Equal(t, []int64{45000, 1}, []int64{d.lines[0].AmountMinor, d.lines[1].AmountMinor})
	require.Equal(t, []int{1, 2}, []int{d.lines[0].Position, d.lines[1].Position})

	in.Lines = nil
	in.Currency = "usd"
	_, err = prepare(in)
	require.Contains(t, apperr.From(err).Fields, "lines")
	require.Contains(t, apperr.From(err).Fields, "currency")
}

func TestTaxRoundingSetting(t *testing.T) {
	m, err := taxRoundingOf(nil)
	require.NoError(t, err)
	require.Equal(t, PerLine, m)
	m, err = taxRoundingOf(ptr("per_document"))
	require.NoError(t, err)
	require.Equal(t, PerDocument, m)
	m, err = taxRoundingOf(ptr("per_line"))
	require.NoError(t, err)
	require.Equal(t, PerLine, m)
	_, err = taxRoundingOf(ptr("per_invoice"))
	require.Error(t, err)
}

func draftInvoice(t *testing.T, mode TaxRounding) Invoice {
	t.Helper()
	lines, tot := priced(t, "USD", mode, unitLine("0.333", 100, "20"), priceLine("3", "0.0125", ""))
	return Invoice{Summary: Summary{
		ID: uuid.New(), Object: "invoice", Direction: Receivable, Status: Draft, CounterpartyID: uuid.New(),
		Currency: "USD", IssueDate: civil.Date{Year: 2026, Month: 11, Day: 1}, DueDate: civil.Date{Year: 2026, Month: 11, Day: 15},
		Memo: ptr("memo"), SubtotalMinor: tot.subtotal, TaxMinor: tot.tax, TotalMinor: tot.total,
		AmountDueMinor: tot.total, TaxRounding: mode, Version: 3,
	}, Lines: lines}
}

func decodePatch(t *testing.T, body string) UpdateInput {
	t.Helper()
	var in UpdateInput
	require.NoError(t, json.Unmarshal([]byte(body), &in))
	return in
}

func TestUpdateApply(t *testing.T) {
	cur := draftInvoice(t, PerLine)

	t.Run("absent members keep their values and line ids", func(t *testing.T) {
		next, err := decodePatch(t, `{"due_date":"2026-12-01"}`).apply(cur)
		require.NoError(t, err)
		require.Equal(t, civil.Date{Year: 2026, Month: 12, Day: 1}, next.DueDate)
		require.Equal(t, cur.Memo, next.Memo)
		require.Equal(t, cur.TotalMinor, next.TotalMinor)
		require.Equal(t, cur.Lines[0].ID, next.Lines[0].ID)
		require.Equal(t, cur.Lines[1].ID, next.Lines[1].ID)
	})
	t.Run("null clears a nullable member", func(t *testing.T) {
		next, err := decodePatch(t, `{"memo":null,"external_id":"erp-1"}`).apply(cur)
		require.NoError(t, err)
		require.Nil(t, next.Memo)
		require.Equal(t, "erp-1", *next.ExternalID)
	})
	t.Run("null on a required member is refused", func(t *testing.T) {
		for _, name := range []string{"counterparty_id", "currency", "issue_date", "due_date", "lines"} {
			_, err := decodePatch(t, `{"`+name+`":null}`).apply(cur)
			require.Contains(t, apperr.From(err).Fields, name)
		}
	})
	t.Run("a new currency reprices unit_price lines", func(t *testing.T) {
		next, err := decodePatch(t, `{"currency":"KWD"}`).apply(cur)
		require.NoError(t, err)
		require.Equal(t, int64(33), next.Lines[0].AmountMinor, "minor-unit price unchanged")
		require.Equal(t, int64(38), next.Lines[1].AmountMinor, "3 × 0.0125 KWD = 37.5 fils → 38")
		require.Equal(t, next.SubtotalMinor+next.TaxMinor, next.TotalMinor)
	})
	t.Run("lines are replaced", func(t *testing.T) {
		next, err := decodePatch(t, `{"lines":[{"description":"new","quantity":"2","unit_amount_minor":500,"tax_rate":"10"}]}`).apply(cur)
		require.NoError(t, err)
		require.Len(t, next.Lines, 1)
		require.NotEqual(t, cur.Lines[0].ID, next.Lines[0].ID)
		require.Equal(t, int64(1100), next.TotalMinor)
		require.Equal(t, int64(1100), next.AmountDueMinor)
	})
	t.Run("the draft's tax rounding is kept", func(t *testing.T) {
		doc := draftInvoice(t, PerDocument)
		body := `{"lines":[
			{"description":"a","quantity":"0.333","unit_amount_minor":100,"tax_rate":"20"},
			{"description":"b","quantity":"0.333","unit_amount_minor":100,"tax_rate":"20"},
			{"description":"c","quantity":"0.333","unit_amount_minor":100,"tax_rate":"20"}]}`
		next, err := decodePatch(t, body).apply(doc)
		require.NoError(t, err)
		require.Equal(t, int64(20), next.TaxMinor)
		next, err = decodePatch(t, body).apply(cur)
		require.NoError(t, err)
		require.Equal(t, int64(21), next.TaxMinor)
	})
	t.Run("due date stays on or after issue date", func(t *testing.T) {
		_, err := decodePatch(t, `{"issue_date":"2026-11-20"}`).apply(cur)
		require.Contains(t, apperr.From(err).Fields, "due_date")
	})
	t.Run("line errors name the line", func(t *testing.T) {
		_, err := decodePatch(t, `{"lines":[{"description":"x","quantity":"1","unit_amount_minor":1,"unit_price":"1"}]}`).apply(cur)
		require.Contains(t, apperr.From(err).Fields, "lines[0].unit_amount_minor")
		_, err = decodePatch(t, `{"lines":[]}`).apply(cur)
		require.Contains(t, apperr.From(err).Fields, "lines")
	})
}

func TestCreditNoteInput(t *testing.T) {
	inv := draftInvoice(t, PerDocument).Summary
	today := civil.Date{Year: 2026, Month: 11, Day: 10}
	lines := []LineInput{unitLine("0.333", 100, "20"), unitLine("0.333", 100, "20"), unitLine("0.333", 100, "20")}

	cases := []struct {
		name  string
		in    CreditNoteInput
		field string
	}{
		{"no reason", CreditNoteInput{AmountMinor: ptr(int64(1))}, "reason"},
		{"long reason", CreditNoteInput{Reason: string(make([]rune, 501)), AmountMinor: ptr(int64(1))}, "reason"},
		{"neither", CreditNoteInput{Reason: "r"}, "amount_minor"},
		{"both", CreditNoteInput{Reason: "r", AmountMinor: ptr(int64(1)), Lines: lines}, "amount_minor"},
		{"zero amount", CreditNoteInput{Reason: "r", AmountMinor: ptr(int64(0))}, "amount_minor"},
		{"empty lines", CreditNoteInput{Reason: "r", Lines: []LineInput{}}, "lines"},
		{"too many lines", CreditNoteInput{Reason: "r", Lines: make([]LineInput, MaxCreditNoteLines+1)}, "lines"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, apperr.From(tc.in.validate()).Fields, tc.field)
		})
	}

	t.Run("by amount", func(t *testing.T) {
		in := CreditNoteInput{Reason: "goodwill", AmountMinor: ptr(int64(50))}
		require.NoError(t, in.validate())
		cn, err := buildCreditNote(in, inv, today, today.In(time.UTC))
		require.NoError(t, err)
		require.Equal(t, [3]int64{50, 0, 50}, [3]int64{cn.SubtotalMinor, cn.TaxMinor, cn.AmountMinor})
		require.Nil(t, cn.Lines)
		require.Equal(t, today, cn.EffectiveDate)
		require.Equal(t, "USD", cn.Currency)
	})
	t.Run("by lines with the invoice's rounding", func(t *testing.T) {
		in := CreditNoteInput{Reason: "returned", Lines: lines, EffectiveDate: &inv.IssueDate}
		require.NoError(t, in.validate())
		cn, err := buildCreditNote(in, inv, today, today.In(time.UTC))
		require.NoError(t, err)
		require.Equal(t, [3]int64{99, 20, 119}, [3]int64{cn.SubtotalMinor, cn.TaxMinor, cn.AmountMinor})
		require.Equal(t, []int64{7, 7, 6}, taxesOf(cn.Lines))
		require.Equal(t, inv.IssueDate, cn.EffectiveDate)
	})
	t.Run("not before the invoice", func(t *testing.T) {
		before := civil.Date{Year: 2026, Month: 10, Day: 31}
		_, err := buildCreditNote(CreditNoteInput{Reason: "r", AmountMinor: ptr(int64(1)), EffectiveDate: &before}, inv, today, today.In(time.UTC))
		require.Contains(t, apperr.From(err).Fields, "effective_date")
	})
	t.Run("lines worth nothing", func(t *testing.T) {
		_, err := buildCreditNote(CreditNoteInput{Reason: "r", Lines: []LineInput{unitLine("1", 0, "")}}, inv, today, today.In(time.UTC))
		require.Contains(t, apperr.From(err).Fields, "lines")
	})
	require.Equal(t, "CN-000001", CreditNoteNumber(1))
	require.Equal(t, "CN-1234567", CreditNoteNumber(1234567))
}

func TestReasonInput(t *testing.T) {
	require.NoError(t, ReasonInput{}.validate())
	require.NoError(t, ReasonInput{Reason: ptr("duplicate")}.validate())
	require.Error(t, ReasonInput{Reason: ptr("")}.validate())
	require.Error(t, ReasonInput{Reason: ptr(string(make([]rune, 501)))}.validate())
}

func TestEventPayloadWithReason(t *testing.T) {
	inv := draftInvoice(t, PerLine)
	b, err := json.Marshal(withReason{Invoice: inv, Reason: ptr("duplicate")})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "duplicate", m["reason"])
	require.Equal(t, inv.ID.String(), m["id"], "the invoice's members are inline")
	require.Len(t, m["lines"], 2)
}

func TestConstraintViolationsMapToTheRulesCodes(t *testing.T) {
	cases := []struct {
		constraint, code string
		kind             apperr.Kind
	}{
		{"invoices_due_not_negative", "credit_exceeds_amount_due", apperr.Unprocessable},
		{"invoices_paid_means_settled", "credit_exceeds_amount_due", apperr.Unprocessable},
		{"invoices_draft_untouched", "invoice_not_open", apperr.Conflict},
		{"invoices_void_unallocated", "invoice_has_allocations", apperr.Conflict},
		{"credit_notes_invoice_fk", "invoice_not_found", apperr.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.constraint, func(t *testing.T) {
			e := apperr.From(mapWriteError(&pgconn.PgError{Code: "23514", ConstraintName: tc.constraint}))
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.kind, e.Kind)
		})
	}
	e := apperr.From(mapWriteError(&pgconn.PgError{Code: "23505", ConstraintName: "invoices_tenant_id_external_id_key"}))
	require.Equal(t, "invoice_external_id_exists", e.Code)
	e = apperr.From(mapWriteError(fmt.Errorf("batch: %w", errVersionChanged)))
	require.Equal(t, "version_conflict", e.Code)
	require.Equal(t, apperr.PreconditionFailed, e.Kind)
	e = apperr.From(mapWriteError(&pgconn.PgError{Code: "23514", ConstraintName: "something_else"}))
	require.Equal(t, "constraint_violation", e.Code)
	require.NoError(t, mapWriteError(nil))
}
