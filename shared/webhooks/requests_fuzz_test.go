package webhooks

import (
	"errors"
	"slices"
	"testing"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// refusalCodes are the codes an endpoint's creation can be refused with before the
// database is involved: the decoder's, validation's and the private-target check's.
var refusalCodes = []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed",
	"webhook_url_not_allowed"}

// FuzzRequestBodies decodes arbitrary bytes as the body of POST /v1/webhook-endpoints
// and applies what decodes, with and without private targets allowed: never a panic;
// either an endpoint or a 400/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://hooks.example.com/ledgerline","enabled_events":["invoice.created","invoice.paid"],"description":"ERP"}`,
		`{"url":"http://127.0.0.1:8080/x","enabled_events":["*"]}`, `{"url":"http://[::1]/","enabled_events":["*"]}`,
		`{"url":"http://localhost./","enabled_events":["*"]}`, `{"url":"https://user:pw@example.com/","enabled_events":["*"]}`,
		`{"url":"javascript:alert(1)","enabled_events":["*","*"]}`, `{"url":"https://x","enabled_events":[]}`,
		`{"url":"https://x","enabled_events":["nope"]}`, `{"url":"http://169.254.169.254/latest","enabled_events":["*"]}`,
		`{"url":"http://0x7f000001/","enabled_events":["*"]}`, `{"url":7}`, `{"unknown":true}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in CreateInput
		if err := httpx.DecodeJSON(body, &in); err != nil {
			requireRefusal(t, err, body)
			return
		}
		for _, allowPrivate := range []bool{false, true} {
			e, err := in.Apply(allowPrivate)
			if err != nil {
				requireRefusal(t, err, body)
				continue
			}
			if e.URL != in.URL || len(e.EnabledEvents) == 0 {
				t.Fatalf("%q accepted as %+v", body, e)
			}
		}
	})
}

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
