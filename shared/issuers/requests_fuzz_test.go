package issuers

import (
	"errors"
	"slices"
	"testing"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// FuzzRequestBodies decodes arbitrary bytes as the body of POST /v1/tenant/issuers and
// applies what decodes, with and without loopback issuers admitted, for an owner and
// for a viewer: never a panic; either an issuer or a 400/403/422 with a stable code.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"issuer":"https://acme.okta.com/","audience":"https://api.acme.test","jwks_url":"https://acme.okta.com/keys",` +
			`"roles_claim":"groups","role_mapping":{"Finance":"accountant"},"binding":{"claim":"org_id","value":"acme"}}`,
		`{"issuer":"http://127.0.0.1:9999","audience":"x","algorithms":["ES256","RS256"],"roles_claim":"roles","binding":{"claim":"tid","value":"1"}}`,
		`{"issuer":"https://10.0.0.8/","audience":"x","algorithms":["HS256"],"binding":{"claim":"exp","value":"1"}}`,
		`{"issuer":"https://a.example/","audience":"","role_mapping":{"x":"superuser"},"binding":null}`,
		`{"issuer":"javascript:alert(1)","jwks_url":"file:///etc/passwd"}`, `{"unknown":1}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	codes := []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed", "role_escalation"}
	creators := []auth.Principal{{Roles: []auth.Role{auth.RoleOwner}}, {Roles: []auth.Role{auth.RoleViewer}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		refused := func(err error) {
			var ae *apperr.Error
			if !errors.As(err, &ae) || (ae.Kind != apperr.Invalid && ae.Kind != apperr.Unprocessable && ae.Kind != apperr.Forbidden) || !slices.Contains(codes, ae.Code) {
				t.Fatalf("%q: %v is not a stable refusal", body, err)
			}
		}
		var in CreateInput
		if err := httpx.DecodeJSON(body, &in); err != nil {
			refused(err)
			return
		}
		for _, loopback := range []bool{false, true} {
			for _, creator := range creators {
				if _, err := in.Apply(creator, loopback); err != nil {
					refused(err)
				}
			}
		}
	})
}
