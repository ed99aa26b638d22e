package invoices

import (
	"fmt"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// CreditNote reduces what is due on an issued invoice. It is final: a mistaken credit
// note is corrected by invoicing again, never by editing or deleting it.
type CreditNote struct {
	ID            uuid.UUID  `json:"id"`
	Object        string     `json:"object"`
	InvoiceID     uuid.UUID  `json:"invoice_id"`
	Number        string     `json:"number"`
	Currency      string     `json:"currency"`
	SubtotalMinor int64      `json:"subtotal_minor"`
	TaxMinor      int64      `json:"tax_minor"`
	AmountMinor   int64      `json:"amount_minor"`
	Reason        string     `json:"reason"`
	EffectiveDate civil.Date `json:"effective_date"`
	Lines         []Line     `json:"lines"` // nil when credited by amount
	CreatedAt     time.Time  `json:"created_at"`
}

// CreditNoteInput is the body of POST /v1/invoices/{id}/credit-notes: a reason and
// either a plain amount or lines priced like invoice lines.
type CreditNoteInput struct {
	Reason        string      `json:"reason"`
	EffectiveDate *civil.Date `json:"effective_date"`
	AmountMinor   *int64      `json:"amount_minor"`
	Lines         []LineInput `json:"lines"`
}

// MaxCreditNoteLines bounds one credit note.
const MaxCreditNoteLines = 100

// CreditNoteNumber is a credit note's number in the default format (settings.Defaults).
func CreditNoteNumber(n int64) string { return fmt.Sprintf("CN-%06d", n) }

// validate checks what can be checked without the invoice.
func (in CreditNoteInput) validate() error {
	f := apperr.Fields{}
	if n := len([]rune(in.Reason)); n == 0 || n > 500 {
		f.Add("reason", "must be 1 to 500 characters")
	}
	if in.EffectiveDate != nil && !in.EffectiveDate.IsValid() {
		f.Add("effective_date", "must be a date (YYYY-MM-DD)")
	}
	switch {
	case (in.AmountMinor == nil) == (in.Lines == nil):
		f.Add("amount_minor", "exactly one of amount_minor and lines is required")
	case in.AmountMinor != nil && *in.AmountMinor <= 0:
		f.Add("amount_minor", "must be greater than zero")
	case in.Lines != nil:
		checkLineCount(len(in.Lines), MaxCreditNoteLines, f)
	}
	return f.Err()
}

// buildCreditNote checks a validated in against the invoice it credits and computes its amounts:
// lines are priced in the invoice's currency with the invoice's tax rounding, an amount
// carries no tax. today is the default effective date. Whether the invoice may be
// credited by that much is the caller's check.
func buildCreditNote(in CreditNoteInput, inv Summary, today civil.Date, now time.Time) (CreditNote, error) {
	f := apperr.Fields{}
	effective := today
	if in.EffectiveDate != nil {
		effective = *in.EffectiveDate
		if effective.Before(inv.IssueDate) {
			f.Add("effective_date", "must not be before the invoice's issue_date")
		}
	}
	var lines []Line
	if in.Lines != nil {
		lines = parseLines(in.Lines, inv.Currency, f)
	}
	if err := f.Err(); err != nil {
		return CreditNote{}, err
	}
	c := CreditNote{
		ID: uuid.Must(uuid.NewV7()), Object: "credit_note", InvoiceID: inv.ID, Currency: inv.Currency,
		Reason: in.Reason, EffectiveDate: effective, CreatedAt: now,
	}
	if in.AmountMinor != nil {
		c.SubtotalMinor, c.AmountMinor = *in.AmountMinor, *in.AmountMinor
		return c, nil
	}
	t, err := price(lines, inv.TaxRounding)
	if err != nil {
		return CreditNote{}, err
	}
	if t.total == 0 {
		return CreditNote{}, apperr.Validation(map[string]string{"lines": "the credit note must credit more than zero"})
	}
	c.Lines, c.SubtotalMinor, c.TaxMinor, c.AmountMinor = lines, t.subtotal, t.tax, t.total
	return c, nil
}
