package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestClientTokensOnly checks the production narrowing of Ledgerline's own issuer: what
// IssueClientToken signs verifies; a token of the same keys claiming platform_admin or
// another actor (none reads as user) is refused, however valid its signature.
func TestClientTokensOnly(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ks, err := NewKeySet(key)
	require.NoError(t, err)
	iss, err := NewIssuer(testIssuer, testAudience, ks, time.Hour)
	require.NoError(t, err)
	v := ClientTokensOnly(iss.Verifier())
	tenant := uuid.New()

	issued, err := iss.IssueClientToken(tenant, uuid.NewString(), []Role{RoleViewer})
	require.NoError(t, err)
	p, err := v.Verify(t.Context(), issued.Token)
	require.NoError(t, err)
	require.Equal(t, ActorAPIClient, p.ActorType)

	sign := func(actorType string, platformAdmin bool) string {
		now := time.Now()
		tok, err := ks.Sign(Claims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer, Subject: uuid.NewString(), Audience: jwt.ClaimStrings{testAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: uuid.NewString()},
			TenantID: tenant.String(), Roles: []string{string(RoleOwner)}, ActorType: actorType, PlatformAdmin: platformAdmin,
		})
		require.NoError(t, err)
		return tok
	}
	for name, tok := range map[string]string{
		"platform_admin":           sign(string(ActorAPIClient), true),
		"actor_type user":          sign(string(ActorUser), false),
		"no actor_type (a user)":   sign("", false),
		"actor_type agent":         sign(string(ActorAgent), false),
		"platform_admin as a user": sign(string(ActorUser), true),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := iss.Verifier().Verify(t.Context(), tok)
			require.NoError(t, err, "the signature and claims are valid")
			_, err = v.Verify(t.Context(), tok)
			requireUnauthenticated(t, err)
		})
	}

	// A failure of the narrowed verifier is passed on.
	_, err = v.Verify(t.Context(), "not.a.token")
	requireUnauthenticated(t, err)
}
