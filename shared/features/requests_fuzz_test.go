package features

import (
	"errors"
	"slices"
	"testing"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// FuzzRequestBodies decodes arbitrary bytes as the body of PUT /v1/tenant/features and
// applies what decodes: never a panic; either known flags only, or a 400/422 with a
// stable code.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"flags":{"agents":true,"auto_reconcile":false}}`, `{"flags":{}}`, `{"flags":null}`, `{"flags":{"nope":true}}`,
		`{"flags":{"agents":"yes"}}`, `{"flags":[]}`, `{"unknown":1}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	codes := []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in PutInput
		err := httpx.DecodeJSON(body, &in)
		var set map[Flag]bool
		if err == nil {
			set, err = in.Apply()
		}
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || (ae.Kind != apperr.Invalid && ae.Kind != apperr.Unprocessable) || !slices.Contains(codes, ae.Code) {
				t.Fatalf("%q: %v is not a stable refusal", body, err)
			}
			return
		}
		for flag := range set {
			if _, known := defaults[flag]; !known {
				t.Fatalf("%q set unknown flag %q", body, flag)
			}
		}
	})
}
