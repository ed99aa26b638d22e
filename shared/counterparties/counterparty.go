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
	"github.com/ledgerline/ledgerline/shared/patch"
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

// Apply returns the values of the counterparty in describes, normalised, or the 422
// naming every invalid field. Identity, version and timestamps are the caller's.
func (in CreateInput) Apply() (Counterparty, error) {
	c := Counterparty{
		Name: in.Name, Kind: in.Kind, Email: in.Email, TaxID: in.TaxID, DefaultCurrency: in.DefaultCurrency,
		PaymentTermsDays: DefaultPaymentTermsDays, ExternalID: in.ExternalID,
	}
	if in.PaymentTermsDays != nil {
		c.PaymentTermsDays = *in.PaymentTermsDays
	}
	f := apperr.Fields{}
	c = c.validate(f)
	return c, f.Err()
}

// UpdateInput is the body of PATCH /v1/counterparties/{id}, a JSON merge patch.
type UpdateInput struct {
	Name             patch.Field[string] `json:"name"`
	Kind             patch.Field[Kind]   `json:"kind"`
	Email            patch.Field[string] `json:"email"`
	TaxID            patch.Field[string] `json:"tax_id"`
	DefaultCurrency  patch.Field[string] `json:"default_currency"`
	PaymentTermsDays patch.Field[int]    `json:"payment_terms_days"`
	ExternalID       patch.Field[string] `json:"external_id"`
}

// Apply returns c with the patch applied and normalised, or the 422 naming every
// invalid field. The result is held to exactly the rules of a new counterparty, so an
// update can never produce one that create would refuse.
func (in UpdateInput) Apply(c Counterparty) (Counterparty, error) {
	f := apperr.Fields{}
	for field, set := range map[string]bool{
		"name": in.Name.Null, "kind": in.Kind.Null, "payment_terms_days": in.PaymentTermsDays.Null,
	} {
		if set {
			f.Add(field, "must not be null")
		}
	}
	c.Name = in.Name.Or(c.Name)
	c.Kind = in.Kind.Or(c.Kind)
	c.Email = in.Email.Apply(c.Email)
	c.TaxID = in.TaxID.Apply(c.TaxID)
	c.DefaultCurrency = in.DefaultCurrency.Apply(c.DefaultCurrency)
	c.PaymentTermsDays = in.PaymentTermsDays.Or(c.PaymentTermsDays)
	c.ExternalID = in.ExternalID.Apply(c.ExternalID)
	c = c.validate(f)
	return c, f.Err()
}

// validate records in f what is wrong with c's values and returns them normalised
// (name and e-mail trimmed).
func (c Counterparty) validate(f apperr.Fields) Counterparty {
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "":
		f.Add("name", "is required")
	case len([]rune(c.Name)) > 200:
		f.Add("name", "must be at most 200 characters")
	}
	if !c.Kind.Valid() {
		f.Add("kind", "must be customer, vendor or both")
	}
	if c.Email != nil {
		e := strings.TrimSpace(*c.Email)
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
			f.Add("email", "must be a plain e-mail address")
		}
		c.Email = &e
	}
	if c.TaxID != nil && (len(*c.TaxID) == 0 || len(*c.TaxID) > 64) {
		f.Add("tax_id", "must be 1 to 64 characters")
	}
	if c.DefaultCurrency != nil && !money.ValidCurrency(*c.DefaultCurrency) {
		f.Add("default_currency", "must be an active ISO 4217 code in upper case")
	}
	if c.PaymentTermsDays < 0 || c.PaymentTermsDays > 365 {
		f.Add("payment_terms_days", "must be from 0 to 365")
	}
	if c.ExternalID != nil && (len(*c.ExternalID) == 0 || len(*c.ExternalID) > 128) {
		f.Add("external_id", "must be 1 to 128 characters")
	}
	return c
}

// ListFilter narrows GET /v1/counterparties.
type ListFilter struct {
	Kind *Kind
}
