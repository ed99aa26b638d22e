package functions_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/platform"
)

const formType = "application/x-www-form-urlencoded"

type apiClient struct {
	ID        string   `json:"id"`
	Object    string   `json:"object"`
	Name      string   `json:"name"`
	Roles     []string `json:"roles"`
	Version   int      `json:"version"`
	CreatedAt string   `json:"created_at"`
	CreatedBy string   `json:"created_by"`
	Secret    string   `json:"secret"`
}

type oauthToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthError is the token endpoint's error body: a problem and an OAuth 2.0 error.
type oauthError struct {
	apitest.Problem
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func createAPIClient(t *testing.T, s *apitest.Server, token, name string, roles ...string) apiClient {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: token,
		Body: map[string]any{"name": name, "roles": roles}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var c apiClient
	resp.JSON(t, &c)
	return c
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// tokenRequest is a POST to the token endpoint with form and headers as given.
func tokenRequest(form url.Values, header map[string]string) apitest.Request {
	h := map[string]string{"Content-Type": formType}
	for k, v := range header {
		h[k] = v
	}
	return apitest.Request{Method: "POST", Path: "/v1/oauth/token", Body: form.Encode(), Header: h}
}

func clientCredentials(extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func requireToken(t *testing.T, resp apitest.Response) oauthToken {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "no-cache", resp.Header.Get("Pragma"))
	var tok oauthToken
	resp.JSON(t, &tok)
	require.Equal(t, "Bearer", tok.TokenType)
	return tok
}

// requireOAuthError checks a token endpoint refusal in both of its shapes.
func requireOAuthError(t *testing.T, resp apitest.Response, status int, code string) oauthError {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var e oauthError
	resp.JSON(t, &e)
	require.Equal(t, code, e.Code, string(resp.Body))
	require.Equal(t, code, e.Error, "the OAuth error is the problem's code")
	require.Equal(t, status, e.Status)
	require.NotEmpty(t, e.ErrorDescription)
	require.Equal(t, e.Detail, e.ErrorDescription)
	require.Equal(t, resp.Header.Get("X-Request-Id"), e.Instance)
	if status == http.StatusUnauthorized {
		require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="ledgerline"`), resp.Header.Get("WWW-Authenticate"))
	}
	return e
}

func TestAPIClientLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, admin := s.Tenant(t, "Acme")

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: admin,
		Body: map[string]any{"name": "ERP sync", "roles": []string{"accountant"}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the secret must not be cached")
	require.Equal(t, `"1"`, resp.Header.Get("ETag"))
	var client apiClient
	resp.JSON(t, &client)
	require.Equal(t, "/v1/api-clients/"+client.ID, resp.Header.Get("Location"))
	require.Regexp(t, regexp.MustCompile(`^llsec_[A-Za-z0-9_-]{43}$`), client.Secret)
	require.Equal(t, "api_client", client.Object)
	require.Equal(t, []string{"accountant"}, client.Roles)

	// The secret is shown once: never again, by get or list.
	for _, path := range []string{"/v1/api-clients", "/v1/api-clients/" + client.ID} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: admin})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Contains(t, string(resp.Body), client.ID)
		require.NotContains(t, string(resp.Body), client.Secret)
		require.NotContains(t, string(resp.Body), "secret")
	}

	// The token endpoint needs no bearer token: Basic credentials, then the form.
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
	require.Equal(t, int64(config.DefaultTokenTTL/time.Second), tok.ExpiresIn)
	require.Equal(t, "accountant", tok.Scope)
	viaForm := requireToken(t, s.Do(t, tokenRequest(clientCredentials("client_id", client.ID, "client_secret", client.Secret), nil)))
	require.NotEqual(t, tok.AccessToken, viaForm.AccessToken, "every token is a new one (jti)")

	// The token is Ledgerline's, for the client's tenant and roles.
	p, err := s.Deps.Issuer.Verifier().Verify(context.Background(), tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{TenantID: tenant, Subject: client.ID, Roles: []auth.Role{auth.RoleAccountant},
		ActorType: auth.ActorAPIClient, TokenID: p.TokenID, Issuer: auth.DevIssuerName}, p)

	// It works as a bearer token, within its roles, and what it does is audited as
	// the client's.
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok.AccessToken,
		Body: map[string]any{"name": "Globex", "kind": "customer"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	var actorType string
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(),
		`SELECT actor_type FROM audit_events WHERE tenant_id = $1 AND action = 'counterparty.created' AND actor_id = $2`,
		tenant, client.ID).Scan(&actorType))
	require.Equal(t, "api_client", actorType)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients", Token: tok.AccessToken})
	require.Equal(t, http.StatusForbidden, resp.Status, "an accountant's client may not manage clients")

	// Deleted: the API no longer shows it, its secret obtains nothing, and the token it
	// obtained before is refused on the very next request.
	resp = s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: admin, Header: map[string]string{"If-Match": `"1"`}})
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients/" + client.ID, Token: admin})
	requireProblem(t, resp, http.StatusNotFound, "api_client_not_found")
	resp = s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: admin})
	requireProblem(t, resp, http.StatusNotFound, "api_client_not_found")
	requireOAuthError(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})),
		http.StatusUnauthorized, "invalid_client")
	for _, token := range []string{tok.AccessToken, viaForm.AccessToken} {
		resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: token})
		requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
		require.Equal(t, `Bearer realm="ledgerline", error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
	}
	// The audit trail keeps both ends of the client's life.
	var actions []string
	rows, err := s.DB.Admin.Query(context.Background(),
		`SELECT action FROM audit_events WHERE tenant_id = $1 AND entity_type = 'api_client' AND entity_id = $2 ORDER BY seq`, tenant, client.ID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"api_client.created", "api_client.deleted"}, actions)
}

func TestOAuthTokenErrors(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "ERP", "viewer")
	goodBasic := map[string]string{"Authorization": basicAuth(client.ID, client.Secret)}

	cases := []struct {
		name   string
		req    apitest.Request
		status int
		code   string
	}{
		{"wrong secret by Basic", tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret+"x")}),
			http.StatusUnauthorized, "invalid_client"},
		{"wrong secret in the form", tokenRequest(clientCredentials("client_id", client.ID, "client_secret", "llsec_nope"), nil),
			http.StatusUnauthorized, "invalid_client"},
		{"unknown client", tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(uuid.NewString(), client.Secret)}),
			http.StatusUnauthorized, "invalid_client"},
		{"client id that is no id", tokenRequest(clientCredentials("client_id", "erp", "client_secret", client.Secret), nil),
			http.StatusUnauthorized, "invalid_client"},
		{"no credentials", tokenRequest(clientCredentials(), nil), http.StatusUnauthorized, "invalid_client"},
		{"a bearer token instead", tokenRequest(clientCredentials(), map[string]string{"Authorization": "Bearer " + admin}),
			http.StatusUnauthorized, "invalid_client"},
		{"Basic and the form at once", tokenRequest(clientCredentials("client_id", client.ID, "client_secret", client.Secret), goodBasic),
			http.StatusBadRequest, "invalid_request"},
		{"password grant", tokenRequest(url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, goodBasic),
			http.StatusBadRequest, "unsupported_grant_type"},
		{"no grant_type", tokenRequest(url.Values{}, goodBasic), http.StatusBadRequest, "invalid_request"},
		{"grant_type twice", tokenRequest(url.Values{"grant_type": {"client_credentials", "client_credentials"}}, goodBasic),
			http.StatusBadRequest, "invalid_request"},
		{"a scope beyond the client's roles", tokenRequest(clientCredentials("scope", "viewer admin"), goodBasic),
			http.StatusBadRequest, "invalid_scope"},
		{"a JSON body", apitest.Request{Method: "POST", Path: "/v1/oauth/token", Header: goodBasic,
			Body: map[string]any{"grant_type": "client_credentials"}}, http.StatusBadRequest, "invalid_request"},
		{"too large", tokenRequest(clientCredentials("pad", strings.Repeat("a", 70<<10)), goodBasic),
			http.StatusRequestEntityTooLarge, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.Do(t, tc.req)
			if tc.code == "body_too_large" {
				// Not an OAuth error code, but still an OAuth error response.
				require.Equal(t, tc.status, resp.Status, string(resp.Body))
				var e oauthError
				resp.JSON(t, &e)
				require.Equal(t, "body_too_large", e.Code)
				require.Equal(t, "invalid_request", e.Error)
				return
			}
			requireOAuthError(t, resp, tc.status, tc.code)
		})
	}

	// The same secret still works: refusals changed nothing.
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials("scope", "viewer"), goodBasic)))
	require.Equal(t, "viewer", tok.Scope)
	// Only the token endpoint's method is served there.
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/oauth/token"})
	requireProblem(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestOAuthClientLibrary drives the token endpoint with golang.org/x/oauth2, as an
// integrator would, with both ways of sending the credentials.
func TestOAuthClientLibrary(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "script", "viewer")
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)

	for name, style := range map[string]oauth2.AuthStyle{"Basic": oauth2.AuthStyleInHeader, "form": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: client.Secret, TokenURL: srv.URL + "/v1/oauth/token", AuthStyle: style}
			tok, err := cc.Token(t.Context())
			require.NoError(t, err)
			require.Equal(t, "Bearer", tok.TokenType)
			require.WithinDuration(t, time.Now().Add(config.DefaultTokenTTL), tok.Expiry, time.Minute)

			resp, err := cc.Client(t.Context()).Get(srv.URL + "/v1/counterparties")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			bad := cc
			bad.ClientSecret = "llsec_wrong"
			_, err = bad.Token(t.Context())
			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re)
			require.Equal(t, "invalid_client", re.ErrorCode, "the library reads the RFC 6749 error from the problem")
		})
	}
}

func TestAPIClientRoles(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, admin := s.Tenant(t, "Acme")
	owner := s.Token(t, tenant, auth.RoleOwner)

	// No privilege escalation: an admin cannot make an owner.
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: admin,
		Body: map[string]any{"name": "root", "roles": []string{"viewer", "owner"}}})
	p := requireProblem(t, resp, http.StatusForbidden, "role_escalation")
	require.Equal(t, map[string]string{"roles[1]": "grants more than you hold"}, p.Errors)
	c := createAPIClient(t, s, owner, "root", "owner")
	require.Equal(t, []string{"owner"}, c.Roles)

	// Nor can a client made by an admin: its token holds only what it was given.
	adminClient := createAPIClient(t, s, admin, "ops", "admin")
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(adminClient.ID, adminClient.Secret)})))
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: tok.AccessToken,
		Body: map[string]any{"name": "escalated", "roles": []string{"owner"}}})
	requireProblem(t, resp, http.StatusForbidden, "role_escalation")
	created := createAPIClient(t, s, tok.AccessToken, "delegated", "viewer")
	require.Equal(t, adminClient.ID, created.CreatedBy, "an API client may create clients within its own roles")

	// Managing clients is for owners and admins.
	for _, role := range []auth.Role{auth.RoleAccountant, auth.RoleViewer, auth.RoleAuditor, auth.RoleAgent} {
		resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: s.Token(t, tenant, role),
			Body: map[string]any{"name": "x", "roles": []string{string(role)}}})
		requireProblem(t, resp, http.StatusForbidden, "forbidden")
	}

	// Validation names the fields.
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: admin,
		Body: map[string]any{"name": "x", "roles": []string{"admin", "admin"}}})
	p = requireProblem(t, resp, http.StatusUnprocessableEntity, "validation_failed")
	require.Equal(t, map[string]string{"roles[1]": "is listed twice"}, p.Errors)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: admin,
		Body: map[string]any{"name": "x", "roles": []string{"root"}}})
	requireProblem(t, resp, http.StatusUnprocessableEntity, "validation_failed")
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/api-clients", Token: admin,
		Body: map[string]any{"name": "x", "roles": []string{"viewer"}, "secret": "mine"}})
	requireProblem(t, resp, http.StatusBadRequest, "unknown_field")
}

func TestAPIClientsAreTenantScoped(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, adminA := s.Tenant(t, "Acme")
	_, adminB := s.Tenant(t, "Globex")
	client := createAPIClient(t, s, adminA, "ERP", "viewer")

	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients/" + client.ID, Token: adminB})
	requireProblem(t, resp, http.StatusNotFound, "api_client_not_found")
	resp = s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: adminB})
	requireProblem(t, resp, http.StatusNotFound, "api_client_not_found")
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients", Token: adminB})
	require.Equal(t, http.StatusOK, resp.Status)
	require.NotContains(t, string(resp.Body), client.ID)
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients/not-an-id", Token: adminA})
	requireProblem(t, resp, http.StatusNotFound, "api_client_not_found")

	// A's client's token reads A's books, never B's, whatever it is sent to.
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials("client_id", client.ID, "client_secret", client.Secret), nil)))
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/api-clients/" + client.ID, Token: adminA})
	require.Equal(t, http.StatusOK, resp.Status, "B's attempts changed nothing")
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: adminB,
		Body: map[string]any{"name": "B's customer", "kind": "customer"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: tok.AccessToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.NotContains(t, string(resp.Body), "B's customer")
}

func TestJWKSOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "ERP", "viewer")
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))

	// Public: no token needed, and a bad one does not matter.
	for _, header := range []map[string]string{nil, {"Authorization": "Bearer garbage"}} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/.well-known/jwks.json", Header: header})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "public, max-age=300", resp.Header.Get("Cache-Control"))
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		resp.JSON(t, &set)
		require.Len(t, set.Keys, 1)
		k := set.Keys[0]
		require.Equal(t, s.Deps.Issuer.Keys.CurrentKID(), k["kid"])
		require.Equal(t, map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k["kid"], "x": k["x"], "y": k["y"]}, k)

		// Anyone holding only the published set verifies the endpoint's tokens.
		kf, err := keyfunc.NewJWKSetJSON(resp.Body)
		require.NoError(t, err)
		parsed, err := jwt.Parse(tok.AccessToken, kf.Keyfunc, jwt.WithValidMethods([]string{"ES256"}),
			jwt.WithIssuer(auth.DevIssuerName), jwt.WithAudience("ledgerline"))
		require.NoError(t, err)
		require.True(t, parsed.Valid)
	}
}

// TestSigningKeyRotationOverHTTP rotates the signing keys under running functions: a
// token signed by the previous key keeps working while that key is in the set, and is
// refused once it is removed.
func TestSigningKeyRotationOverHTTP(t *testing.T) {
	t.Parallel()
	k1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	k2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	// withKeys serves the functions as an instance configured with TOKEN_SIGNING_KEYS
	// holding keys, first the signing one.
	withKeys := func(keys ...*ecdsa.PrivateKey) apitest.Option {
		return func(d *platform.Deps) {
			signers := make([]crypto.Signer, len(keys))
			for i, k := range keys {
				signers[i] = k
			}
			ks, err := auth.NewKeySet(signers...)
			require.NoError(t, err)
			iss, err := auth.NewIssuer(d.Config.AuthIssuer, d.Config.AuthAudience, ks, time.Hour)
			require.NoError(t, err)
			d.Issuer, d.Auth = iss, platform.OwnAuthenticator(iss, d.DB)
		}
	}
	before := apitest.New(t, withKeys(k1))
	tenant := before.DB.NewTenant(t, "Acme")
	admin := userToken(t, before.Deps.Issuer, tenant, auth.RoleAdmin)
	client := createAPIClient(t, before, admin, "ERP", "viewer")
	old := requireToken(t, before.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))

	// The same database under the rotated configuration: the new key signs, the
	// previous one is still published and accepted.
	sameDB := func(d *platform.Deps) { d.DB = before.Deps.DB }
	during := apitest.New(t, sameDB, withKeys(k2, k1))
	resp := during.Do(t, apitest.Request{Method: "GET", Path: "/.well-known/jwks.json"})
	require.Equal(t, http.StatusOK, resp.Status)
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	resp.JSON(t, &set)
	require.Len(t, set.Keys, 2)
	require.Equal(t, during.Deps.Issuer.Keys.CurrentKID(), set.Keys[0].KID, "the signing key comes first")
	require.Equal(t, before.Deps.Issuer.Keys.CurrentKID(), set.Keys[1].KID)
	resp = during.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: old.AccessToken})
	require.Equal(t, http.StatusOK, resp.Status, "a token of the previous key verifies while it is published: %s", resp.Body)
	fresh := requireToken(t, during.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
	freshKID := func() string {
		tok, _, err := jwt.NewParser().ParseUnverified(fresh.AccessToken, jwt.MapClaims{})
		require.NoError(t, err)
		return tok.Header["kid"].(string)
	}()
	require.Equal(t, during.Deps.Issuer.Keys.CurrentKID(), freshKID)

	// The previous key removed: its tokens stop verifying, the new key's do not.
	after := apitest.New(t, sameDB, withKeys(k2))
	resp = after.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: old.AccessToken})
	requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
	resp = after.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: fresh.AccessToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
}

// userToken is a user's token signed by iss's current key, as an identity provider
// sharing Ledgerline's keys would sign it.
func userToken(t *testing.T, iss *auth.Issuer, tenant uuid.UUID, roles ...auth.Role) string {
	t.Helper()
	now := time.Now()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	tok, err := iss.Keys.Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: iss.Name, Subject: "user-1", Audience: jwt.ClaimStrings{iss.Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: uuid.NewString()},
		TenantID: tenant.String(), Roles: names,
	})
	require.NoError(t, err)
	return tok
}

// TestTokenOfADeletedClientIsRefusedEverywhere checks the check runs for every
// authenticated operation, not only the ones the client used.
func TestTokenOfADeletedClientIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "ops", "admin")
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
	resp := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: admin})
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))

	for _, fn := range httpOperations(t) {
		if fn.Public() {
			continue
		}
		resp := s.Do(t, minimalRequest(fn, tok.AccessToken))
		require.Equal(t, http.StatusUnauthorized, resp.Status, "%s %s: %s", fn.Method, fn.Path, resp.Body)
		var body map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(resp.Body, &body))
		require.JSONEq(t, `"unauthenticated"`, string(body["code"]))
	}
}

// TestFunctionWithoutSigningKeys checks how a function that holds no private key (only
// the token endpoint and the key set do) verifies Ledgerline's tokens: against the key
// set the JWKS function publishes, with the deleted-client check as everywhere.
func TestFunctionWithoutSigningKeys(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "ERP", "viewer")
	tok := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
	published := httptest.NewServer(s.Handler)
	t.Cleanup(published.Close)

	cfg := config.Config{AuthIssuer: s.Deps.Config.AuthIssuer, AuthAudience: s.Deps.Config.AuthAudience,
		TokenJWKSURL: published.URL + "/.well-known/jwks.json"}
	issuer, err := platform.BuildIssuer(cfg)
	require.NoError(t, err)
	require.Nil(t, issuer, "no signing key, no issuer")
	authn, err := platform.NewAuthenticator(t.Context(), cfg, issuer, s.Deps.DB, nil)
	require.NoError(t, err)
	verify := func(token string) error {
		r := httptest.NewRequest(http.MethodGet, "/v1/counterparties", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		_, err := authn.Authenticate(r)
		return err
	}
	require.NoError(t, verify(tok.AccessToken))
	// The published keys are the token endpoint's, which signs API clients' tokens only:
	// a user's token under them is refused, even one the development key signed.
	require.Error(t, verify(admin), "only API clients' tokens are accepted under the published keys")

	resp := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: admin})
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
	require.Error(t, verify(tok.AccessToken), "a deleted client's token is refused here too")

	// The published set verifies nothing it does not hold.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ks, err := auth.NewKeySet(other)
	require.NoError(t, err)
	stranger, err := auth.NewIssuer(cfg.AuthIssuer, cfg.AuthAudience, ks, time.Minute)
	require.NoError(t, err)
	forged, err := stranger.IssueClientToken(uuid.New(), uuid.NewString(), []auth.Role{auth.RoleOwner})
	require.NoError(t, err)
	require.Error(t, verify(forged.Token))

	_, err = platform.NewAuthenticator(t.Context(), config.Config{AuthIssuer: cfg.AuthIssuer, AuthAudience: cfg.AuthAudience}, nil, s.Deps.DB, nil)
	require.ErrorContains(t, err, "TOKEN_SIGNING_KEYS, TOKEN_JWKS_URL or AUTH_DEV_KEY_FILE")
}
