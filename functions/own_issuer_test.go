package functions_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// TestSecurityOwnIssuerAcceptsOnlyClientTokens checks Ledgerline's own issuer as
// deployed (TOKEN_SIGNING_KEYS, and TOKEN_JWKS_URL in the functions without the keys):
// it accepts the API client tokens the token endpoint issues and refuses tokens of the
// same keys claiming platform_admin or another actor type, which only a compromise of
// the keys could have minted. The development issuer still signs users' and operators'
// tokens.
func TestSecurityOwnIssuerAcceptsOnlyClientTokens(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	signing := config.Config{AuthIssuer: "https://ledgerline.test", AuthAudience: "ledgerline",
		TokenSigningKeys: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))}
	issuer, err := platform.BuildIssuer(signing)
	require.NoError(t, err)

	// The token endpoint and JWKS as deployed with the keys, over one database.
	s := apitest.New(t, func(d *platform.Deps) {
		d.Config.AuthIssuer, d.Config.AuthAudience = signing.AuthIssuer, signing.AuthAudience
		d.Issuer = issuer
	})
	tenant, admin := s.Tenant(t, "Acme")
	client := createAPIClient(t, s, admin, "ERP", "viewer")
	issued := requireToken(t, s.Do(t, tokenRequest(clientCredentials(), map[string]string{"Authorization": basicAuth(client.ID, client.Secret)})))
	published := httptest.NewServer(s.Handler)
	t.Cleanup(published.Close)
	fromJWKS := config.Config{AuthIssuer: signing.AuthIssuer, AuthAudience: signing.AuthAudience,
		TokenJWKSURL: published.URL + "/.well-known/jwks.json"}

	// forge signs claims with the production key, as a compromised token function could.
	forge := func(actorType string, platformAdmin bool) string {
		now := time.Now()
		tok, err := issuer.Keys.Sign(auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer.Name, Subject: client.ID, Audience: jwt.ClaimStrings{issuer.Audience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: uuid.NewString()},
			TenantID: tenant.String(), Roles: []string{string(auth.RoleOwner)}, ActorType: actorType, PlatformAdmin: platformAdmin,
		})
		require.NoError(t, err)
		return tok
	}
	refused := map[string]string{
		"platform_admin":         forge(string(auth.ActorAPIClient), true),
		"actor_type user":        forge(string(auth.ActorUser), false),
		"no actor_type (a user)": forge("", false),
		"platform_admin user":    forge(string(auth.ActorUser), true),
	}

	for mode, cfg := range map[string]config.Config{"TOKEN_SIGNING_KEYS": signing, "TOKEN_JWKS_URL": fromJWKS} {
		t.Run(mode, func(t *testing.T) {
			own, err := platform.BuildIssuer(cfg)
			require.NoError(t, err)
			authn, err := platform.NewAuthenticator(t.Context(), cfg, own, s.Deps.DB, nil)
			require.NoError(t, err)
			verify := func(token string) (auth.Principal, error) {
				r := httptest.NewRequest(http.MethodGet, "/v1/counterparties", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				return authn.Authenticate(r)
			}
			p, err := verify(issued.AccessToken)
			require.NoError(t, err, "the token endpoint's tokens are accepted")
			require.Equal(t, auth.ActorAPIClient, p.ActorType)
			for name, tok := range refused {
				_, err := verify(tok)
				require.Error(t, err, name)
			}
		})
	}

	// The development issuer signs users' and platform operators' tokens, and they work.
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	dev, err := auth.LoadOrCreateDevIssuer(keyFile, auth.DevIssuerName, "ledgerline")
	require.NoError(t, err)
	devCfg := config.Config{AuthIssuer: dev.Issuer, AuthAudience: dev.Audience, AuthDevKeyFile: keyFile}
	own, err := platform.BuildIssuer(devCfg)
	require.NoError(t, err)
	authn, err := platform.NewAuthenticator(t.Context(), devCfg, own, s.Deps.DB, nil)
	require.NoError(t, err)
	user, err := dev.Issue(tenant, "user-1", []auth.Role{auth.RoleAdmin}, time.Hour)
	require.NoError(t, err)
	operator, err := dev.IssuePlatformAdmin(tenant, "operator-1", nil, time.Hour)
	require.NoError(t, err)
	for _, tok := range []string{user, operator} {
		r := httptest.NewRequest(http.MethodGet, "/v1/counterparties", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		p, err := authn.Authenticate(r)
		require.NoError(t, err)
		require.Equal(t, auth.ActorUser, p.ActorType)
		require.Equal(t, tok == operator, p.PlatformAdmin)
	}
}
