package settings

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// FuzzRequestBodies decodes arbitrary bytes as the body of PATCH /v1/tenant/settings
// and applies what decodes to the default settings: never a panic; either settings a
// reader accepts, or a 400/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"base_currency":"EUR","aging_buckets":[30,60,90],"tax_rounding":"per_document"}`,
		`{"effective_from":"2099-01-01T00:00:00Z","payment_terms_days":14,"dunning_schedule":[7,14,30]}`,
		`{"invoice_number_format":"INV-{YYYY}-{SEQ:6}","reconciliation_auto_threshold":0.9,"reconciliation_tolerance_minor":5}`,
		`{"effective_from":"2000-01-01T00:00:00Z","aging_buckets":[90,30],"agent_budget_monthly_minor":-1}`,
		`{"base_currency":null}`, `{"reconciliation_auto_threshold":1e400}`, `{"unknown":1}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	head := Version{ID: uuid.New(), Version: 1, EffectiveFrom: now.Add(-time.Hour), Settings: Defaults()}
	codes := []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in UpdateInput
		err := httpx.DecodeJSON(body, &in)
		var next Settings
		var effective time.Time
		if err == nil {
			next, effective, err = in.Apply(head, now)
		}
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || (ae.Kind != apperr.Invalid && ae.Kind != apperr.Unprocessable) || !slices.Contains(codes, ae.Code) {
				t.Fatalf("%q: %v is not a stable refusal", body, err)
			}
			return
		}
		if effective.Before(now) {
			t.Fatalf("%q takes effect in the past: %s", body, effective)
		}
		// What was accepted is what a reader of the stored settings accepts.
		f := apperr.Fields{}
		next.validate(f)
		if len(f) > 0 {
			t.Fatalf("%q accepted settings that do not validate: %v", body, f)
		}
	})
}
