package issuers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/issuers/issuerstest"
)

const (
	audience   = "https://api.ledgerline.test"
	rolesClaim = "https://ledgerline.io/roles"
)

// clock is a settable clock for the verifier's cache ages and token times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	db       *dbtest.Database
	provider *issuerstest.Provider
	svc      *issuers.Service
	clock    *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := dbtest.New(t)
	return &fixture{
		db:       d,
		provider: issuerstest.New(t),
		svc:      &issuers.Service{DB: d.App, Now: time.Now, AllowLoopback: true},
		clock:    &clock{t: time.Now()},
	}
}

// authenticator is what the platform runs: the authenticator dispatching every
// foreign iss to a fresh verifier (a new instance, with empty caches).
func (f *fixture) authenticator(t *testing.T, o issuers.Options) *auth.Authenticator {
	t.Helper()
	o.AllowLoopback = true
	o.Logger = slog.New(slog.DiscardHandler)
	if o.Now == nil {
		o.Now = f.clock.Now
	}
	v := issuers.NewVerifier(f.db.App, o)
	t.Cleanup(v.Close)
	return &auth.Authenticator{External: v}
}

// sameNames maps every Ledgerline role name to itself: the explicit mapping of an
// issuer whose role names are Ledgerline's.
func sameNames() map[string]string {
	m := map[string]string{}
	for _, r := range auth.Roles() {
		m[string(r)] = string(r)
	}
	return m
}

// trust makes tenant trust the provider, bound by org_id = org, its role names mapped
// to the same Ledgerline roles, with edit applied; an owner trusts it.
func (f *fixture) trust(t *testing.T, tenant uuid.UUID, org string, edit func(*issuers.CreateInput)) issuers.Issuer {
	t.Helper()
	in := issuers.CreateInput{
		Issuer: f.provider.Issuer, Audience: audience, JWKSURL: ptr(f.provider.JWKSURL()),
		RolesClaim: rolesClaim, RoleMapping: sameNames(), Binding: &issuers.Binding{Claim: "org_id", Value: org},
	}
	if edit != nil {
		edit(&in)
	}
	i, err := f.svc.Create(context.Background(), actor(tenant), owner, in)
	require.NoError(t, err)
	return i
}

// token is a valid token of org with roles, with extra claims on top.
func (f *fixture) token(t *testing.T, kid, org string, roles []string, extra jwt.MapClaims) string {
	t.Helper()
	c := f.provider.Claims(audience, "auth0|user-1", jwt.MapClaims{"org_id": org, rolesClaim: roles})
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return f.provider.Sign(t, kid, c)
}

func requireRefused(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	e := apperr.From(err)
	require.Equal(t, apperr.Unauthenticated, e.Kind, "%v", err)
	require.Equal(t, "unauthenticated", e.Code)
	require.Equal(t, "invalid token", e.Message, "refusals do not say which check failed")
}

func TestValidTokenBindsTheTenantAndMapsRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) {
		in.Algorithms = []string{"RS256", "ES256"}
		in.RoleMapping = map[string]string{"Finance Admin": "admin", "AP Clerk": "accountant"}
	})
	a := f.authenticator(t, issuers.Options{})

	raw := f.token(t, "rsa-1", "org_acme", []string{"Finance Admin", "Janitor", "viewer", "AP Clerk", "Finance Admin"},
		jwt.MapClaims{"platform_admin": true, "tenant_id": uuid.NewString(), "actor_type": "agent", "jti": "tok-1"})
	p, err := a.Verify(context.Background(), raw)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{
		TenantID: tenant, Subject: "auth0|user-1", ActorType: auth.ActorUser, TokenID: "tok-1", Issuer: f.provider.Issuer,
		External: true,
		// "viewer" is a Ledgerline role but not mapped: with a mapping only mapped names count.
		Roles: []auth.Role{auth.RoleAdmin, auth.RoleAccountant},
	}, p, "tenant from the binding, never from tenant_id; no platform admin, no actor_type from outside")
	require.False(t, p.Can(auth.PlatformAdmin))

	// The EC key verifies too, as ES256 is pinned.
	p, err = a.Verify(context.Background(), f.token(t, "ec-1", "org_acme", []string{"AP Clerk"}, nil))
	require.NoError(t, err)
	require.Equal(t, []auth.Role{auth.RoleAccountant}, p.Roles)
}

func TestRolesClaimForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) { in.RolesClaim = "roles" })
	a := f.authenticator(t, issuers.Options{})

	cases := map[string]struct {
		claim any
		want  []auth.Role
	}{
		"array of Ledgerline names":      {[]string{"accountant", "approver", "root"}, []auth.Role{auth.RoleAccountant, auth.RoleApprover}},
		"space-separated string":         {"viewer  auditor unknown", []auth.Role{auth.RoleViewer, auth.RoleAuditor}},
		"no roles claim":                 {nil, nil},
		"a number grants nothing":        {42, nil},
		"non-strings in the array":       {[]any{"viewer", 7, map[string]any{"x": 1}}, []auth.Role{auth.RoleViewer}},
		"case matters, as for any token": {[]string{"Admin"}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := f.provider.Claims(audience, "user-1", jwt.MapClaims{"org_id": "org_acme", "roles": tc.claim})
			p, err := a.Verify(context.Background(), f.provider.Sign(t, "rsa-1", c))
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Roles)
		})
	}
}

func TestBindingChoosesTheTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	f.trust(t, acme, "org_acme", nil)
	f.trust(t, globex, "org_globex", nil)
	a := f.authenticator(t, issuers.Options{})
	ctx := context.Background()

	p, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", []string{"admin"}, nil))
	require.NoError(t, err)
	require.Equal(t, acme, p.TenantID)
	p, err = a.Verify(ctx, f.token(t, "rsa-1", "org_globex", []string{"admin"}, nil))
	require.NoError(t, err)
	require.Equal(t, globex, p.TenantID)

	t.Run("a value no tenant binds", func(t *testing.T) {
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_initech", []string{"admin"}, nil))
		requireRefused(t, err)
	})
	t.Run("no binding claim", func(t *testing.T) {
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "", []string{"admin"}, jwt.MapClaims{"org_id": nil}))
		requireRefused(t, err)
	})
	t.Run("binding claim that is not a string", func(t *testing.T) {
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "", nil, jwt.MapClaims{"org_id": []string{"org_acme"}}))
		requireRefused(t, err)
	})
	t.Run("another tenant cannot bind the issuer's tokens by another claim", func(t *testing.T) {
		// Before 00018 this trust was accepted, and every Acme token carrying team
		// t-9 then matched two tenants and was refused: a lock-out.
		initech := f.db.NewTenant(t, "Initech")
		in := issuers.CreateInput{Issuer: f.provider.Issuer, Audience: audience, RolesClaim: rolesClaim,
			RoleMapping: sameNames(), Binding: &issuers.Binding{Claim: "team", Value: "t-9"}}
		_, err := f.svc.Create(ctx, actor(initech), owner, in)
		require.Equal(t, "trusted_issuer_binding_claim_differs", apperr.From(err).Code, "%v", err)
		fresh := f.authenticator(t, issuers.Options{})
		p, err := fresh.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, jwt.MapClaims{"team": "t-9"}))
		require.NoError(t, err)
		require.Equal(t, acme, p.TenantID)
	})
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) { in.Algorithms = []string{"RS256"} })
	a := f.authenticator(t, issuers.Options{})
	ctx := context.Background()
	now := time.Now()

	// The RSA key's public half as PEM: the "secret" of the classic RS/HS confusion.
	der, err := x509.MarshalPKIXPublicKey(f.provider.Key(t, "rsa-1").Public())
	require.NoError(t, err)
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	// An attacker's key, served (with a counter) by the attacker's own provider.
	attacker := issuerstest.New(t)
	attackerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	claims := func(extra jwt.MapClaims) jwt.MapClaims {
		c := f.provider.Claims(audience, "user-1", jwt.MapClaims{"org_id": "org_acme", rolesClaim: []string{"admin"}})
		for k, v := range extra {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	sign := func(extra jwt.MapClaims) string { return f.provider.Sign(t, "rsa-1", claims(extra)) }
	valid := sign(nil)
	parts := strings.Split(valid, ".")
	elevated, err := json.Marshal(claims(jwt.MapClaims{rolesClaim: []string{"owner"}, "org_id": "org_acme"}))
	require.NoError(t, err)

	cases := map[string]string{
		"wrong audience":             sign(jwt.MapClaims{"aud": "https://other.example"}),
		"audience list without ours": sign(jwt.MapClaims{"aud": []string{"https://other.example", audience + "/"}}),
		"no audience":                sign(jwt.MapClaims{"aud": nil}),
		"iss of another issuer":      sign(jwt.MapClaims{"iss": attacker.Issuer}),
		"iss with a trailing slash":  sign(jwt.MapClaims{"iss": f.provider.Issuer + "/"}),
		"expired":                    sign(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}),
		"not yet valid":              sign(jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()}),
		"issued in the future":       sign(jwt.MapClaims{"iat": now.Add(time.Hour).Unix()}),
		"no exp":                     sign(jwt.MapClaims{"exp": nil}),
		"no sub":                     sign(jwt.MapClaims{"sub": nil}),
		"empty sub":                  sign(jwt.MapClaims{"sub": ""}),
		"exp not a number":           sign(jwt.MapClaims{"exp": "tomorrow"}),
		"tampered payload":           parts[0] + "." + base64.RawURLEncoding.EncodeToString(elevated) + "." + parts[2],
		"signature stripped":         parts[0] + "." + parts[1] + ".",
		"alg not pinned (ES256)":     f.provider.Sign(t, "ec-1", claims(nil)),
		"HS256 with the RSA public key as secret": issuerstest.SignWith(t, jwt.SigningMethodHS256, publicPEM,
			map[string]any{"kid": "rsa-1"}, claims(nil)),
		"alg none": issuerstest.SignWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			map[string]any{"kid": "rsa-1"}, claims(nil)),
		"unknown kid": issuerstest.SignWith(t, jwt.SigningMethodES256, attackerKey, map[string]any{"kid": "attacker"}, claims(nil)),
		"kid path injection": issuerstest.SignWith(t, jwt.SigningMethodES256, attackerKey,
			map[string]any{"kid": "../../../../dev/null"}, claims(nil)),
		"kid SQL injection": issuerstest.SignWith(t, jwt.SigningMethodES256, attackerKey,
			map[string]any{"kid": "x' OR '1'='1"}, claims(nil)),
		"no kid, foreign key": issuerstest.SignWith(t, jwt.SigningMethodES256, attackerKey, nil, claims(nil)),
		// jku and x5u are never followed: signed with a key the attacker publishes, under
		// the kid of a trusted key, saying where to fetch it.
		"jku to the attacker's keys": issuerstest.SignWith(t, jwt.SigningMethodRS256, attacker.Key(t, "rsa-1").Signer,
			map[string]any{"kid": "rsa-1", "jku": attacker.JWKSURL(), "x5u": attacker.JWKSURL()}, claims(nil)),
	}

	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := a.Verify(ctx, raw)
			requireRefused(t, err)
		})
	}
	require.Zero(t, attacker.JWKSFetches(), "nothing a token says makes Ledgerline fetch keys from elsewhere")

	t.Run("the valid token passes", func(t *testing.T) {
		p, err := a.Verify(ctx, valid)
		require.NoError(t, err)
		require.Equal(t, tenant, p.TenantID)
	})
	t.Run("iss passed apart from the token's own", func(t *testing.T) {
		// The authenticator passes the token's iss; should a caller pass another, the
		// token is still checked against its own iss claim.
		v := issuers.NewVerifier(f.db.App, issuers.Options{AllowLoopback: true})
		t.Cleanup(v.Close)
		_, err := v.VerifyExternal(ctx, f.provider.Issuer, sign(jwt.MapClaims{"iss": "https://elsewhere.example"}))
		requireRefused(t, err)
	})
}

func TestSignatureAlgorithms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS384, jwt.SigningMethodRS512, jwt.SigningMethodPS256, jwt.SigningMethodES384} {
		f.provider.AddKey(t, m.Alg(), m)
	}
	f.provider.Publish("rsa-1", "ec-1", "RS384", "RS512", "PS256", "ES384")
	f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) { in.Algorithms = issuers.Algorithms })
	a := f.authenticator(t, issuers.Options{})
	for _, kid := range []string{"rsa-1", "ec-1", "RS384", "RS512", "PS256", "ES384"} {
		t.Run(kid, func(t *testing.T) {
			p, err := a.Verify(context.Background(), f.token(t, kid, "org_acme", []string{"viewer"}, nil))
			require.NoError(t, err)
			require.Equal(t, tenant, p.TenantID)
		})
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a rotated-in key is fetched on its first token", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		tenant := f.db.NewTenant(t, "Acme")
		f.trust(t, tenant, "org_acme", nil)
		a := f.authenticator(t, issuers.Options{UnknownKIDRefreshEvery: time.Hour})

		_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		require.NoError(t, err)
		require.Equal(t, 1, f.provider.JWKSFetches())

		f.provider.AddKey(t, "rsa-2", jwt.SigningMethodRS256)
		f.provider.Publish("rsa-2") // rsa-1 rotated out
		p, err := a.Verify(ctx, f.token(t, "rsa-2", "org_acme", nil, nil))
		require.NoError(t, err, "the unknown kid refreshed the key set")
		require.Equal(t, tenant, p.TenantID)
		require.Equal(t, 2, f.provider.JWKSFetches())

		// The refresh also dropped the retired key, and the limiter allows no second
		// refresh within the hour.
		_, err = a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		requireRefused(t, err)
		require.Equal(t, 2, f.provider.JWKSFetches())
	})

	t.Run("a flood of made-up kids costs one fetch", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		tenant := f.db.NewTenant(t, "Acme")
		f.trust(t, tenant, "org_acme", nil)
		a := f.authenticator(t, issuers.Options{UnknownKIDRefreshEvery: time.Hour})
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		require.NoError(t, err)

		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				raw := issuerstest.SignWith(t, jwt.SigningMethodRS256, f.provider.Key(t, "rsa-1").Signer,
					map[string]any{"kid": fmt.Sprintf("random-%d-%s", i, uuid.NewString())},
					f.provider.Claims(audience, "user-1", jwt.MapClaims{"org_id": "org_acme"}))
				if i%2 == 0 {
					raw = issuerstest.SignWith(t, jwt.SigningMethodES256, key, map[string]any{"kid": uuid.NewString()},
						f.provider.Claims(audience, "user-1", jwt.MapClaims{"org_id": "org_acme"}))
				}
				_, err := a.Verify(ctx, raw)
				assert.Equal(t, apperr.Unauthenticated, apperr.KindOf(err))
			})
		}
		wg.Wait()
		require.Equal(t, 2, f.provider.JWKSFetches(), "the first fetch and one rate-limited refresh")

		// Known keys keep working meanwhile.
		_, err = a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		require.NoError(t, err)
	})

	t.Run("unknown-kid refreshes resume after the interval", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		tenant := f.db.NewTenant(t, "Acme")
		f.trust(t, tenant, "org_acme", nil)
		a := f.authenticator(t, issuers.Options{UnknownKIDRefreshEvery: 200 * time.Millisecond})
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		require.NoError(t, err)
		_, err = a.Verify(ctx, issuerstest.SignWith(t, jwt.SigningMethodRS256, f.provider.Key(t, "rsa-1").Signer,
			map[string]any{"kid": "nope"}, f.provider.Claims(audience, "u", jwt.MapClaims{"org_id": "org_acme"})))
		requireRefused(t, err)
		require.Equal(t, 2, f.provider.JWKSFetches())

		f.provider.AddKey(t, "rsa-2", jwt.SigningMethodRS256)
		f.provider.Publish("rsa-1", "rsa-2")
		require.Eventually(t, func() bool {
			_, err := a.Verify(ctx, f.token(t, "rsa-2", "org_acme", nil, nil))
			return err == nil
		}, 5*time.Second, 50*time.Millisecond)
		require.LessOrEqual(t, f.provider.JWKSFetches(), 3+int(5*time.Second/(200*time.Millisecond)))
	})

	t.Run("the key set is refreshed in the background", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		tenant := f.db.NewTenant(t, "Acme")
		f.trust(t, tenant, "org_acme", nil)
		a := f.authenticator(t, issuers.Options{RefreshInterval: 100 * time.Millisecond, UnknownKIDRefreshEvery: time.Hour})
		_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
		require.NoError(t, err)
		// Spend the one unknown-kid refresh, so only the periodic refresh can help.
		_, err = a.Verify(ctx, issuerstest.SignWith(t, jwt.SigningMethodRS256, f.provider.Key(t, "rsa-1").Signer,
			map[string]any{"kid": "nope"}, f.provider.Claims(audience, "u", jwt.MapClaims{"org_id": "org_acme"})))
		requireRefused(t, err)

		f.provider.AddKey(t, "rsa-2", jwt.SigningMethodRS256)
		f.provider.Publish("rsa-1", "rsa-2")
		fetched := f.provider.JWKSFetches()
		require.Eventually(t, func() bool { return f.provider.JWKSFetches() > fetched }, 5*time.Second, 20*time.Millisecond)
		require.Eventually(t, func() bool {
			_, err := a.Verify(ctx, f.token(t, "rsa-2", "org_acme", nil, nil))
			return err == nil
		}, 5*time.Second, 20*time.Millisecond)
	})
}

func TestOneKeySetPerURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	f.trust(t, acme, "org_acme", nil)
	f.trust(t, globex, "org_globex", nil)
	a := f.authenticator(t, issuers.Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			org := []string{"org_acme", "org_globex"}[i%2]
			_, err := a.Verify(ctx, f.token(t, "rsa-1", org, nil, nil))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, 1, f.provider.JWKSFetches(), "concurrent first tokens share one fetch; tenants share the key set")
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("the key set URL comes from the discovery document", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		tenant := f.db.NewTenant(t, "Acme")
		f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) { in.JWKSURL = nil })
		a := f.authenticator(t, issuers.Options{})
		for range 3 {
			p, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
			require.NoError(t, err)
			require.Equal(t, tenant, p.TenantID)
		}
		require.Equal(t, 1, f.provider.DiscoveryFetches())
		require.Equal(t, 1, f.provider.JWKSFetches())
	})

	refused := map[string]map[string]any{
		"a document naming another issuer": {"issuer": "https://evil.example", "jwks_uri": ""},
		"a key set over http elsewhere":    {"issuer": "", "jwks_uri": "http://keys.example.com/jwks.json"},
		"a key set on a private address":   {"issuer": "", "jwks_uri": "https://10.0.0.1/jwks.json"},
		"no key set":                       {"issuer": ""},
	}
	for name, doc := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if doc["issuer"] == "" {
				doc["issuer"] = f.provider.Issuer
			}
			if doc["jwks_uri"] == "" {
				doc["jwks_uri"] = f.provider.JWKSURL()
			}
			f.provider.ServeDiscovery(doc)
			tenant := f.db.NewTenant(t, "Acme")
			f.trust(t, tenant, "org_acme", func(in *issuers.CreateInput) { in.JWKSURL = nil })
			a := f.authenticator(t, issuers.Options{})
			for range 3 {
				_, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", nil, nil))
				requireRefused(t, err)
			}
			require.Equal(t, 1, f.provider.DiscoveryFetches(), "a failed discovery is not retried by every request")
			require.Zero(t, f.provider.JWKSFetches())
		})
	}
}

func TestOversizedKeySetIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	f.trust(t, tenant, "org_acme", nil)
	f.provider.Pad(issuers.MaxDocumentBytes)
	a := f.authenticator(t, issuers.Options{})
	_, err := a.Verify(context.Background(), f.token(t, "rsa-1", "org_acme", nil, nil))
	requireRefused(t, err)
	require.Equal(t, 1, f.provider.JWKSFetches())
}

func TestTrustChangesReachVerificationWithinTheTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	a := f.authenticator(t, issuers.Options{ConfigTTL: 30 * time.Second})
	ctx := context.Background()
	raw := f.token(t, "rsa-1", "org_acme", []string{"admin"}, nil)

	_, err := a.Verify(ctx, raw)
	requireRefused(t, err)

	// A new trust is seen once the instance's negative lookup expires.
	iss := f.trust(t, tenant, "org_acme", nil)
	_, err = a.Verify(ctx, raw)
	requireRefused(t, err)
	f.clock.Advance(31 * time.Second)
	p, err := a.Verify(ctx, raw)
	require.NoError(t, err)
	require.Equal(t, tenant, p.TenantID)

	// A deleted trust stops verifying once the instance's cached lookup expires.
	require.NoError(t, f.svc.Delete(ctx, actor(tenant), iss.ID, nil))
	_, err = a.Verify(ctx, raw)
	require.NoError(t, err, "within the TTL the instance still holds the configuration")
	f.clock.Advance(31 * time.Second)
	_, err = a.Verify(ctx, raw)
	requireRefused(t, err)

	// An instance that never saw it refuses at once.
	_, err = f.authenticator(t, issuers.Options{}).Verify(ctx, raw)
	requireRefused(t, err)
}

func TestUntrustedIssuersCostNoFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.authenticator(t, issuers.Options{})
	ctx := context.Background()
	for _, iss := range []string{f.provider.Issuer, "https://unknown.example/", "not a url", "http://plain.example.com"} {
		c := f.provider.Claims(audience, "u", jwt.MapClaims{"iss": iss, "org_id": "org_acme"})
		_, err := a.Verify(ctx, f.provider.Sign(t, "rsa-1", c))
		requireRefused(t, err)
	}
	require.Zero(t, f.provider.JWKSFetches())
	require.Zero(t, f.provider.DiscoveryFetches())
}

func TestClientRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	p := issuerstest.New(t)
	_, err := issuers.NewClient(false).Get(p.JWKSURL())
	require.ErrorContains(t, err, "not allowed", "loopback is internal in production")
	resp, err := issuers.NewClient(true).Get(p.JWKSURL())
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
}

// TestRoleNamesAreNeverPassedThrough: a configuration without a mapping, which only a
// row older than migration 00018 can be, grants no role at all, whatever Ledgerline
// role names the token carries. Before, it passed them through: owner included.
func TestRoleNamesAreNeverPassedThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	ctx := context.Background()
	_, err := f.db.Admin.Exec(ctx, `ALTER TABLE trusted_issuers DROP CONSTRAINT trusted_issuers_role_mapping_required`)
	require.NoError(t, err)
	_, err = f.db.Admin.Exec(ctx, `INSERT INTO trusted_issuers (id, tenant_id, issuer, audience, algorithms, jwks_url,
                             roles_claim, role_mapping, binding_claim, binding_value)
VALUES ($1, $2, $3, $4, '{RS256}', $5, $6, '{}', 'org_id', 'org_acme')`,
		uuid.New(), tenant, f.provider.Issuer, audience, f.provider.JWKSURL(), rolesClaim)
	require.NoError(t, err)

	p, err := f.authenticator(t, issuers.Options{}).Verify(ctx, f.token(t, "rsa-1", "org_acme", []string{"owner", "admin"}, nil))
	require.NoError(t, err)
	require.Equal(t, tenant, p.TenantID)
	require.Empty(t, p.Roles)
	require.False(t, p.Can(auth.InvoicesRead))
}

// TestUnknownIssuersCostNoQuery: a token is read before it is verified, so anyone can
// send one naming any issuer. Those no tenant trusts are refused from the list of
// trusted issuers the instance reads once per configuration TTL, not by a query each.
func TestUnknownIssuersCostNoQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tenant := f.db.NewTenant(t, "Acme")
	f.trust(t, tenant, "org_acme", nil)
	const ttl = 30 * time.Second
	a := f.authenticator(t, issuers.Options{ConfigTTL: ttl})
	v := a.External.(*issuers.Verifier)
	ctx := context.Background()

	flood := func() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				c := f.provider.Claims(audience, "u", jwt.MapClaims{"iss": "https://" + uuid.NewString() + ".example/", "org_id": "org_acme"})
				_, err := a.Verify(ctx, f.provider.Sign(t, "rsa-1", c))
				assert.Equal(t, apperr.Unauthenticated, apperr.KindOf(err))
			})
		}
		wg.Wait()
	}
	flood()
	require.EqualValues(t, 1, v.Queries(), "one read of the trusted issuers serves every unknown one")
	flood()
	require.EqualValues(t, 1, v.Queries(), "within the TTL, none at all")
	f.clock.Advance(ttl + time.Second)
	flood()
	require.EqualValues(t, 2, v.Queries(), "one per TTL")

	// A trusted issuer's token costs its binding lookup, once per TTL too.
	for range 3 {
		p, err := a.Verify(ctx, f.token(t, "rsa-1", "org_acme", []string{"viewer"}, nil))
		require.NoError(t, err)
		require.Equal(t, tenant, p.TenantID)
	}
	require.EqualValues(t, 3, v.Queries())
	require.Equal(t, 1, f.provider.JWKSFetches(), "and one key set fetch")
}
