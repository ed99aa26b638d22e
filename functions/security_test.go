package functions_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/issuers/issuerstest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// forger signs tokens as an attacker would build them, with full control over header
// and claims, and (for the cases that need a valid signature) with the development
// issuer's own key.
type forger struct {
	key    *ecdsa.PrivateKey
	kid    string
	iss    string
	aud    string
	tenant uuid.UUID
}

func newForger(t *testing.T, s *apitest.Server, tenant uuid.UUID) forger {
	t.Helper()
	b, err := os.ReadFile(s.KeyFile)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	key, err := x509.ParseECPrivateKey(block.Bytes)
	require.NoError(t, err)
	// The kid the issuer stamps on its tokens, read from one of them.
	tok, _, err := jwt.NewParser().ParseUnverified(s.Token(t, tenant, auth.RoleViewer), jwt.MapClaims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	require.NotEmpty(t, kid)
	return forger{key: key, kid: kid, iss: s.Issuer.Issuer, aud: s.Issuer.Audience, tenant: tenant}
}

// claims is a valid owner's claim set now, with overrides (nil deletes a claim).
func (f forger) claims(overrides map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": f.iss, "aud": []string{f.aud}, "sub": "user-1", "tenant_id": f.tenant.String(),
		"roles": []string{"owner"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString(),
	}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func forge(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// ours signs claims with the issuer's key and kid: everything but the claims is genuine.
func (f forger) ours(t *testing.T, overrides map[string]any) string {
	return forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": f.kid}, f.claims(overrides))
}

func jwtSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// retamper re-encodes a signed token's payload after change, keeping header and signature.
func retamper(t *testing.T, token string, change func(c map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(payload, &c))
	change(c)
	return parts[0] + "." + jwtSegment(t, c) + "." + parts[2]
}

// attackerSite is a server an attacker controls, publishing its own key under every
// URL a token header could point the verifier at. It counts what it is asked.
type attackerSite struct {
	srv  *httptest.Server
	key  *ecdsa.PrivateKey
	hits atomic.Int64
}

func newAttackerSite(t *testing.T) *attackerSite {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	a := &attackerSite{key: key}
	jwk := attackerJWK(key)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func attackerJWK(key *ecdsa.PrivateKey) map[string]any {
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "attacker", "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(key.PublicKey.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(key.PublicKey.Y.FillBytes(make([]byte, 32))),
	}
}

// requireUnauthorized checks a refusal of the credentials: 401, the stable code, a Bearer
// challenge, and nothing but the problem in the body.
func requireUnauthorized(t *testing.T, resp apitest.Response, what string) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, resp.Status, "%s: want 401, got %d: %s", what, resp.Status, resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), what)
	require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer "), "%s: challenge %q", what, resp.Header.Get("WWW-Authenticate"))
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(resp.Body, &body), what)
	for k := range body {
		require.Contains(t, problemKeys, k, "%s: a refusal carries member %q: %s", what, k, resp.Body)
	}
	require.Equal(t, "unauthenticated", resp.Problem(t).Code, what)
}

// TestSecurityJWTAttacksOverHTTP sends every forged or broken credential to every
// operation that needs one: each is refused with 401 before any handler runs.
func TestSecurityJWTAttacksOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, adminToken := s.Tenant(t, "Target")
	const secretName = "Target's confidential customer"
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: adminToken,
		Body: map[string]any{"name": secretName, "kind": "customer"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	f := newForger(t, s, tenant)
	site := newAttackerSite(t)

	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ecdhPub, err := f.key.PublicKey.ECDH()
	require.NoError(t, err)
	viewerToken := s.Token(t, tenant, auth.RoleViewer)
	now := time.Now()
	padded := f.ours(t, map[string]any{"pad": strings.Repeat("A", 9<<10)})
	require.Greater(t, len(padded), 8<<10)

	// An API client's genuine token, from the token endpoint, after the client is deleted.
	client := createAPIClient(t, s, adminToken, "Deleted ERP", "admin")
	deletedClientToken := requireToken(t, s.Do(t, tokenRequest(clientCredentials(),
		map[string]string{"Authorization": basicAuth(client.ID, client.Secret)}))).AccessToken
	require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: deletedClientToken}).Status)
	resp = s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/api-clients/" + client.ID, Token: adminToken})
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))

	attacks := []struct {
		name  string
		token string
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": f.kid}, f.claims(nil))},
		{"alg None hand-built", jwtSegment(t, map[string]any{"alg": "None", "typ": "JWT", "kid": f.kid}) + "." + jwtSegment(t, f.claims(nil)) + "."},
		{"alg NONE hand-built with a signature", jwtSegment(t, map[string]any{"alg": "NONE", "kid": f.kid}) + "." + jwtSegment(t, f.claims(nil)) + ".c2ln"},
		{"HS256 keyed with the public key PEM", forge(t, jwt.SigningMethodHS256, pubPEM, map[string]any{"kid": f.kid}, f.claims(nil))},
		{"HS256 keyed with the public key DER", forge(t, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": f.kid}, f.claims(nil))},
		{"HS256 keyed with the raw public point", forge(t, jwt.SigningMethodHS256, ecdhPub.Bytes(), map[string]any{"kid": f.kid}, f.claims(nil))},
		{"unknown kid", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "key-that-does-not-exist"}, f.claims(nil))},
		{"no kid", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": nil}, f.claims(nil))},
		{"kid path traversal to /dev/null", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "../../dev/null"}, f.claims(nil))},
		{"kid path traversal to passwd", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "../../../../../../etc/passwd"}, f.claims(nil))},
		{"kid path traversal after our kid", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": f.kid + "/../../dev/null"}, f.claims(nil))},
		{"kid SQL injection tautology", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "' OR '1'='1"}, f.claims(nil))},
		{"kid SQL injection statement", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "x'; DROP TABLE tenants; --"}, f.claims(nil))},
		{"kid SQL injection union", forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": "x' UNION SELECT 'secret' --"}, f.claims(nil))},
		{"expired", f.ours(t, map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})},
		{"expired long ago", f.ours(t, map[string]any{"exp": now.Add(-365 * 24 * time.Hour).Unix(), "iat": now.Add(-366 * 24 * time.Hour).Unix(), "nbf": nil})},
		{"not yet valid", f.ours(t, map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})},
		{"issued in the future", f.ours(t, map[string]any{"iat": now.Add(5 * time.Minute).Unix()})},
		{"wrong aud", f.ours(t, map[string]any{"aud": []string{"another-product"}})},
		{"aud a prefix of ours", f.ours(t, map[string]any{"aud": f.aud[:len(f.aud)-1]})},
		{"missing aud", f.ours(t, map[string]any{"aud": nil})},
		{"wrong iss", f.ours(t, map[string]any{"iss": "https://evil.example"})},
		{"iss with a trailing slash", f.ours(t, map[string]any{"iss": f.iss + "/"})},
		{"missing iss", f.ours(t, map[string]any{"iss": nil})},
		{"missing exp", f.ours(t, map[string]any{"exp": nil})},
		{"exp not a number", f.ours(t, map[string]any{"exp": "never"})},
		{"missing tenant_id", f.ours(t, map[string]any{"tenant_id": nil})},
		{"nil tenant_id", f.ours(t, map[string]any{"tenant_id": uuid.Nil.String()})},
		{"tenant_id not an id", f.ours(t, map[string]any{"tenant_id": "acme' OR '1'='1"})},
		{"missing sub", f.ours(t, map[string]any{"sub": nil})},
		{"roles raised after signing", retamper(t, viewerToken, func(c map[string]any) { c["roles"] = []string{"owner"} })},
		{"tenant switched after signing", retamper(t, viewerToken, func(c map[string]any) { c["tenant_id"] = uuid.NewString() })},
		{"platform admin claimed after signing", retamper(t, viewerToken, func(c map[string]any) { c["platform_admin"] = true })},
		{"exp extended after signing", retamper(t, forge(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": f.kid},
			f.claims(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(), "nbf": nil})),
			func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() })},
		{"signature stripped", strings.Join(strings.Split(viewerToken, ".")[:2], ".") + "."},
		{"signature of another token", strings.Join(strings.Split(viewerToken, ".")[:2], ".") + "." + strings.Split(adminToken, ".")[2]},
		{"oversized with a valid signature", padded},
		{"attacker key with our kid", forge(t, jwt.SigningMethodES256, site.key, map[string]any{"kid": f.kid}, f.claims(nil))},
		{"attacker key, jku to the attacker's JWKS", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "jku": site.srv.URL + "/jwks.json"}, f.claims(nil))},
		{"attacker key, jku and our kid", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": f.kid, "jku": site.srv.URL + "/jwks.json"}, f.claims(nil))},
		{"attacker key, x5u to the attacker's certificate", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "x5u": site.srv.URL + "/cert.pem"}, f.claims(nil))},
		{"attacker key embedded as jwk", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "jwk": attackerJWK(site.key)}, f.claims(nil))},
		{"attacker key embedded as jwk with our kid", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": f.kid, "jwk": attackerJWK(site.key)}, f.claims(nil))},
		{"attacker's own issuer", forge(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "jku": site.srv.URL + "/jwks.json"}, f.claims(map[string]any{"iss": site.srv.URL}))},
		{"token of a deleted API client", deletedClientToken},
		{"garbage", "not-a-token"},
		{"two segments", strings.Join(strings.Split(viewerToken, ".")[:2], ".")},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{alg")) + "." + strings.Split(viewerToken, ".")[1] + ".x"},
	}

	// Control: the same forger with nothing forged gets in, so each refusal below is the
	// attack's doing and not a fault of how the tokens are built.
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: f.ours(t, nil)})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Contains(t, string(resp.Body), secretName)

	for _, fn := range httpOperations(t) {
		if fn.Public() {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			for _, a := range attacks {
				what := fmt.Sprintf("%s %s with %s", fn.Method, fn.Path, a.name)
				resp := s.Do(t, minimalRequest(fn, a.token))
				requireUnauthorized(t, resp, what)
				require.NotContains(t, string(resp.Body), secretName, what)
			}
		})
	}

	require.Zero(t, site.hits.Load(), "the verifier fetched keys from a URL a token named")
	var tenants int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT count(*) FROM tenants`).Scan(&tenants))
	require.Equal(t, 1, tenants, "the injected kid ran no SQL")
}

// TestSecurityKeyURLHeadersAreIgnored shows the jku, x5u and jwk headers do nothing
// either way: with the issuer's genuine signature the token is accepted, and nothing
// is fetched from the URL.
func TestSecurityKeyURLHeadersAreIgnored(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant := s.DB.NewTenant(t, "Headers")
	f := newForger(t, s, tenant)
	site := newAttackerSite(t)
	for _, h := range []map[string]any{
		{"jku": site.srv.URL + "/jwks.json"},
		{"x5u": site.srv.URL + "/cert.pem"},
		{"jwk": attackerJWK(site.key)},
	} {
		h["kid"] = f.kid
		tok := forge(t, jwt.SigningMethodES256, f.key, h, f.claims(nil))
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: tok})
		require.Equal(t, http.StatusOK, resp.Status, "%v: %s", h, resp.Body)
	}
	require.Zero(t, site.hits.Load())
}

// TestSecurityMalformedAuthorizationHeaders sends credentials that are not a bearer
// token in the one accepted form.
func TestSecurityMalformedAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant := s.DB.NewTenant(t, "Headers")
	tok := s.Token(t, tenant, auth.RoleOwner)
	cases := map[string]string{
		"empty":                       "",
		"basic credentials":           "Basic " + base64.StdEncoding.EncodeToString([]byte("client:secret")),
		"basic scheme, real token":    "Basic " + tok,
		"another scheme":              "Token " + tok,
		"scheme only":                 "Bearer",
		"scheme and a space":          "Bearer ",
		"two spaces":                  "Bearer  " + tok,
		"tab instead of space":        "Bearer\t" + tok,
		"token without a scheme":      tok,
		"token then more":             "Bearer " + tok + " " + tok,
		"token with a trailing comma": "Bearer " + tok + ",",
		"quoted token":                `Bearer "` + tok + `"`,
		"null":                        "Bearer null",
		"undefined":                   "Bearer undefined",
		"three dots":                  "Bearer ...",
		"non-ASCII":                   "Bearer ünïcødé.ünïcødé.ünïcødé",
		"huge":                        "Bearer " + strings.Repeat("A", 64<<10),
	}
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{}
			if header != "" {
				h["Authorization"] = header
			}
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Header: h})
			requireUnauthorized(t, resp, name)
		})
	}
	// Control: the same token in the accepted form, with the scheme in any case.
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Header: map[string]string{"Authorization": scheme + " " + tok}})
		require.Equal(t, http.StatusOK, resp.Status, scheme)
	}
}

// TestSecurityRSAKeyConfusion serves the functions with an RSA signing key, as
// TOKEN_SIGNING_KEYS may hold, and forges tokens from what the JWKS endpoint publishes
// of it: HMAC keyed with the public key in every encoding an attacker could derive, and
// the other asymmetric algorithms. All are refused.
func TestSecurityRSAKeyConfusion(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	s := apitest.New(t, func(d *platform.Deps) {
		ks, err := auth.NewKeySet(key)
		require.NoError(t, err)
		iss, err := auth.NewIssuer(d.Config.AuthIssuer, d.Config.AuthAudience, ks, time.Hour)
		require.NoError(t, err)
		d.Issuer, d.Auth = iss, platform.OwnAuthenticator(iss, d.DB)
	})
	tenant := s.DB.NewTenant(t, "RSA")

	// What an attacker can learn: the published key set.
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/.well-known/jwks.json"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	resp.JSON(t, &set)
	require.Len(t, set.Keys, 1)
	jwk := set.Keys[0]
	require.Equal(t, "RSA", jwk.Kty)
	n, err := base64.RawURLEncoding.DecodeString(jwk.N)
	require.NoError(t, err)
	e, err := base64.RawURLEncoding.DecodeString(jwk.E)
	require.NoError(t, err)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	require.True(t, pub.Equal(&key.PublicKey), "the published key is the signing key's public half")
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	secrets := map[string][]byte{
		"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PKIX DER":  pkix,
		"PKCS1 DER": pkcs1,
		"modulus":   n,
		"JWK JSON":  resp.Body,
	}

	claims := func() jwt.MapClaims {
		now := time.Now()
		return jwt.MapClaims{"iss": s.Deps.Issuer.Name, "aud": []string{s.Deps.Issuer.Audience}, "sub": "user-1",
			"tenant_id": tenant.String(), "roles": []string{"owner"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	header := map[string]any{"kid": jwk.KID}

	// Control: the key itself signs a token that is let in.
	good := forge(t, jwt.SigningMethodRS256, key, header, claims())
	require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: good}).Status)

	attacks := map[string]string{}
	for name, secret := range secrets {
		for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
			attacks[m.Alg()+" keyed with the "+name] = forge(t, m, secret, header, claims())
		}
	}
	// The same key under algorithms the issuer does not pin.
	attacks["PS256 by the key"] = forge(t, jwt.SigningMethodPS256, key, header, claims())
	attacks["RS384 by the key"] = forge(t, jwt.SigningMethodRS384, key, header, claims())
	attacks["RS512 by the key"] = forge(t, jwt.SigningMethodRS512, key, header, claims())
	attacks["alg none"] = forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header, claims())
	for name, tok := range attacks {
		for _, path := range []string{"/v1/invoices", "/v1/api-clients"} {
			requireUnauthorized(t, s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tok}), name+" on "+path)
		}
	}
}

// TestSecurityExternalIssuerAttacks attacks the path of tokens from issuers a tenant
// trusts: forged signatures and headers against a trusted issuer, and a tenant admin
// who trusts an issuer of their own and mints tokens naming another tenant.
func TestSecurityExternalIssuerAttacks(t *testing.T) {
	t.Parallel()
	trusted := issuerstest.New(t)  // the victim's identity provider
	attacker := issuerstest.New(t) // an identity provider the attacker runs
	s := apitest.New(t, withTrustedIssuers(t, &testClock{t: time.Now()}))
	victim, victimAdmin := s.Tenant(t, "Victim")
	_, attackerAdmin := s.Tenant(t, "Attacker")
	const secretName = "Victim's confidential customer"
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: victimAdmin,
		Body: map[string]any{"name": secretName, "kind": "customer"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	createIssuer(t, s, victimAdmin, issuerBody(trusted, "org_victim"))
	createIssuer(t, s, attackerAdmin, issuerBody(attacker, "org_attacker"))
	site := newAttackerSite(t)

	claims := func(p *issuerstest.Provider, org string, extra jwt.MapClaims) jwt.MapClaims {
		c := p.Claims(externalAudience, "okta|"+org+"-user", jwt.MapClaims{"org_id": org, externalRoles: []string{"Finance Admin"}})
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	// Control: the victim's provider's own token reads the victim's books.
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", nil))})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Contains(t, string(resp.Body), secretName)

	rsaKey := trusted.Key(t, "rsa-1")
	pub := rsaKey.Public().(*rsa.PublicKey)
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	good := claims(trusted, "org_victim", nil)
	fetchesBefore := trusted.JWKSFetches()

	attacks := map[string]string{
		"alg none with the trusted kid": issuerstest.SignWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			map[string]any{"kid": "rsa-1"}, good),
		"HS256 keyed with the trusted RSA key": issuerstest.SignWith(t, jwt.SigningMethodHS256, pubPEM, map[string]any{"kid": "rsa-1"}, good),
		"HS256 keyed with the trusted key DER": issuerstest.SignWith(t, jwt.SigningMethodHS256, pkix, map[string]any{"kid": "rsa-1"}, good),
		"attacker key with the trusted kid":    issuerstest.SignWith(t, jwt.SigningMethodES256, site.key, map[string]any{"kid": "rsa-1"}, good),
		"attacker key with jku to the attacker": issuerstest.SignWith(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "jku": site.srv.URL + "/jwks.json"}, good),
		"attacker key with x5u to the attacker": issuerstest.SignWith(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "attacker", "x5u": site.srv.URL + "/cert.pem"}, good),
		"attacker key embedded as jwk": issuerstest.SignWith(t, jwt.SigningMethodES256, site.key,
			map[string]any{"kid": "ec-1", "jwk": attackerJWK(site.key)}, good),
		"kid path traversal":   issuerstest.SignWith(t, rsaKey.Method, rsaKey.Signer, map[string]any{"kid": "../../dev/null"}, good),
		"kid SQL injection":    issuerstest.SignWith(t, rsaKey.Method, rsaKey.Signer, map[string]any{"kid": "' OR '1'='1"}, good),
		"expired":              trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})),
		"not yet valid":        trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()})),
		"issued in the future": trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", jwt.MapClaims{"iat": time.Now().Add(time.Hour).Unix()})),
		"wrong aud":            trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", jwt.MapClaims{"aud": "https://elsewhere"})),
		"missing exp":          trusted.Sign(t, "rsa-1", claims(trusted, "org_victim", jwt.MapClaims{"exp": nil})),
		"roles raised after signing": retamper(t, trusted.Sign(t, "rsa-1", claims(trusted, "org_victim",
			jwt.MapClaims{externalRoles: []string{"Reader"}})), func(c map[string]any) { c[externalRoles] = []string{"Finance Admin"} }),
		// The attacker's own, trusted issuer, naming the victim by every claim it can.
		"attacker issuer bound to the victim's org": attacker.Sign(t, "rsa-1", claims(attacker, "org_victim", nil)),
		"attacker issuer claiming the victim's iss": attacker.Sign(t, "rsa-1", claims(attacker, "org_victim",
			jwt.MapClaims{"iss": trusted.Issuer})),
		"attacker issuer claiming Ledgerline's own iss": attacker.Sign(t, "rsa-1", claims(attacker, "org_attacker",
			jwt.MapClaims{"iss": s.Deps.Config.AuthIssuer, "tenant_id": victim.String(), "roles": []string{"owner"}, "aud": "ledgerline"})),
	}
	for name, tok := range attacks {
		for _, path := range []string{"/v1/counterparties", "/v1/invoices"} {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tok})
			requireUnauthorized(t, resp, name+" on "+path)
			require.NotContains(t, string(resp.Body), secretName, name)
		}
	}

	// The attacker's issuer bound to the attacker's org, with every claim naming the
	// victim: it authenticates, as the attacker's tenant and nothing else.
	smuggled := attacker.Sign(t, "rsa-1", claims(attacker, "org_attacker", jwt.MapClaims{
		"tenant_id": victim.String(), "platform_admin": true, "roles": []string{"owner"}}))
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: smuggled})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.NotContains(t, string(resp.Body), secretName, "a tenant_id claim moved an external token to another tenant")
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/admin/dead-letters", Token: smuggled})
	requireForbidden(t, resp, "platform_admin claimed by an external issuer")

	require.Zero(t, site.hits.Load(), "keys were fetched from a URL a token named")
	// Unknown kids may refresh the victim's key set, but only as often as the limit allows.
	require.LessOrEqual(t, trusted.JWKSFetches()-fetchesBefore, 1)
}
