package proposals

import (
	"errors"
	"slices"
	"testing"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// FuzzRequestBodies decodes arbitrary bytes as the bodies of the proposal decisions and
// of a collections run, and validates what decodes: never a panic; either a valid
// request or a 400/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	seeds := map[uint8][]string{
		0: { // ApproveInput
			`{"note":"checked against the PO"}`, `{"bill":{"vendor_name":"Acme","number":"A-1","lines":[]}}`,
			`{"collection_message":{"subject":" ","body":"Please pay"}}`, `{"bill":{"counterparty_id":"not-an-id"}}`, `{}`,
		},
		1: { // RejectInput
			`{"reason":"duplicate"}`, `{"reason":"   "}`, `{"reason":null}`,
		},
		2: { // CollectionsInput
			`{"counterparty_ids":["0190f5d4-9c1e-7a3b-8000-000000000001"]}`, `{"counterparty_ids":[]}`, `{"counterparty_ids":[1]}`,
		},
	}
	for which, bodies := range seeds {
		for _, b := range bodies {
			f.Add(which, []byte(b))
		}
		f.Add(which, []byte(`{"unknown":true}`))
		f.Add(which, []byte(`{`))
	}
	kinds := []Kind{Bill, CollectionMessage, Allocation, WriteOff}
	codes := []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		refused := func(err error) {
			var ae *apperr.Error
			if !errors.As(err, &ae) || (ae.Kind != apperr.Invalid && ae.Kind != apperr.Unprocessable) || !slices.Contains(codes, ae.Code) {
				t.Fatalf("%q: %v is not a stable refusal", body, err)
			}
		}
		switch which % 3 {
		case 0:
			var in ApproveInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				refused(err)
				return
			}
			for _, k := range kinds {
				if err := in.validate(k); err != nil {
					refused(err)
				}
			}
		case 1:
			var in RejectInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				refused(err)
				return
			}
			if err := in.validate(); err != nil {
				refused(err)
			}
		case 2:
			var in CollectionsInput
			if err := httpx.DecodeJSON(body, &in); err != nil {
				refused(err)
			}
		}
	})
}
