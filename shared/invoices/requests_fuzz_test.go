package invoices

import (
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// refusalCodes are the codes a request body of this package can be refused with before
// the database is involved: the decoder's and validation's.
var refusalCodes = []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed"}

func requireRefusal(t *testing.T, err error, body []byte) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%q: %T %v is not an apperr.Error", body, err, err)
	}
	if (ae.Kind != apperr.Invalid && ae.Kind != apperr.Unprocessable) || !slices.Contains(refusalCodes, ae.Code) {
		t.Fatalf("%q: kind %v code %q is not a stable refusal: %v", body, ae.Kind, ae.Code, err)
	}
}

// requireBalanced checks what pricing promises: every line's total is its amount plus
// its tax, and the document's totals are the sums of its lines.
func requireBalanced(t *testing.T, lines []Line, tt totals, body []byte) {
	t.Helper()
	var sub, tax int64
	for _, l := range lines {
		if l.TotalMinor != l.AmountMinor+l.TaxMinor || l.AmountMinor < 0 || l.TaxMinor < 0 {
			t.Fatalf("%q: line %+v does not add up", body, l)
		}
		sub += l.AmountMinor
		tax += l.TaxMinor
	}
	if tt.subtotal != sub || tt.tax != tax || tt.total != sub+tax {
		t.Fatalf("%q: totals %+v, lines sum to %d + %d", body, tt, sub, tax)
	}
}

// draftFixture is an invoice an update applies to.
func draftFixture(mode TaxRounding) Invoice {
	unit := int64(15000)
	rate := "20"
	return Invoice{
		Summary: Summary{ID: uuid.New(), CounterpartyID: uuid.New(), Currency: "USD", Status: Draft, Direction: Receivable,
			IssueDate: civil.Date{Year: 2026, Month: 11, Day: 1}, DueDate: civil.Date{Year: 2026, Month: 11, Day: 15}, TaxRounding: mode},
		Lines: []Line{{ID: uuid.New(), Position: 1, Description: "Consulting", Quantity: "3", UnitAmountMinor: &unit, TaxRate: &rate}},
	}
}

// FuzzRequestBodies decodes arbitrary bytes as each request body of the invoice
// operations and validates and prices what decodes: never a panic; either a balanced
// document or a 400/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	seeds := map[uint8][]string{
		0: { // CreateInput
			`{"direction":"receivable","counterparty_id":"0190f5d4-9c1e-7a3b-8000-000000000001","currency":"USD","issue_date":"2026-11-01",` +
				`"lines":[{"description":"Consulting","quantity":"3","unit_amount_minor":15000,"tax_rate":"20"}]}`,
			`{"direction":"payable","counterparty_id":"0190f5d4-9c1e-7a3b-8000-000000000001","currency":"JPY","issue_date":"2026-11-01",` +
				`"due_date":"2026-10-01","status":"open","lines":[{"description":"Pens","quantity":"0.001","unit_price":"0.0125"}]}`,
			`{"direction":"receivable","currency":"KWD","issue_date":"2026-02-30","lines":[{"quantity":"9999999999999999999","unit_amount_minor":9223372036854775807,"tax_rate":"100"}]}`,
			`{"lines":[{"unit_amount_minor":-1,"unit_price":"1"}]}`, `{"status":"paid"}`, `{"currency":"usd"}`,
		},
		1: { // UpdateInput
			`{"memo":"new","lines":[{"description":"A","quantity":"1","unit_amount_minor":1}]}`,
			`{"due_date":null,"currency":null}`, `{"issue_date":"2026-12-01"}`, `{"currency":"JPY"}`, `{"lines":[]}`,
		},
		2: {`{"reason":"duplicate"}`, `{"reason":""}`, `{"reason":null}`, `{}`}, // ReasonInput
		3: { // CreditNoteInput
			`{"reason":"goodwill","amount_minor":1000}`, `{"reason":"returned","lines":[{"description":"A","quantity":"1","unit_amount_minor":100,"tax_rate":"7.5"}]}`,
			`{"reason":"x","amount_minor":0}`, `{"reason":"x","effective_date":"2026-01-01","lines":[]}`, `{"reason":"x","amount_minor":1,"lines":[]}`,
		},
	}
	for which, bodies := range seeds {
		for _, b := range bodies {
			f.Add(which, []byte(b))
		}
		f.Add(which, []byte(`{"unknown":true}`))
		f.Add(which, []byte(`not json`))
	}
	today := civil.Date{Year: 2026, Month: 11, Day: 20}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		switch which % 4 {
		case 0:
			var in CreateInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			d, err := prepare(in)
			if err != nil {
				requireRefusal(t, err, body)
				return
			}
			for _, mode := range []TaxRounding{PerLine, PerDocument} {
				lines := slices.Clone(d.lines)
				tt, err := price(lines, mode)
				if err != nil {
					requireRefusal(t, err, body)
					continue
				}
				requireBalanced(t, lines, tt, body)
			}
		case 1:
			var in UpdateInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			for _, mode := range []TaxRounding{PerLine, PerDocument} {
				next, err := in.apply(draftFixture(mode))
				if err != nil {
					requireRefusal(t, err, body)
					continue
				}
				requireBalanced(t, next.Lines, totals{next.SubtotalMinor, next.TaxMinor, next.TotalMinor}, body)
				if next.AmountDueMinor != next.TotalMinor {
					t.Fatalf("%q: a draft owes %d of %d", body, next.AmountDueMinor, next.TotalMinor)
				}
			}
		case 2:
			var in ReasonInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			if err := in.validate(); err != nil {
				requireRefusal(t, err, body)
			}
		case 3:
			var in CreditNoteInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			if err := in.validate(); err != nil {
				requireRefusal(t, err, body)
				return
			}
			inv := draftFixture(PerLine).Summary
			c, err := buildCreditNote(in, inv, today, time.Now())
			if err != nil {
				requireRefusal(t, err, body)
				return
			}
			if c.AmountMinor <= 0 || c.AmountMinor != c.SubtotalMinor+c.TaxMinor {
				t.Fatalf("%q: credit note of %d = %d + %d", body, c.AmountMinor, c.SubtotalMinor, c.TaxMinor)
			}
		}
	})
}
