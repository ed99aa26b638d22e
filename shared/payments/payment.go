// Package payments holds payments (incoming from customers, outgoing to vendors) and
// their allocations to invoices: types and validation (payment.go, no I/O), the use
// cases that own transactions, lock rows in a fixed order and write audit and outbox
// records (service.go), and the SQL (store.go).
//
// The invariants (allocations never exceed the payment nor an invoice's amount due,
// same currency and matching direction, nothing allocated to drafts or void invoices)
// are enforced by the database: triggers apply every allocation to its payment and
// invoice, whose CHECK constraints bound the sums, and the foreign keys carry currency
// and direction. The checks here run first, on locked rows, to give precise errors.
package payments

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Direction says who paid whom.
type Direction string

const (
	Incoming Direction = "incoming" // a customer paid the tenant
	Outgoing Direction = "outgoing" // the tenant paid a vendor
)

// Valid reports whether d is known.
func (d Direction) Valid() bool { return d == Incoming || d == Outgoing }

// InvoiceDirection is the direction of the invoices a payment of d can settle.
func (d Direction) InvoiceDirection() string {
	if d == Incoming {
		return "receivable"
	}
	return "payable"
}

// Status of a payment.
type Status string

const (
	Posted   Status = "posted"
	Reversed Status = "reversed"
)

// Valid reports whether s is known.
func (s Status) Valid() bool { return s == Posted || s == Reversed }

// Methods are the accepted payment methods.
var Methods = []string{"bank_transfer", "card", "cash", "check", "direct_debit", "other"}

// Allocation applies part of a payment to an invoice.
type Allocation struct {
	ID             uuid.UUID  `json:"id"`
	Object         string     `json:"object"`
	PaymentID      uuid.UUID  `json:"payment_id"`
	InvoiceID      uuid.UUID  `json:"invoice_id"`
	AmountMinor    int64      `json:"amount_minor"`
	Currency       string     `json:"currency"`
	EffectiveDate  civil.Date `json:"effective_date"`
	Status         string     `json:"status"` // active or reversed
	CreatedAt      time.Time  `json:"created_at"`
	ReversedAt     *time.Time `json:"reversed_at"`
	ReversalReason *string    `json:"reversal_reason"`
}

// Summary is a payment without its allocations, as list pages show it.
type Summary struct {
	ID                     uuid.UUID  `json:"id"`
	Object                 string     `json:"object"`
	Direction              Direction  `json:"direction"`
	Status                 Status     `json:"status"`
	CounterpartyID         uuid.UUID  `json:"counterparty_id"`
	AmountMinor            int64      `json:"amount_minor"`
	AmountAllocatedMinor   int64      `json:"amount_allocated_minor"`
	AmountUnallocatedMinor int64      `json:"amount_unallocated_minor"`
	Currency               string     `json:"currency"`
	ValueDate              civil.Date `json:"value_date"`
	Method                 *string    `json:"method"`
	Reference              *string    `json:"reference"`
	ExternalID             *string    `json:"external_id"`
	Version                int        `json:"version"`
	CreatedAt              time.Time  `json:"created_at"`
	UpdatedAt              time.Time  `json:"updated_at"`
	ReversedAt             *time.Time `json:"reversed_at"`
	ReversalReason         *string    `json:"reversal_reason"`
	createdBy              string
}

// Payment is a payment with its allocations.
type Payment struct {
	Summary
	Allocations []Allocation `json:"allocations"`
}

// AllocationInput asks to apply amount to an invoice.
type AllocationInput struct {
	InvoiceID     uuid.UUID   `json:"invoice_id"`
	AmountMinor   int64       `json:"amount_minor"`
	EffectiveDate *civil.Date `json:"effective_date"`
}

// CreateInput is the body of POST /v1/payments.
type CreateInput struct {
	Direction      Direction         `json:"direction"`
	CounterpartyID uuid.UUID         `json:"counterparty_id"`
	AmountMinor    int64             `json:"amount_minor"`
	Currency       string            `json:"currency"`
	ValueDate      civil.Date        `json:"value_date"`
	Method         *string           `json:"method"`
	Reference      *string           `json:"reference"`
	ExternalID     *string           `json:"external_id"`
	Allocations    []AllocationInput `json:"allocations"`
}

// AllocateInput is the body of POST /v1/payments/{id}/allocations.
type AllocateInput struct {
	Allocations []AllocationInput `json:"allocations"`
}

// ReverseInput is the body of the reversal operations.
type ReverseInput struct {
	Reason string `json:"reason"`
}

// MaxAllocations bounds one request.
const MaxAllocations = 100

// Validate returns the 422 that Create answers for in before it reads anything, so
// that bulk imports refuse exactly what the API refuses. Allocations are checked
// against their invoices by Create.
func (in CreateInput) Validate() error { return in.validate() }

func (in CreateInput) validate() error {
	f := apperr.Fields{}
	if !in.Direction.Valid() {
		f.Add("direction", "must be incoming or outgoing")
	}
	if in.CounterpartyID == uuid.Nil {
		f.Add("counterparty_id", "is required")
	}
	if in.AmountMinor <= 0 {
		f.Add("amount_minor", "must be greater than zero")
	}
	if !money.ValidCurrency(in.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	if in.ValueDate.IsZero() || !in.ValueDate.IsValid() {
		f.Add("value_date", "is required (YYYY-MM-DD)")
	}
	if in.Method != nil && !validMethod(*in.Method) {
		f.Add("method", "must be one of "+strings.Join(Methods, ", "))
	}
	if in.Reference != nil && len([]rune(*in.Reference)) > 500 {
		f.Add("reference", "must be at most 500 characters")
	}
	if in.ExternalID != nil && (len(*in.ExternalID) == 0 || len(*in.ExternalID) > 128) {
		f.Add("external_id", "must be 1 to 128 characters")
	}
	validateAllocations(in.Allocations, false, f)
	return f.Err()
}

func validateAllocations(as []AllocationInput, required bool, f apperr.Fields) {
	switch {
	case required && len(as) == 0:
		f.Add("allocations", "at least one allocation is required")
	case len(as) > MaxAllocations:
		f.Add("allocations", fmt.Sprintf("at most %d allocations", MaxAllocations))
	}
	for i, a := range as {
		if a.InvoiceID == uuid.Nil {
			f.Add(fmt.Sprintf("allocations[%d].invoice_id", i), "is required")
		}
		if a.AmountMinor <= 0 {
			f.Add(fmt.Sprintf("allocations[%d].amount_minor", i), "must be greater than zero")
		}
		if a.EffectiveDate != nil && !a.EffectiveDate.IsValid() {
			f.Add(fmt.Sprintf("allocations[%d].effective_date", i), "must be a date (YYYY-MM-DD)")
		}
	}
}

func (in ReverseInput) validate() error {
	r := strings.TrimSpace(in.Reason)
	if r == "" || len([]rune(r)) > 500 {
		return apperr.Validation(map[string]string{"reason": "must be 1 to 500 characters"})
	}
	return nil
}

func validMethod(m string) bool {
	for _, v := range Methods {
		if v == m {
			return true
		}
	}
	return false
}

// ListFilter narrows GET /v1/payments.
type ListFilter struct {
	Direction      *Direction
	Status         *Status
	CounterpartyID *uuid.UUID
	Currency       *string
}

// invoiceState is the part of a locked invoice an allocation is checked against.
type invoiceState struct {
	ID             uuid.UUID `json:"id"`
	Direction      string    `json:"direction"`
	Status         string    `json:"status"`
	Currency       string    `json:"currency"`
	TotalMinor     int64     `json:"total_minor"`
	AmountPaid     int64     `json:"amount_paid_minor"`
	AmountCredited int64     `json:"amount_credited_minor"`
	AmountDue      int64     `json:"amount_due_minor"`
	Version        int       `json:"version"`
}

// planned is a validated allocation ready to insert.
type planned struct {
	input AllocationInput
	row   Allocation
}

// plan checks allocations against the locked payment and invoices, in request order,
// and returns the rows to insert. Amounts to one invoice are summed across the request,
// so splitting an over-allocation into several lines does not get past the check.
func plan(p Summary, as []AllocationInput, invoices map[uuid.UUID]invoiceState, createdAt time.Time) ([]Allocation, error) {
	if p.Status == Reversed {
		return nil, apperr.New(apperr.Conflict, "payment_reversed", "the payment is reversed and takes no allocations")
	}
	perInvoice := map[uuid.UUID]int64{}
	var total int64
	rows := make([]Allocation, 0, len(as))
	for i, a := range as {
		inv, ok := invoices[a.InvoiceID]
		if !ok {
			return nil, apperr.Validation(map[string]string{fmt.Sprintf("allocations[%d].invoice_id", i): "no such invoice"})
		}
		if inv.Currency != p.Currency {
			return nil, apperr.New(apperr.Unprocessable, "currency_mismatch",
				fmt.Sprintf("invoice %s is in %s but the payment is in %s", inv.ID, inv.Currency, p.Currency))
		}
		if inv.Direction != p.Direction.InvoiceDirection() {
			return nil, apperr.New(apperr.Unprocessable, "direction_mismatch",
				fmt.Sprintf("an %s payment settles %s invoices; invoice %s is %s", p.Direction, p.Direction.InvoiceDirection(), inv.ID, inv.Direction))
		}
		if inv.Status != "open" && inv.Status != "uncollectible" {
			return nil, apperr.New(apperr.Conflict, "invoice_not_open",
				fmt.Sprintf("invoice %s is %s and takes no allocations", inv.ID, inv.Status))
		}
		perInvoice[a.InvoiceID] += a.AmountMinor
		if perInvoice[a.InvoiceID] > inv.AmountDue {
			return nil, apperr.New(apperr.Unprocessable, "allocation_exceeds_amount_due",
				fmt.Sprintf("invoice %s has %d due; %d was allocated", inv.ID, inv.AmountDue, perInvoice[a.InvoiceID]))
		}
		var err error
		if total, err = money.Add(total, a.AmountMinor); err != nil {
			return nil, apperr.Validation(map[string]string{"allocations": "the total is too large"})
		}
		effective := p.ValueDate
		if a.EffectiveDate != nil {
			effective = *a.EffectiveDate
		}
		rows = append(rows, Allocation{
			ID: uuid.Must(uuid.NewV7()), Object: "allocation", PaymentID: p.ID, InvoiceID: a.InvoiceID,
			AmountMinor: a.AmountMinor, Currency: p.Currency, EffectiveDate: effective, Status: "active", CreatedAt: createdAt,
		})
	}
	if total > p.AmountMinor-p.AmountAllocatedMinor {
		return nil, apperr.New(apperr.Unprocessable, "allocation_exceeds_unallocated",
			fmt.Sprintf("the payment has %d unallocated; %d was allocated", p.AmountMinor-p.AmountAllocatedMinor, total))
	}
	return rows, nil
}

// invoiceEvent names what an allocation change did to an invoice.
func invoiceEvent(before, after invoiceState, reversal bool) string {
	switch {
	case before.Status != "paid" && after.Status == "paid":
		return "invoice.paid"
	case before.Status == "paid" && after.Status != "paid":
		return "invoice.reopened"
	case reversal:
		return "invoice.allocation_reversed"
	default:
		return "invoice.allocated"
	}
}
