package payments

import (
	"errors"
	"slices"
	"testing"

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

// FuzzRequestBodies decodes arbitrary bytes as each request body of the payment
// operations and validates what decodes: never a panic; either a valid request or a
// 400/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	seeds := map[uint8][]string{
		0: { // CreateInput
			`{"direction":"incoming","counterparty_id":"0190f5d4-9c1e-7a3b-8000-000000000001","amount_minor":45000,"currency":"USD",` +
				`"value_date":"2026-11-10","method":"bank_transfer","reference":"INV-000001",` +
				`"allocations":[{"invoice_id":"0190f5d4-9c1e-7a3b-8000-000000000002","amount_minor":45000,"effective_date":"2026-11-10"}]}`,
			`{"direction":"outgoing","amount_minor":-1,"currency":"XXX","value_date":"2026-02-29","method":"cash"}`,
			`{"amount_minor":9223372036854775808}`, `{"amount_minor":1.5}`, `{"external_id":""}`,
		},
		1: { // AllocateInput
			`{"allocations":[{"invoice_id":"0190f5d4-9c1e-7a3b-8000-000000000002","amount_minor":100}]}`,
			`{"allocations":[]}`, `{"allocations":[{"invoice_id":"00000000-0000-0000-0000-000000000000","amount_minor":0}]}`,
			`{"allocations":null}`,
		},
		2: {`{"reason":"bounced"}`, `{"reason":"   "}`, `{"reason":7}`}, // ReverseInput
	}
	for which, bodies := range seeds {
		for _, b := range bodies {
			f.Add(which, []byte(b))
		}
		f.Add(which, []byte(`{"unknown":true}`))
		f.Add(which, []byte(`[`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		var err error
		switch which % 3 {
		case 0:
			var in CreateInput
			if err = httpx.DecodeJSON(body, &in); err == nil {
				err = in.validate()
			}
		case 1:
			var in AllocateInput
			if err = httpx.DecodeJSON(body, &in); err == nil {
				f := apperr.Fields{}
				validateAllocations(in.Allocations, true, f)
				err = f.Err()
			}
		case 2:
			var in ReverseInput
			if err = httpx.DecodeJSON(body, &in); err == nil {
				err = in.validate()
			}
		}
		if err != nil {
			requireRefusal(t, err, body)
		}
	})
}
