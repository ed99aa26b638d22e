package apiclients

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// FuzzRequestBodies decodes arbitrary bytes as the body of POST /v1/api-clients and
// applies what decodes for creators of every role: never a panic; either roles the
// creator may give, or a stable refusal (400/422, or 403 role_escalation).
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"ERP","roles":["viewer"]}`, `{"name":"Ops","roles":["admin","accountant"]}`, `{"name":"Top","roles":["owner"]}`,
		`{"name":" ","roles":[]}`, `{"name":"x","roles":["viewer","viewer"]}`, `{"name":"x","roles":["root"]}`,
		`{"name":"x","roles":"owner"}`, `{"name":"x","roles":[null]}`, `{"unknown":1}`, `{`,
	} {
		f.Add(uint8(0), []byte(seed))
	}
	roles := auth.Roles()
	f.Fuzz(func(t *testing.T, creatorRole uint8, body []byte) {
		var in CreateInput
		if err := httpx.DecodeJSON(body, &in); err != nil {
			requireRefusal(t, err, body)
			return
		}
		creator := auth.Principal{TenantID: uuid.New(), Subject: "s", Roles: []auth.Role{roles[int(creatorRole)%len(roles)]}}
		name, got, err := in.Apply(creator)
		if err != nil {
			requireRefusal(t, err, body)
			return
		}
		if name != in.Name || len(got) == 0 {
			t.Fatalf("%q accepted as %q %v", body, name, got)
		}
		// No role given beyond what the creator could do itself.
		for _, r := range got {
			for _, p := range []auth.Permission{auth.CounterpartiesWrite, auth.InvoicesWrite, auth.PaymentsWrite, auth.AuditRead,
				auth.WebhooksManage, auth.IdentityManage, auth.SettingsWrite, auth.PlatformAdmin} {
				if (auth.Principal{Roles: []auth.Role{r}}).Can(p) && !creator.Can(p) {
					t.Fatalf("%q: a %v gave role %s, which holds %s", body, creator.Roles, r, p)
				}
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
	ok := (ae.Kind == apperr.Invalid || ae.Kind == apperr.Unprocessable) &&
		slices.Contains([]string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed"}, ae.Code)
	if !ok && !(ae.Kind == apperr.Forbidden && ae.Code == "role_escalation") {
		t.Fatalf("%q: kind %v code %q is not a stable refusal: %v", body, ae.Kind, ae.Code, err)
	}
}
