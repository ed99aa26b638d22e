package counterparties

import (
	"errors"
	"slices"
	"strings"
	"testing"

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

// requireNormal checks what Apply promises of an accepted counterparty.
func requireNormal(t *testing.T, c Counterparty, body []byte) {
	t.Helper()
	if c.Name == "" || c.Name != strings.TrimSpace(c.Name) || !c.Kind.Valid() || c.PaymentTermsDays < 0 || c.PaymentTermsDays > 365 {
		t.Fatalf("%q accepted as %+v", body, c)
	}
}

// FuzzRequestBodies decodes arbitrary bytes as the create and update bodies and
// applies what decodes: never a panic; either a normalised counterparty or a 400/422
// with a stable code.
func FuzzRequestBodies(f *testing.F) {
	seeds := map[uint8][]string{
		0: {
			`{"name":"Acme","kind":"customer","email":"ap@acme.test","tax_id":"DE123","default_currency":"EUR","payment_terms_days":14,"external_id":"A-1"}`,
			`{"name":"  ","kind":"other","email":"Acme <ap@acme.test>","payment_terms_days":366}`,
			`{"name":"\u0000","kind":"both","payment_terms_days":-1}`, `{"name":null}`,
		},
		1: {
			`{"name":"Renamed","email":null,"payment_terms_days":30}`, `{"name":null,"kind":null}`, `{"kind":"vendor"}`,
			`{"default_currency":"usd"}`, `{}`,
		},
	}
	for which, bodies := range seeds {
		for _, b := range bodies {
			f.Add(which, []byte(b))
		}
		f.Add(which, []byte(`{"unknown":true}`))
		f.Add(which, []byte(`{"name":1}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		switch which % 2 {
		case 0:
			var in CreateInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			c, err := in.Apply()
			if err != nil {
				requireRefusal(t, err, body)
				return
			}
			requireNormal(t, c, body)
		case 1:
			var in UpdateInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				requireRefusal(t, err, body)
				return
			}
			cur := Counterparty{ID: uuid.New(), Name: "Acme", Kind: Customer, PaymentTermsDays: 30, Version: 1}
			c, err := in.Apply(cur)
			if err != nil {
				requireRefusal(t, err, body)
				return
			}
			requireNormal(t, c, body)
		}
	})
}
