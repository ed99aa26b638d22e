package platform_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// TestActorQualifiesTrustedIssuersSubjects: the audited actor of a tenant-trusted
// issuer's token is its subject qualified by the issuer, so no such token is ever the
// same actor as a Ledgerline user, or as another issuer's user, with the same sub; the
// subjects of Ledgerline's own tokens are kept as they are.
func TestActorQualifiesTrustedIssuersSubjects(t *testing.T) {
	tenant := uuid.New()
	actorOf := func(p auth.Principal) string {
		r := httptest.NewRequest("GET", "/", nil)
		return platform.Actor(r.WithContext(auth.WithPrincipal(r.Context(), p))).ID
	}
	own := auth.Principal{TenantID: tenant, Subject: "user-1", ActorType: auth.ActorUser, Issuer: "https://auth.ledgerline.test"}
	one := auth.Principal{TenantID: tenant, Subject: "user-1", ActorType: auth.ActorUser, Issuer: "https://one.example/", External: true}
	two := one
	two.Issuer = "https://two.example/"

	require.Equal(t, "user-1", actorOf(own))
	require.Equal(t, "https://one.example/#user-1", actorOf(one))
	require.Equal(t, "https://two.example/#user-1", actorOf(two))

	// Too long for the columns that record an actor: a digest, still distinct.
	long := one
	long.Subject = strings.Repeat("s", 300)
	longer := long
	longer.Subject += "t"
	id := actorOf(long)
	require.LessOrEqual(t, len(id), auth.MaxActorIDLength)
	require.True(t, strings.HasPrefix(id, "sha256:"), id)
	require.NotEqual(t, id, actorOf(longer))
	require.Equal(t, id, actorOf(long), "stable")
}
