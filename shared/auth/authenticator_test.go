package auth

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAuthenticatorForwardedHeader(t *testing.T) {
	f := newFixture(t)
	tok, err := f.iss.Issue(f.tenant, "user-1", []Role{RoleViewer}, time.Hour)
	require.NoError(t, err)
	// What the gateway sends in Authorization: its own identity token, which Cloud Run
	// checked before the request arrived and which is no Ledgerline token.
	const gatewayToken = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20ifQ.c2ln"

	cases := []struct {
		name                string
		forwarded           bool
		authorization, xfwd string
		ok                  bool
	}{
		{"direct: the caller's token in Authorization", false, "Bearer " + tok, "", true},
		{"direct: a forwarded header is not read", false, "", "Bearer " + tok, false},
		{"direct: a forwarded header does not replace Authorization", false, gatewayToken, "Bearer " + tok, false},
		{"gateway: the caller's token forwarded", true, gatewayToken, "Bearer " + tok, true},
		{"gateway: nothing forwarded", true, "Bearer " + tok, "", false},
		{"gateway: a malformed forwarded header", true, gatewayToken, tok, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authenticator{Issuers: map[string]TokenVerifier{testIssuer: f.v}, Forwarded: tc.forwarded}
			r := httptest.NewRequest("GET", "/v1/invoices", nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			if tc.xfwd != "" {
				r.Header.Set(ForwardedHeader, tc.xfwd)
			}
			p, err := a.Authenticate(r)
			if !tc.ok {
				requireUnauthenticated(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, f.tenant, p.TenantID)
		})
	}
}
