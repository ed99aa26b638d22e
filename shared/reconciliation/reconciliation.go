// Package reconciliation records the payments banks and payment providers report
// (the InboundPayments processor) and matches them to open invoices: a payment that
// clearly settles one invoice, or a set of them, is allocated at once; otherwise the
// best candidates become suggestions that people accept or reject. Types and the
// message schema (reconciliation.go), the matcher (match.go, no I/O), the use cases
// (service.go) and the SQL (store.go).
package reconciliation

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// InboundPayment is the JSON body of a message on the ledgerline-inbound-payments
// topic, published by banks and payment providers. Members not listed here are
// ignored, so a publisher may send more than Ledgerline reads.
type InboundPayment struct {
	TenantID   string `json:"tenant_id"`   // required: the tenant's id
	ExternalID string `json:"external_id"` // required: the bank's transaction id, 1-128 characters; the payment's external_id
	Direction  string `json:"direction"`   // required: incoming or outgoing
	// AmountMinor is required: a positive integer in minor units of Currency.
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`   // required: ISO 4217, upper case
	ValueDate   string `json:"value_date"` // required: YYYY-MM-DD
	Reference   string `json:"reference"`  // optional, up to 500 characters: matched against invoice numbers
	// CounterpartyID names the counterparty; else CounterpartyName is matched, ignoring
	// case, among the tenant's counterparties of the kind the direction needs.
	CounterpartyID   string `json:"counterparty_id"`
	CounterpartyName string `json:"counterparty_name"`
	Method           string `json:"method"` // optional: one of payments.Methods
}

// decodeInbound reads and validates a message body; the error says what is wrong.
func decodeInbound(body []byte) (InboundPayment, payments.CreateInput, error) {
	var in InboundPayment
	if err := json.Unmarshal(body, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return in, payments.CreateInput{}, apperr.Validation(map[string]string{te.Field: "has the wrong type (" + te.Value + ")"})
		}
		return in, payments.CreateInput{}, apperr.New(apperr.Invalid, "malformed_json", "the body is not a JSON object")
	}
	f := apperr.Fields{}
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	if n := len(in.ExternalID); n == 0 || n > 128 {
		f.Add("external_id", "is required, 1 to 128 characters")
	}
	d := payments.Direction(in.Direction)
	if !d.Valid() {
		f.Add("direction", "must be incoming or outgoing")
	}
	if in.AmountMinor <= 0 {
		f.Add("amount_minor", "must be greater than zero")
	}
	if !money.ValidCurrency(in.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	value, err := civil.ParseDate(in.ValueDate)
	if err != nil {
		f.Add("value_date", "is required (YYYY-MM-DD)")
	}
	if len([]rune(in.Reference)) > 500 {
		f.Add("reference", "must be at most 500 characters")
	}
	if in.CounterpartyID != "" {
		if _, err := uuid.Parse(in.CounterpartyID); err != nil {
			f.Add("counterparty_id", "must be an id")
		}
	}
	in.CounterpartyName = strings.TrimSpace(in.CounterpartyName)
	if len([]rune(in.CounterpartyName)) > 200 {
		f.Add("counterparty_name", "must be at most 200 characters")
	}
	if in.Method != "" && !slices.Contains(payments.Methods, in.Method) {
		f.Add("method", "must be one of "+strings.Join(payments.Methods, ", "))
	}
	if err := f.Err(); err != nil {
		return in, payments.CreateInput{}, err
	}
	out := payments.CreateInput{
		Direction: d, AmountMinor: in.AmountMinor, Currency: in.Currency, ValueDate: value,
		ExternalID: &in.ExternalID,
	}
	if in.Reference != "" {
		out.Reference = &in.Reference
	}
	if in.Method != "" {
		out.Method = &in.Method
	}
	return in, out, nil
}

// Status of a suggestion.
type Status string

const (
	Pending    Status = "pending"
	Accepted   Status = "accepted"
	Rejected   Status = "rejected"
	Superseded Status = "superseded" // another suggestion for the same payment was accepted
)

// Valid reports whether s is known.
func (s Status) Valid() bool {
	return s == Pending || s == Accepted || s == Rejected || s == Superseded
}

// Suggestion proposes allocating a payment to one or more invoices.
type Suggestion struct {
	ID         uuid.UUID   `json:"id"`
	Object     string      `json:"object"`
	PaymentID  uuid.UUID   `json:"payment_id"`
	InvoiceIDs []uuid.UUID `json:"invoice_ids"`
	Amounts    []Amount    `json:"amounts"`
	Score      float64     `json:"score"`
	Reasons    []Reason    `json:"reasons"`
	Status     Status      `json:"status"`
	CreatedAt  time.Time   `json:"created_at"`
	DecidedAt  *time.Time  `json:"decided_at"`
	DecidedBy  *string     `json:"decided_by"`
	currency   string
	direction  payments.Direction
}

// Suggestion versions for events: created, then decided once.
const (
	versionCreated = 1
	versionDecided = 2
)

func newSuggestion(p payments.Summary, c Candidate, at time.Time) Suggestion {
	s := Suggestion{
		ID: uuid.Must(uuid.NewV7()), Object: "reconciliation_suggestion", PaymentID: p.ID, Amounts: c.Amounts,
		Score: c.Score(), Reasons: c.Reasons, Status: Pending, CreatedAt: at, currency: p.Currency, direction: p.Direction,
	}
	s.fill()
	return s
}

// fill derives the invoice ids from the amounts, and never leaves a list null.
func (s *Suggestion) fill() {
	s.Object = "reconciliation_suggestion"
	s.InvoiceIDs = make([]uuid.UUID, len(s.Amounts))
	for i, a := range s.Amounts {
		s.InvoiceIDs[i] = a.InvoiceID
	}
	if s.Reasons == nil {
		s.Reasons = []Reason{}
	}
}

// decided returns s as decided by who at at.
func (s Suggestion) decided(status Status, who string, at time.Time) Suggestion {
	s.Status, s.DecidedAt, s.DecidedBy = status, &at, &who
	return s
}

// ListFilter narrows GET /v1/reconciliation/suggestions.
type ListFilter struct {
	Status    *Status
	PaymentID *uuid.UUID
}
