// Package invoices holds invoices (receivable) and bills (payable): their types, line
// arithmetic and validation (invoice.go, no I/O), the use cases that own transactions
// and write audit and outbox records (service.go), and the only SQL that touches them
// (store.go).
package invoices

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Direction says who owes whom.
type Direction string

const (
	Receivable Direction = "receivable" // the tenant invoiced a customer
	Payable    Direction = "payable"    // a vendor billed the tenant
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Receivable || d == Payable }

// Status is where an invoice is in its lifecycle.
type Status string

const (
	Draft         Status = "draft"
	Open          Status = "open"
	Paid          Status = "paid"
	Void          Status = "void"
	Uncollectible Status = "uncollectible"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Draft, Open, Paid, Void, Uncollectible:
		return true
	}
	return false
}

// Line is one invoice line. Amounts are minor units of the invoice's currency.
type Line struct {
	ID              uuid.UUID `json:"id"`
	Position        int       `json:"position"`
	Description     string    `json:"description"`
	Quantity        string    `json:"quantity"`
	UnitAmountMinor int64     `json:"unit_amount_minor"`
	TaxRate         *string   `json:"tax_rate"`
	AmountMinor     int64     `json:"amount_minor"`
	TaxMinor        int64     `json:"tax_minor"`
	TotalMinor      int64     `json:"total_minor"`
}

// Summary is an invoice without its lines, as list pages show it.
type Summary struct {
	ID                  uuid.UUID  `json:"id"`
	Object              string     `json:"object"`
	Direction           Direction  `json:"direction"`
	Status              Status     `json:"status"`
	Number              *string    `json:"number"`
	CounterpartyID      uuid.UUID  `json:"counterparty_id"`
	Currency            string     `json:"currency"`
	IssueDate           civil.Date `json:"issue_date"`
	DueDate             civil.Date `json:"due_date"`
	Memo                *string    `json:"memo"`
	ExternalID          *string    `json:"external_id"`
	SubtotalMinor       int64      `json:"subtotal_minor"`
	TaxMinor            int64      `json:"tax_minor"`
	TotalMinor          int64      `json:"total_minor"`
	AmountPaidMinor     int64      `json:"amount_paid_minor"`
	AmountCreditedMinor int64      `json:"amount_credited_minor"`
	AmountDueMinor      int64      `json:"amount_due_minor"`
	Version             int        `json:"version"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	FinalizedAt         *time.Time `json:"finalized_at"`
}

// Invoice is an invoice or bill with its lines.
type Invoice struct {
	Summary
	Lines []Line `json:"lines"`
}

// LineInput is one line of a create request.
type LineInput struct {
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitAmountMinor *int64  `json:"unit_amount_minor"`
	TaxRate         *string `json:"tax_rate"`
}

// CreateInput is the body of POST /v1/invoices.
type CreateInput struct {
	Direction      Direction   `json:"direction"`
	CounterpartyID uuid.UUID   `json:"counterparty_id"`
	Currency       string      `json:"currency"`
	IssueDate      civil.Date  `json:"issue_date"`
	DueDate        *civil.Date `json:"due_date"`
	Status         *Status     `json:"status"`
	Memo           *string     `json:"memo"`
	ExternalID     *string     `json:"external_id"`
	Lines          []LineInput `json:"lines"`
}

// MaxLines bounds one invoice; larger documents are split upstream.
const MaxLines = 500

// draft is a validated create request with every amount computed.
type draft struct {
	in       CreateInput
	status   Status
	lines    []Line
	subtotal int64
	tax      int64
	total    int64
}

// prepare validates in and computes line amounts and totals. Each line's amount is
// quantity × unit amount rounded once, half-even, to the minor unit; its tax is the
// rounded amount × rate rounded once, half-even (tax per line). Totals are exact sums
// of the rounded figures, so lines always add up to the document.
func prepare(in CreateInput) (draft, error) {
	f := apperr.Fields{}
	if !in.Direction.Valid() {
		f.Add("direction", "must be receivable or payable")
	}
	if in.CounterpartyID == uuid.Nil {
		f.Add("counterparty_id", "is required")
	}
	if !money.ValidCurrency(in.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	if in.IssueDate.IsZero() || !in.IssueDate.IsValid() {
		f.Add("issue_date", "is required (YYYY-MM-DD)")
	}
	if in.DueDate != nil && in.DueDate.Before(in.IssueDate) {
		f.Add("due_date", "must not be before issue_date")
	}
	status := Draft
	if in.Status != nil {
		status = *in.Status
		if status != Draft && status != Open {
			f.Add("status", "must be draft or open")
		}
	}
	if in.Memo != nil && len([]rune(*in.Memo)) > 2000 {
		f.Add("memo", "must be at most 2000 characters")
	}
	if in.ExternalID != nil && (len(*in.ExternalID) == 0 || len(*in.ExternalID) > 128) {
		f.Add("external_id", "must be 1 to 128 characters")
	}
	switch {
	case len(in.Lines) == 0:
		f.Add("lines", "at least one line is required")
	case len(in.Lines) > MaxLines:
		f.Add("lines", fmt.Sprintf("at most %d lines", MaxLines))
	}
	d := draft{in: in, status: status, lines: make([]Line, 0, len(in.Lines))}
	var amounts, taxes []int64
	for i, li := range in.Lines {
		field := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
		line, err := prepareLine(li, i+1, field, f)
		if err != nil {
			continue
		}
		d.lines = append(d.lines, line)
		amounts = append(amounts, line.AmountMinor)
		taxes = append(taxes, line.TaxMinor)
	}
	if err := f.Err(); err != nil {
		return draft{}, err
	}
	var err1, err2, err3 error
	d.subtotal, err1 = money.Sum(amounts...)
	d.tax, err2 = money.Sum(taxes...)
	d.total, err3 = money.Add(d.subtotal, d.tax)
	if err1 != nil || err2 != nil || err3 != nil {
		f.Add("lines", "the invoice total is too large")
		return draft{}, f.Err()
	}
	return d, nil
}

func prepareLine(li LineInput, position int, field func(string) string, f apperr.Fields) (Line, error) {
	bad := false
	desc := strings.TrimSpace(li.Description)
	if desc == "" || len([]rune(desc)) > 500 {
		f.Add(field("description"), "must be 1 to 500 characters")
		bad = true
	}
	qty, err := money.ParseDecimal(li.Quantity)
	if err != nil {
		f.Add(field("quantity"), "must be a decimal string such as \"3\" or \"2.5\"")
		bad = true
	} else if qty.Sign() <= 0 {
		f.Add(field("quantity"), "must be greater than zero")
		bad = true
	}
	if li.UnitAmountMinor == nil {
		f.Add(field("unit_amount_minor"), "is required")
		bad = true
	} else if *li.UnitAmountMinor < 0 {
		f.Add(field("unit_amount_minor"), "must not be negative")
		bad = true
	}
	var rate money.Decimal
	var rateText *string
	if li.TaxRate != nil {
		rate, err = money.ParseDecimal(*li.TaxRate)
		hundred, _ := money.ParseDecimal("100")
		if err != nil || rate.Sign() < 0 || rate.Cmp(hundred) > 0 || rate.Scale() > 6 {
			f.Add(field("tax_rate"), "must be a percentage from 0 to 100 with at most 6 decimals")
			bad = true
		} else {
			s := rate.String()
			rateText = &s
		}
	}
	if bad {
		return Line{}, errLine
	}
	amount, err := money.LineAmount(qty, *li.UnitAmountMinor, money.HalfEven)
	if err != nil {
		f.Add(field("unit_amount_minor"), "quantity × unit amount is too large")
		return Line{}, errLine
	}
	var tax int64
	if rateText != nil {
		if tax, err = money.Tax(amount, rate, money.HalfEven); err != nil {
			f.Add(field("tax_rate"), "the tax amount is too large")
			return Line{}, errLine
		}
	}
	total, err := money.Add(amount, tax)
	if err != nil {
		f.Add(field("unit_amount_minor"), "the line total is too large")
		return Line{}, errLine
	}
	return Line{
		ID: uuid.Must(uuid.NewV7()), Position: position, Description: desc, Quantity: qty.String(),
		UnitAmountMinor: *li.UnitAmountMinor, TaxRate: rateText, AmountMinor: amount, TaxMinor: tax, TotalMinor: total,
	}, nil
}

var errLine = fmt.Errorf("invalid line")

// Number formats the gapless sequence number of a document.
func Number(d Direction, n int64) string {
	if d == Payable {
		return fmt.Sprintf("BILL-%06d", n)
	}
	return fmt.Sprintf("INV-%06d", n)
}

// ListFilter narrows GET /v1/invoices.
type ListFilter struct {
	Direction      *Direction
	Status         *Status
	CounterpartyID *uuid.UUID
}
