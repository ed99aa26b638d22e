package platform_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func baseConfig(dbURL string) config.Config {
	return config.Config{
		DatabaseURL: dbURL, AuthIssuer: auth.DevIssuerName, AuthAudience: "ledgerline",
		LogLevel: "info", DBMaxConns: 2, MaxBodyBytes: 1 << 20, DBName: "ledgerline",
	}
}

func authRequest(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/counterparties", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestBuildWithTheDevelopmentIssuer(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	cfg := baseConfig(db.URLs.App)
	cfg.AuthDevKeyFile = keyFile

	d, err := platform.Build(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(d.DB.Close)
	require.Equal(t, cfg, d.Config)
	require.NotNil(t, d.Logger)
	require.WithinDuration(t, time.Now(), d.Now(), time.Minute)
	require.NoError(t, d.DB.Pool.Ping(t.Context()))

	// The key file Build created is the one `ledgerline token` signs with.
	iss, err := auth.LoadOrCreateDevIssuer(keyFile, auth.DevIssuerName, "ledgerline")
	require.NoError(t, err)
	tenant := uuid.Must(uuid.NewV7())
	tok, err := iss.Issue(tenant, "dev", []auth.Role{auth.RoleViewer}, time.Hour)
	require.NoError(t, err)
	p, err := d.Auth.Authenticate(authRequest(tok))
	require.NoError(t, err)
	require.Equal(t, tenant, p.TenantID)

	other, err := auth.LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "other.pem"), auth.DevIssuerName, "ledgerline")
	require.NoError(t, err)
	tok, err = other.Issue(tenant, "dev", []auth.Role{auth.RoleViewer}, time.Hour)
	require.NoError(t, err)
	_, err = d.Auth.Authenticate(authRequest(tok))
	require.Error(t, err)
}

func TestBuildWithAJWKS(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwks, err := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32))),
	}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)

	cfg := baseConfig(db.URLs.App)
	cfg.AuthDevKeyFile = filepath.Join(t.TempDir(), "dev.pem")
	cfg.AuthJWKSIssuer = "https://issuer.example"
	cfg.AuthJWKSURL = srv.URL
	d, err := platform.Build(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(d.DB.Close)

	sign := func(k *ecdsa.PrivateKey, kid, issuer string) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: issuer, Subject: "svc", Audience: jwt.ClaimStrings{"ledgerline"},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: uuid.NewString(),
			},
			TenantID: uuid.NewString(),
			Roles:    []string{"viewer"},
		})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		require.NoError(t, err)
		return s
	}
	p, err := d.Auth.Authenticate(authRequest(sign(key, "k1", "https://issuer.example")))
	require.NoError(t, err)
	require.Equal(t, "svc", p.Subject)
	require.Equal(t, []auth.Role{auth.RoleViewer}, p.Roles)

	_, err = d.Auth.Authenticate(authRequest(sign(key, "k1", "https://other.example")))
	require.Error(t, err, "wrong issuer")
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = d.Auth.Authenticate(authRequest(sign(stranger, "k1", "https://issuer.example")))
	require.Error(t, err, "a key the JWKS does not publish")
}

func TestBuildFailures(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	// Nothing listens on port 1, so the ping fails at once.
	unreachable := "postgres://ledgerline_app@127.0.0.1:1/ledgerline?sslmode=disable&connect_timeout=2"

	cfg := baseConfig(unreachable)
	cfg.AuthDevKeyFile = keyFile
	cfg.LogLevel = "chatty"
	_, err := platform.Build(t.Context(), cfg)
	require.ErrorContains(t, err, "platform:")

	cfg.LogLevel = "info"
	_, err = platform.Build(t.Context(), cfg)
	require.ErrorContains(t, err, "db: ping")

	cfg.DatabaseURL = "::not a url::"
	_, err = platform.Build(t.Context(), cfg)
	require.ErrorContains(t, err, "db:")
}
