// Package counterparties holds customers and vendors: their types and validation
// (counterparty.go, no I/O), the use cases that own transactions and write audit and
// outbox records (service.go), and the only SQL that touches them (store.go).
package counterparties

import (
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Kind says whether a counterparty buys from the tenant, sells to it, or both.
type Kind string

const (
	Customer Kind = "customer"
	Vendor   Kind = "vendor"
	Both     Kind = "both"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Customer || k == Vendor || k == Both }

// Counterparty is a customer or vendor of a tenant.
type Counterparty struct {
	ID               uuid.UUID `json:"id"`
	Object           string    `json:"object"`
	Name             string    `json:"name"`
	Kind             Kind      `json:"kind"`
	Email            *string   `json:"email"`
	TaxID            *string   `json:"tax_id"`
	DefaultCurrency  *string   `json:"default_currency"`
	PaymentTermsDays int       `json:"payment_terms_days"`
	ExternalID       *string   `json:"external_id"`
	Version          int       `json:"version"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// CreateInput is the body of POST /v1/counterparties.
type CreateInput struct {
	Name             string  `json:"name"`
	Kind             Kind    `json:"kind"`
	Email            *string `json:"email"`
	TaxID            *string `json:"tax_id"`
	DefaultCurrency  *string `json:"default_currency"`
	PaymentTermsDays *int    `json:"payment_terms_days"`
	ExternalID       *string `json:"external_id"`
}

// DefaultPaymentTermsDays applies when a counterparty names none.
const DefaultPaymentTermsDays = 30

// Validate checks in and returns it normalised (trimmed names, default terms).
func (in CreateInput) Validate() (CreateInput, error) {
	f := apperr.Fields{}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		f.Add("name", "is required")
	case len([]rune(in.Name)) > 200:
		f.Add("name", "must be at most 200 characters")
	}
	if !in.Kind.Valid() {
		f.Add("kind", "must be customer, vendor or both")
	}
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			f.Add("email", "must be a plain e-mail address")
		}
		in.Email = &e
	}
	if in.TaxID != nil && (len(*in.TaxID) == 0 || len(*in.TaxID) > 64) {
		f.Add("tax_id", "must be 1 to 64 characters")
	}
	if in.DefaultCurrency != nil && !money.ValidCurrency(*in.DefaultCurrency) {
		f.Add("default_currency", "must be an active ISO 4217 code in upper case")
	}
	if in.PaymentTermsDays == nil {
		d := DefaultPaymentTermsDays
		in.PaymentTermsDays = &d
	} else if *in.PaymentTermsDays < 0 || *in.PaymentTermsDays > 365 {
		f.Add("payment_terms_days", "must be from 0 to 365")
	}
	if in.ExternalID != nil && (len(*in.ExternalID) == 0 || len(*in.ExternalID) > 128) {
		f.Add("external_id", "must be 1 to 128 characters")
	}
	return in, f.Err()
}

// ListFilter narrows GET /v1/counterparties.
type ListFilter struct {
	Kind *Kind
}
