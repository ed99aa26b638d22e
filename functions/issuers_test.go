package functions_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/issuers/issuerstest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

const (
	externalAudience = "https://api.ledgerline.test"
	externalRoles    = "https://ledgerline.io/roles"
)

// testClock is a settable clock for the trusted-issuer verifier's caches.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withTrustedIssuers serves the functions as an instance does: loopback issuers
// allowed (the test's provider is on loopback), and every token of a foreign iss
// verified against the tenants' trusted issuers, on clock.
func withTrustedIssuers(t *testing.T, clock *testClock) apitest.Option {
	return func(d *platform.Deps) {
		d.Config.IssuerAllowLoopback = true
		v := issuers.NewVerifier(d.DB, issuers.Options{AllowLoopback: true, Now: clock.Now,
			Logger: slog.New(slog.DiscardHandler)})
		t.Cleanup(v.Close)
		switch a := d.Auth.(type) {
		case *auth.Authenticator:
			c := *a
			c.External = v
			d.Auth = &c
		case auth.TokenVerifier:
			d.Auth = &auth.Authenticator{Issuers: map[string]auth.TokenVerifier{d.Config.AuthIssuer: a}, External: v}
		default:
			t.Fatalf("cannot add trusted issuers to %T", d.Auth)
		}
	}
}

type trustedIssuer struct {
	ID          string            `json:"id"`
	Object      string            `json:"object"`
	Issuer      string            `json:"issuer"`
	Audience    string            `json:"audience"`
	Algorithms  []string          `json:"algorithms"`
	JWKSURL     *string           `json:"jwks_url"`
	RolesClaim  string            `json:"roles_claim"`
	RoleMapping map[string]string `json:"role_mapping"`
	Binding     struct {
		Claim string `json:"claim"`
		Value string `json:"value"`
	} `json:"binding"`
	Version   int    `json:"version"`
	CreatedAt string `json:"created_at"`
}

func issuerBody(p *issuerstest.Provider, org string) map[string]any {
	return map[string]any{
		"issuer": p.Issuer, "audience": externalAudience, "jwks_url": p.JWKSURL(), "roles_claim": externalRoles,
		"role_mapping": map[string]string{"Finance Admin": "admin", "Bookkeeper": "accountant", "Reader": "viewer"},
		"binding":      map[string]string{"claim": "org_id", "value": org},
	}
}

func createIssuer(t *testing.T, s *apitest.Server, token string, body map[string]any) trustedIssuer {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: token, Body: body})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var i trustedIssuer
	resp.JSON(t, &i)
	return i
}

func externalToken(t *testing.T, p *issuerstest.Provider, org string, roles []string, extra jwt.MapClaims) string {
	t.Helper()
	c := p.Claims(externalAudience, "okta|"+org+"-user", jwt.MapClaims{"org_id": org, externalRoles: roles})
	for k, v := range extra {
		c[k] = v
	}
	return p.Sign(t, "rsa-1", c)
}

func TestTenantIssuersCreateGetListDelete(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	_, tok := s.Tenant(t, "Acme")

	created := createIssuer(t, s, tok, issuerBody(p, "org_acme"))
	require.Equal(t, "trusted_issuer", created.Object)
	require.Equal(t, p.Issuer, created.Issuer)
	require.Equal(t, externalAudience, created.Audience)
	require.Equal(t, []string{"RS256"}, created.Algorithms, "RS256 unless pinned otherwise")
	require.Equal(t, p.JWKSURL(), *created.JWKSURL)
	require.Equal(t, externalRoles, created.RolesClaim)
	require.Equal(t, "admin", created.RoleMapping["Finance Admin"])
	require.Equal(t, "org_id", created.Binding.Claim)
	require.Equal(t, "org_acme", created.Binding.Value)
	require.Equal(t, 1, created.Version)

	discovered := issuerBody(p, "org_acme_eu")
	delete(discovered, "jwks_url")
	discovered["role_mapping"] = map[string]string{"Reader": "viewer"}
	discovered["algorithms"] = []string{"ES256", "RS256"}
	second := createIssuer(t, s, tok, discovered)
	require.Nil(t, second.JWKSURL)
	require.Equal(t, map[string]string{"Reader": "viewer"}, second.RoleMapping)
	require.Equal(t, []string{"ES256", "RS256"}, second.Algorithms)

	got := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers/" + created.ID, Token: tok})
	require.Equal(t, http.StatusOK, got.Status, string(got.Body))
	require.Equal(t, `"1"`, got.Header.Get("ETag"))
	var fetched trustedIssuer
	got.JSON(t, &fetched)
	require.Equal(t, created, fetched)

	page1 := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers?limit=1", Token: tok})
	require.Equal(t, http.StatusOK, page1.Status, string(page1.Body))
	var l struct {
		Data    []trustedIssuer `json:"data"`
		HasMore bool            `json:"has_more"`
	}
	page1.JSON(t, &l)
	require.Len(t, l.Data, 1)
	require.Equal(t, second.ID, l.Data[0].ID, "newest first")
	require.True(t, l.HasMore)
	page2 := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers?limit=1&starting_after=" + second.ID, Token: tok})
	page2.JSON(t, &l)
	require.Len(t, l.Data, 1)
	require.Equal(t, created.ID, l.Data[0].ID)
	require.False(t, l.HasMore)

	stale := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/tenant/issuers/" + created.ID, Token: tok,
		Header: map[string]string{"If-Match": `"2"`}})
	require.Equal(t, http.StatusPreconditionFailed, stale.Status, string(stale.Body))
	require.Equal(t, "version_conflict", stale.Problem(t).Code)
	del := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/tenant/issuers/" + created.ID, Token: tok,
		Header: map[string]string{"If-Match": `"1"`}})
	require.Equal(t, http.StatusNoContent, del.Status, string(del.Body))
	gone := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers/" + created.ID, Token: tok})
	require.Equal(t, http.StatusNotFound, gone.Status)
	require.Equal(t, "trusted_issuer_not_found", gone.Problem(t).Code)
	again := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/tenant/issuers/" + created.ID, Token: tok})
	require.Equal(t, http.StatusNotFound, again.Status)
	notID := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers/not-an-id", Token: tok})
	require.Equal(t, http.StatusNotFound, notID.Status)
	require.Equal(t, "trusted_issuer_not_found", notID.Problem(t).Code)
}

func TestTenantIssuersValidation(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	_, tok := s.Tenant(t, "Acme")

	with := func(edit func(b map[string]any)) map[string]any {
		b := issuerBody(p, "org_acme")
		edit(b)
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"http issuer off loopback", with(func(b map[string]any) { b["issuer"] = "http://acme.example.com/" }),
			http.StatusUnprocessableEntity, "validation_failed", "issuer"},
		{"issuer on a private address", with(func(b map[string]any) { b["issuer"] = "https://10.0.0.8/" }),
			http.StatusUnprocessableEntity, "validation_failed", "issuer"},
		{"jwks url over http", with(func(b map[string]any) { b["jwks_url"] = "http://keys.example.com/jwks.json" }),
			http.StatusUnprocessableEntity, "validation_failed", "jwks_url"},
		{"symmetric algorithm", with(func(b map[string]any) { b["algorithms"] = []string{"HS256"} }),
			http.StatusUnprocessableEntity, "validation_failed", ""},
		{"alg none", with(func(b map[string]any) { b["algorithms"] = []string{"none"} }),
			http.StatusUnprocessableEntity, "validation_failed", ""},
		{"algorithm twice", with(func(b map[string]any) { b["algorithms"] = []string{"RS256", "RS256"} }),
			http.StatusUnprocessableEntity, "validation_failed", "algorithms[1]"},
		{"role mapped to no Ledgerline role", with(func(b map[string]any) { b["role_mapping"] = map[string]string{"Boss": "god"} }),
			http.StatusUnprocessableEntity, "validation_failed", ""},
		{"no role mapping: names are never passed through", with(func(b map[string]any) { delete(b, "role_mapping") }),
			http.StatusUnprocessableEntity, "validation_failed", "role_mapping"},
		{"empty role mapping", with(func(b map[string]any) { b["role_mapping"] = map[string]string{} }),
			http.StatusUnprocessableEntity, "validation_failed", "role_mapping"},
		{"an admin mapping to owner", with(func(b map[string]any) { b["role_mapping"] = map[string]string{"Boss": "owner", "Reader": "viewer"} }),
			http.StatusForbidden, "role_escalation", "role_mapping.Boss"},
		{"no binding", with(func(b map[string]any) { delete(b, "binding") }),
			http.StatusUnprocessableEntity, "validation_failed", ""},
		{"binding by sub", with(func(b map[string]any) { b["binding"] = map[string]string{"claim": "sub", "value": "okta|1"} }),
			http.StatusUnprocessableEntity, "validation_failed", "binding.claim"},
		{"binding by email", with(func(b map[string]any) { b["binding"] = map[string]string{"claim": "email", "value": "a@acme.test"} }),
			http.StatusUnprocessableEntity, "validation_failed", "binding.claim"},
		{"binding by azp", with(func(b map[string]any) { b["binding"] = map[string]string{"claim": "azp", "value": "client-1"} }),
			http.StatusUnprocessableEntity, "validation_failed", "binding.claim"},
		{"binding by exp", with(func(b map[string]any) { b["binding"] = map[string]string{"claim": "exp", "value": "1"} }),
			http.StatusUnprocessableEntity, "validation_failed", "binding.claim"},
		{"unknown field", with(func(b map[string]any) { b["tenant_id"] = uuid.NewString() }),
			http.StatusBadRequest, "unknown_field", ""},
		{"not JSON", "{", http.StatusBadRequest, "malformed_json", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: tok, Body: tc.body})
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			prob := resp.Problem(t)
			require.Equal(t, tc.code, prob.Code)
			if tc.field != "" {
				require.Contains(t, prob.Errors, tc.field)
			}
		})
	}

	t.Run("loopback issuers only where allowed", func(t *testing.T) {
		strict := apitest.New(t)
		_, tok := strict.Tenant(t, "Acme")
		for _, iss := range []string{p.Issuer, "https://127.0.0.1:8443/", "https://localhost/"} {
			resp := strict.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: tok,
				Body: with(func(b map[string]any) { b["issuer"] = iss; delete(b, "jwks_url") })})
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
			require.Contains(t, resp.Problem(t).Errors, "issuer")
		}
	})
}

func TestTenantIssuersBindingIsUniqueAcrossTenants(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	_, acme := s.Tenant(t, "Acme")
	_, globex := s.Tenant(t, "Globex")
	createIssuer(t, s, acme, issuerBody(p, "org_1"))

	for _, tok := range []string{acme, globex} {
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: tok, Body: issuerBody(p, "org_1")})
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		require.Equal(t, "trusted_issuer_binding_exists", resp.Problem(t).Code)
	}
	createIssuer(t, s, globex, issuerBody(p, "org_2"))
}

func TestTenantIssuersAreTenantScoped(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	_, acme := s.Tenant(t, "Acme")
	_, globex := s.Tenant(t, "Globex")
	theirs := createIssuer(t, s, acme, issuerBody(p, "org_acme"))

	for _, method := range []string{"GET", "DELETE"} {
		resp := s.Do(t, apitest.Request{Method: method, Path: "/v1/tenant/issuers/" + theirs.ID, Token: globex})
		require.Equal(t, http.StatusNotFound, resp.Status, "%s: %s", method, resp.Body)
		require.Equal(t, "trusted_issuer_not_found", resp.Problem(t).Code)
	}
	list := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers", Token: globex})
	require.Equal(t, http.StatusOK, list.Status)
	require.JSONEq(t, `{"object":"list","data":[],"has_more":false}`, string(list.Body))
	still := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers/" + theirs.ID, Token: acme})
	require.Equal(t, http.StatusOK, still.Status, "the probe deleted nothing")
}

func TestTenantIssuersNeedIdentityManage(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	tenant, _ := s.Tenant(t, "Acme")
	for _, role := range []auth.Role{auth.RoleAccountant, auth.RoleViewer, auth.RoleAuditor, auth.RoleAgent, auth.RoleApprover} {
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: s.Token(t, tenant, role),
			Body: issuerBody(p, "org_acme")})
		require.Equal(t, http.StatusForbidden, resp.Status, "%s: %s", role, resp.Body)
	}
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers"})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: s.Token(t, tenant, auth.RoleOwner),
		Body: issuerBody(p, "org_acme")})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
}

// TestTenantIssuersRoleMappingNeverEscalates: trusting an issuer is giving its users
// roles, so it follows the rule of API clients: an admin may map to admin and below,
// only an owner to owner; and a token's role names are never taken as Ledgerline's.
func TestTenantIssuersRoleMappingNeverEscalates(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	tenant, admin := s.Tenant(t, "Acme")
	body := issuerBody(p, "org_acme")
	body["role_mapping"] = map[string]string{"Boss": "owner"}

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: admin, Body: body})
	require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
	prob := resp.Problem(t)
	require.Equal(t, "role_escalation", prob.Code)
	require.Contains(t, prob.Errors, "role_mapping.Boss")
	list := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers", Token: admin})
	require.JSONEq(t, `{"object":"list","data":[],"has_more":false}`, string(list.Body), "nothing was trusted")

	// An owner may; the mapped name then grants owner, the unmapped Ledgerline name nothing.
	createIssuer(t, s, s.Token(t, tenant, auth.RoleOwner), body)
	owner := externalToken(t, p, "org_acme", []string{"Boss"}, nil)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/tenant/issuers", Token: owner})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	raw := externalToken(t, p, "org_acme", []string{"owner", "admin"}, nil)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: raw})
	require.Equal(t, http.StatusForbidden, resp.Status, "Ledgerline role names in a token grant nothing unmapped: %s", resp.Body)
}

// TestTenantIssuersBindingClaimIsTheIssuers: another tenant may not trust an issuer by
// another claim than the one its trusts bind by (the victim's tokens carrying both
// would match two tenants and be refused), nor by a claim naming a user or a client.
func TestTenantIssuersBindingClaimIsTheIssuers(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	_, acme := s.Tenant(t, "Acme")
	_, globex := s.Tenant(t, "Globex")
	createIssuer(t, s, acme, issuerBody(p, "org_acme"))

	squat := issuerBody(p, "")
	squat["binding"] = map[string]string{"claim": "team", "value": "t-1"}
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/tenant/issuers", Token: globex, Body: squat})
	require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
	prob := resp.Problem(t)
	require.Equal(t, "trusted_issuer_binding_claim_differs", prob.Code)
	require.Contains(t, prob.Errors, "binding.claim")

	victim := externalToken(t, p, "org_acme", []string{"Reader"}, jwt.MapClaims{"team": "t-1"})
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: victim})
	require.Equal(t, http.StatusOK, resp.Status, "the victim's tokens still bind to the victim: %s", resp.Body)
	createIssuer(t, s, globex, issuerBody(p, "org_globex"))
}

// TestTrustedIssuerSubjectsAreTheirIssuers: separation of duties and the audit trail
// tell actors apart by (type, id). A trusted issuer's sub is that issuer's, so two
// issuers' users with the same sub, or an issuer's user with a Ledgerline user's
// subject, are different people: an admin who trusts an issuer they control cannot
// mint a colleague's subject to get past separation of duties.
func TestTrustedIssuerSubjectsAreTheirIssuers(t *testing.T) {
	t.Parallel()
	one, two := issuerstest.New(t), issuerstest.New(t)
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	f := newFixture(t, s, "Acme")
	createIssuer(t, s, f.token, issuerBody(one, "org_acme"))
	createIssuer(t, s, f.token, issuerBody(two, "org_acme"))
	// Both issuers' tokens carry the same sub, okta|org_acme-user.
	fromOne := externalToken(t, one, "org_acme", []string{"Finance Admin"}, nil)
	fromTwo := externalToken(t, two, "org_acme", []string{"Finance Admin"}, nil)
	const sub = "okta|org_acme-user"
	ledgerline := s.TokenAs(t, f.tenant, sub, auth.RoleAdmin)

	raise := func(tok string) string {
		t.Helper()
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices", Token: tok, Body: f.invoiceBody(map[string]any{"status": "open"})})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		var inv invoice
		resp.JSON(t, &inv)
		return inv.ID
	}
	writeOff := func(tok, id string) apitest.Response {
		return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/invoices/" + id + "/mark-uncollectible", Token: tok})
	}

	allowed := func(resp apitest.Response) {
		t.Helper()
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	}

	byOne := raise(fromOne)
	wantProblem(t, writeOff(fromOne, byOne), http.StatusForbidden, "sod_write_off_own_invoice")
	allowed(writeOff(ledgerline, byOne))
	byLedgerline := raise(ledgerline)
	wantProblem(t, writeOff(ledgerline, byLedgerline), http.StatusForbidden, "sod_write_off_own_invoice")
	allowed(writeOff(fromOne, byLedgerline))
	byTwo := raise(fromTwo)
	wantProblem(t, writeOff(fromTwo, byTwo), http.StatusForbidden, "sod_write_off_own_invoice")
	allowed(writeOff(fromOne, byTwo))

	var actors []string
	rows, err := s.DB.Admin.Query(context.Background(), `SELECT DISTINCT actor_id FROM audit_events
 WHERE tenant_id = $1 AND entity_type = 'invoice' ORDER BY 1`, f.tenant)
	require.NoError(t, err)
	actors, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.ElementsMatch(t, []string{sub, one.Issuer + "#" + sub, two.Issuer + "#" + sub}, actors)
}

// TestTrustedIssuerTokensCallTheAPI goes through the whole path: a tenant admin trusts
// an issuer through the API, and that issuer's tokens then call the API as the
// tenant's users, with the roles the mapping gives them, until the trust is deleted.
func TestTrustedIssuerTokensCallTheAPI(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	clock := &testClock{t: time.Now()}
	s := apitest.New(t, withTrustedIssuers(t, clock))
	_, acme := s.Tenant(t, "Acme")
	_, globex := s.Tenant(t, "Globex")
	trust := createIssuer(t, s, acme, issuerBody(p, "org_acme"))
	createIssuer(t, s, globex, issuerBody(p, "org_globex"))

	admin := externalToken(t, p, "org_acme", []string{"Finance Admin"}, nil)
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: admin,
		Body: map[string]any{"name": "Initech", "kind": "customer"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var cp struct {
		ID string `json:"id"`
	}
	resp.JSON(t, &cp)

	reader := externalToken(t, p, "org_acme", []string{"Reader", "admin"}, jwt.MapClaims{"platform_admin": true})
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + cp.ID, Token: reader})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: reader,
		Body: map[string]any{"name": "Hooli", "kind": "vendor"}})
	require.Equal(t, http.StatusForbidden, resp.Status, `"admin" is not mapped, so the reader only reads`)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters", Token: reader})
	require.Equal(t, http.StatusForbidden, resp.Status, "platform_admin from an external issuer is never honoured")

	// The same issuer's token bound to Globex sees Globex's books only.
	other := externalToken(t, p, "org_globex", []string{"Finance Admin"}, nil)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + cp.ID, Token: other})
	require.Equal(t, http.StatusNotFound, resp.Status)

	for name, raw := range map[string]string{
		"unbound org":    externalToken(t, p, "org_initech", []string{"Finance Admin"}, nil),
		"wrong audience": externalToken(t, p, "org_acme", []string{"Finance Admin"}, jwt.MapClaims{"aud": "https://elsewhere"}),
		"expired": externalToken(t, p, "org_acme", []string{"Finance Admin"},
			jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}),
	} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + cp.ID, Token: raw})
		require.Equal(t, http.StatusUnauthorized, resp.Status, name)
		require.Equal(t, "unauthenticated", resp.Problem(t).Code, name)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`, name)
	}

	// Deleting the trust stops its tokens once the instance's lookups expire.
	del := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/tenant/issuers/" + trust.ID, Token: acme})
	require.Equal(t, http.StatusNoContent, del.Status, string(del.Body))
	clock.Advance(issuers.DefaultConfigTTL + time.Second)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/" + cp.ID, Token: admin})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: other})
	require.Equal(t, http.StatusOK, resp.Status, "Globex's trust is untouched")
	require.Equal(t, 1, p.JWKSFetches(), "one key set fetch served every token")
}
