package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

const (
	testIssuer   = "https://iss.test"
	testAudience = "ledgerline"
)

// absent marks a claim a test wants removed from the default set.
type absentClaim struct{}

var absent = absentClaim{}

type fixture struct {
	iss    *DevIssuer
	v      *Verifier
	tenant uuid.UUID
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	iss, err := LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "k.pem"), testIssuer, testAudience)
	require.NoError(t, err)
	return fixture{iss: iss, v: iss.Verifier(), tenant: uuid.New()}
}

// claims is a valid claim set at now, with overrides applied (absent deletes a claim).
func (f fixture) claims(now time.Time, overrides map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":       testIssuer,
		"aud":       []string{testAudience},
		"sub":       "user-1",
		"tenant_id": f.tenant.String(),
		"roles":     []string{"accountant"},
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       "tok-1",
	}
	for k, v := range overrides {
		if v == absent {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func signToken(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// ours signs claims with the issuer's own key and kid.
func (f fixture) ours(t *testing.T, claims jwt.Claims) string {
	return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": f.iss.kid}, claims)
}

func requireUnauthenticated(t *testing.T, err error) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "want an *apperr.Error, got %T: %v", err, err)
	require.Equal(t, apperr.Unauthenticated, ae.Kind, "error: %v", err)
	require.Equal(t, "unauthenticated", ae.Code)
	return ae
}

func newAttackerKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func TestVerifyValidToken(t *testing.T) {
	f := newFixture(t)
	tok, err := f.iss.Issue(f.tenant, "user-42", []Role{RoleAccountant, Role("superuser"), RoleAuditor, Role("OWNER")}, time.Hour)
	require.NoError(t, err)

	p, err := f.v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, f.tenant, p.TenantID)
	require.Equal(t, "user-42", p.Subject)
	require.Equal(t, []Role{RoleAccountant, RoleAuditor}, p.Roles, "unknown roles are dropped, known ones kept in order")
	require.Equal(t, ActorUser, p.ActorType, "actor_type defaults to user")
	require.NotEmpty(t, p.TokenID)
	_, err = uuid.Parse(p.TokenID)
	require.NoError(t, err, "the dev issuer's jti is a uuid")
}

func TestVerifyAcceptedVariants(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	cases := []struct {
		name      string
		overrides map[string]any
		check     func(t *testing.T, p Principal)
	}{
		{"actor_type agent", map[string]any{"actor_type": "agent"}, func(t *testing.T, p Principal) {
			require.Equal(t, ActorAgent, p.ActorType)
		}},
		{"actor_type api_client", map[string]any{"actor_type": "api_client"}, func(t *testing.T, p Principal) {
			require.Equal(t, ActorAPIClient, p.ActorType)
		}},
		{"actor_type user", map[string]any{"actor_type": "user"}, func(t *testing.T, p Principal) {
			require.Equal(t, ActorUser, p.ActorType)
		}},
		{"aud as a plain string", map[string]any{"aud": testAudience}, func(t *testing.T, p Principal) {
			require.Equal(t, "user-1", p.Subject)
		}},
		{"aud list containing ours", map[string]any{"aud": []string{"other-product", testAudience}}, func(t *testing.T, p Principal) {
			require.Equal(t, "user-1", p.Subject)
		}},
		{"no roles", map[string]any{"roles": absent}, func(t *testing.T, p Principal) {
			require.Empty(t, p.Roles)
			require.False(t, p.Can(InvoicesRead))
		}},
		{"only unknown roles", map[string]any{"roles": []string{"root", "Admin", ""}}, func(t *testing.T, p Principal) {
			require.Empty(t, p.Roles)
		}},
		{"no iat and no nbf", map[string]any{"iat": absent, "nbf": absent}, func(t *testing.T, p Principal) {
			require.Equal(t, f.tenant, p.TenantID)
		}},
		{"jti carried as token id", map[string]any{"jti": "abc-123"}, func(t *testing.T, p Principal) {
			require.Equal(t, "abc-123", p.TokenID)
		}},
		{"expired within leeway", map[string]any{"exp": now.Add(-10 * time.Second).Unix()}, func(t *testing.T, p Principal) {
			require.Equal(t, "user-1", p.Subject)
		}},
		{"nbf in the future within leeway", map[string]any{"nbf": now.Add(10 * time.Second).Unix()}, func(t *testing.T, p Principal) {
			require.Equal(t, "user-1", p.Subject)
		}},
		{"iat in the future within leeway", map[string]any{"iat": now.Add(10 * time.Second).Unix()}, func(t *testing.T, p Principal) {
			require.Equal(t, "user-1", p.Subject)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.v.Verify(context.Background(), f.ours(t, f.claims(now, tc.overrides)))
			require.NoError(t, err)
			tc.check(t, p)
		})
	}
}

func TestVerifyRejectsBadClaims(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	cases := []struct {
		name      string
		overrides map[string]any
		message   string // the public message, when it is specific
	}{
		{"expired beyond leeway", map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}, "token expired"},
		{"expired just beyond leeway", map[string]any{"exp": now.Add(-45 * time.Second).Unix()}, "token expired"},
		{"nbf in the future beyond leeway", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, "invalid token"},
		{"iat in the future beyond leeway", map[string]any{"iat": now.Add(2 * time.Minute).Unix()}, "invalid token"},
		{"wrong aud", map[string]any{"aud": []string{"someone-else"}}, "invalid token"},
		{"aud prefix of ours", map[string]any{"aud": "ledger"}, "invalid token"},
		{"missing aud", map[string]any{"aud": absent}, "invalid token"},
		{"wrong iss", map[string]any{"iss": "https://evil.test"}, "invalid token"},
		{"iss with trailing slash", map[string]any{"iss": testIssuer + "/"}, "invalid token"},
		{"missing iss", map[string]any{"iss": absent}, "invalid token"},
		{"missing exp", map[string]any{"exp": absent}, "invalid token"},
		{"exp not a number", map[string]any{"exp": "tomorrow"}, "invalid token"},
		{"missing tenant_id", map[string]any{"tenant_id": absent}, "token has no valid tenant_id"},
		{"empty tenant_id", map[string]any{"tenant_id": ""}, "token has no valid tenant_id"},
		{"non-uuid tenant_id", map[string]any{"tenant_id": "acme"}, "token has no valid tenant_id"},
		{"nil uuid tenant_id", map[string]any{"tenant_id": uuid.Nil.String()}, "token has no valid tenant_id"},
		{"numeric tenant_id", map[string]any{"tenant_id": 42}, "invalid token"},
		{"missing sub", map[string]any{"sub": absent}, "token has no subject"},
		{"empty sub", map[string]any{"sub": ""}, "token has no subject"},
		{"roles not a list", map[string]any{"roles": "owner"}, "invalid token"},
		{"unknown actor_type", map[string]any{"actor_type": "robot"}, "token has an unknown actor_type"},
		{"actor_type system cannot be claimed", map[string]any{"actor_type": "system"}, "token has an unknown actor_type"},
		{"actor_type case differs", map[string]any{"actor_type": "Agent"}, "token has an unknown actor_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.Verify(context.Background(), f.ours(t, f.claims(now, tc.overrides)))
			ae := requireUnauthenticated(t, err)
			require.Equal(t, tc.message, ae.Message)
		})
	}
}

func TestVerifyLeewayBoundaries(t *testing.T) {
	f := newFixture(t)
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier(testIssuer, testAudience, []string{"ES256"}, f.iss.Keyfunc(), func() time.Time { return now })
	cases := []struct {
		name      string
		overrides map[string]any
		ok        bool
	}{
		{"exp 29s ago", map[string]any{"exp": now.Unix() - 29}, true},
		{"exp 31s ago", map[string]any{"exp": now.Unix() - 31}, false},
		{"nbf in 30s", map[string]any{"nbf": now.Unix() + 30}, true},
		{"nbf in 31s", map[string]any{"nbf": now.Unix() + 31}, false},
		{"iat in 30s", map[string]any{"iat": now.Unix() + 30}, true},
		{"iat in 31s", map[string]any{"iat": now.Unix() + 31}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), f.ours(t, f.claims(now, tc.overrides)))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			requireUnauthenticated(t, err)
		})
	}
	// The injected clock is what is used: the same token is rejected an hour later.
	tok := f.ours(t, f.claims(now, nil))
	later := NewVerifier(testIssuer, testAudience, []string{"ES256"}, f.iss.Keyfunc(), func() time.Time { return now.Add(2 * time.Hour) })
	_, err := later.Verify(context.Background(), tok)
	require.Equal(t, "token expired", requireUnauthenticated(t, err).Message)
}

func TestVerifyIssuedTokenExpiry(t *testing.T) {
	f := newFixture(t)
	tok, err := f.iss.Issue(f.tenant, "user-1", []Role{RoleViewer}, -time.Minute)
	require.NoError(t, err)
	_, err = f.v.Verify(context.Background(), tok)
	ae := requireUnauthenticated(t, err)
	require.Equal(t, "token expired", ae.Message)
	require.ErrorIs(t, err, jwt.ErrTokenExpired, "the cause is kept for the logs")
}

// b64 is the JWT segment encoding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b64(b)
}

func TestVerifyRejectsForgedTokens(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	attacker := newAttackerKey(t)

	pubDER, err := x509.MarshalPKIXPublicKey(&f.iss.key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ecdhPub, err := f.iss.key.PublicKey.ECDH()
	require.NoError(t, err)

	valid := f.ours(t, f.claims(now, nil))
	parts := strings.Split(valid, ".")
	require.Len(t, parts, 3)

	tamper := func(change func(c map[string]any)) string {
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(payload, &c))
		change(c)
		return parts[0] + "." + segment(t, c) + "." + parts[2]
	}

	attackerJWK := map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": b64(attacker.PublicKey.X.FillBytes(make([]byte, 32))),
		"y": b64(attacker.PublicKey.Y.FillBytes(make([]byte, 32))),
	}

	cases := []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"alg none", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"alg none hand-built with empty signature", func(t *testing.T) string {
			return segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": f.iss.kid}) + "." + parts[1] + "."
		}},
		{"alg NONE upper-case", func(t *testing.T) string {
			return segment(t, map[string]any{"alg": "NONE", "typ": "JWT", "kid": f.iss.kid}) + "." + parts[1] + "."
		}},
		{"HS256 keyed with our public key PEM", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, pubPEM, map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"HS256 keyed with our public key DER", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"HS256 keyed with our raw public point", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, ecdhPub.Bytes(), map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"ES384 signed by an attacker key with our kid", func(t *testing.T) string {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			require.NoError(t, err)
			return signToken(t, jwt.SigningMethodES384, k, map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"ES256 signed by a different key with the same kid", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, attacker, map[string]any{"kid": f.iss.kid}, f.claims(now, nil))
		}},
		{"our key but unknown kid", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": "some-other-key"}, f.claims(now, nil))
		}},
		{"our key but no kid", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, nil, f.claims(now, nil))
		}},
		{"our key but kid is not a string", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": 7}, f.claims(now, nil))
		}},
		{"kid with path traversal", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": "../../etc/passwd"}, f.claims(now, nil))
		}},
		{"kid with SQL", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": "' OR 1=1 --"}, f.claims(now, nil))
		}},
		{"kid with our kid as a prefix", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": f.iss.kid + "/../x"}, f.claims(now, nil))
		}},
		{"attacker key with jku pointing elsewhere", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, attacker, map[string]any{"kid": f.iss.kid, "jku": "https://attacker.example/jwks.json"}, f.claims(now, nil))
		}},
		{"attacker key with x5u pointing elsewhere", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, attacker, map[string]any{"kid": f.iss.kid, "x5u": "https://attacker.example/cert.pem"}, f.claims(now, nil))
		}},
		{"attacker key with its public key embedded as jwk", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodES256, attacker, map[string]any{"kid": f.iss.kid, "jwk": attackerJWK}, f.claims(now, nil))
		}},
		{"tampered tenant_id", func(t *testing.T) string {
			return tamper(func(c map[string]any) { c["tenant_id"] = uuid.NewString() })
		}},
		{"tampered roles", func(t *testing.T) string {
			return tamper(func(c map[string]any) { c["roles"] = []string{"owner"} })
		}},
		{"tampered exp", func(t *testing.T) string {
			return tamper(func(c map[string]any) { c["exp"] = now.Add(24 * 365 * time.Hour).Unix() })
		}},
		{"tampered header alg", func(t *testing.T) string {
			return segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": f.iss.kid}) + "." + parts[1] + "." + parts[2]
		}},
		{"signature stripped", func(t *testing.T) string {
			return parts[0] + "." + parts[1] + "."
		}},
		{"signature from another token", func(t *testing.T) string {
			other := f.ours(t, f.claims(now, map[string]any{"sub": "user-2"}))
			return parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2]
		}},
		{"signature with base64 padding", func(t *testing.T) string {
			return valid + "=="
		}},
		{"two segments", func(t *testing.T) string { return parts[0] + "." + parts[1] }},
		{"four segments", func(t *testing.T) string { return valid + ".x" }},
		{"garbage", func(t *testing.T) string { return "not-a-token" }},
		{"empty", func(t *testing.T) string { return "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.Verify(context.Background(), tc.token(t))
			requireUnauthenticated(t, err)
		})
	}

	// Control: the untampered token verifies, so every rejection above is the attack's doing.
	p, err := f.v.Verify(context.Background(), valid)
	require.NoError(t, err)
	require.Equal(t, f.tenant, p.TenantID)
}

func TestVerifyIgnoresKeyURLHeaders(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	for _, h := range []string{"jku", "x5u"} {
		t.Run(h, func(t *testing.T) {
			tok := signToken(t, jwt.SigningMethodES256, f.iss.key, map[string]any{"kid": f.iss.kid, h: "https://attacker.example/keys"}, f.claims(now, nil))
			p, err := f.v.Verify(context.Background(), tok)
			require.NoError(t, err, "the header is ignored; our key verifies")
			require.Equal(t, f.tenant, p.TenantID)
		})
	}
}

func TestVerifyTokenSize(t *testing.T) {
	f := newFixture(t)
	now := time.Now()

	small := f.ours(t, f.claims(now, map[string]any{"pad": strings.Repeat("a", 5000)}))
	require.Less(t, len(small), maxTokenBytes)
	_, err := f.v.Verify(context.Background(), small)
	require.NoError(t, err, "a large but permitted token with valid signature verifies")

	big := f.ours(t, f.claims(now, map[string]any{"pad": strings.Repeat("a", 7000)}))
	require.Greater(t, len(big), maxTokenBytes)
	_, err = f.v.Verify(context.Background(), big)
	ae := requireUnauthenticated(t, err)
	require.Equal(t, "token too large", ae.Message)

	_, err = f.v.Verify(context.Background(), strings.Repeat("A", 1<<20))
	require.Equal(t, "token too large", requireUnauthenticated(t, err).Message)
}

func TestAuthenticateHeader(t *testing.T) {
	f := newFixture(t)
	tok, err := f.iss.Issue(f.tenant, "user-1", []Role{RoleViewer}, time.Hour)
	require.NoError(t, err)

	cases := []struct {
		name   string
		header *string
		ok     bool
	}{
		{"missing header", nil, false},
		{"basic scheme", ptr("Basic dXNlcjpwYXNz"), false},
		{"basic scheme with a real token", ptr("Basic " + tok), false},
		{"bearer alone", ptr("Bearer"), false},
		{"bearer with empty token", ptr("Bearer "), false},
		{"token without scheme", ptr(tok), false},
		{"bearer with garbage", ptr("Bearer garbage"), false},
		{"bearer with extra space", ptr("Bearer  " + tok), false},
		{"Bearer", ptr("Bearer " + tok), true},
		{"lower-case bearer", ptr("bearer " + tok), true},
		{"upper-case bearer", ptr("BEARER " + tok), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/invoices", nil)
			if tc.header != nil {
				r.Header.Set("Authorization", *tc.header)
			}
			p, err := f.v.Authenticate(r)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, f.tenant, p.TenantID)
				require.Equal(t, []Role{RoleViewer}, p.Roles)
				return
			}
			requireUnauthenticated(t, err)
			require.Equal(t, Principal{}, p)
		})
	}
}

func ptr(s string) *string { return &s }

func TestVerifierFromAnotherIssuerRejects(t *testing.T) {
	a := newFixture(t)
	b := newFixture(t)
	tok, err := a.iss.Issue(a.tenant, "user-1", []Role{RoleOwner}, time.Hour)
	require.NoError(t, err)
	_, err = b.v.Verify(context.Background(), tok)
	requireUnauthenticated(t, err)
}

func TestForbidden(t *testing.T) {
	err := Forbidden(InvoicesWrite)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae))
	require.Equal(t, apperr.Forbidden, ae.Kind)
	require.Equal(t, "forbidden", ae.Code)
	require.Contains(t, ae.Message, "invoices:write")
}

func TestPrincipalContext(t *testing.T) {
	_, ok := PrincipalFrom(context.Background())
	require.False(t, ok)

	want := Principal{TenantID: uuid.New(), Subject: "s", Roles: []Role{RoleViewer}, ActorType: ActorAgent, TokenID: "t"}
	got, ok := PrincipalFrom(WithPrincipal(context.Background(), want))
	require.True(t, ok)
	require.Equal(t, want, got)
}
