// Package auth holds who is calling and what they may do: the Principal taken from a
// verified bearer JWT, the verifier (issuer, audience, pinned algorithms, keys), the
// local development issuer, and the one table from role to permission. The tenant of
// a request comes from here and nowhere else: never from a body or a path.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ActorType says what kind of principal acted; the audit trail records it.
type ActorType string

const (
	ActorUser      ActorType = "user"
	ActorAPIClient ActorType = "api_client"
	ActorAgent     ActorType = "agent"
	ActorSystem    ActorType = "system"
)

// Principal is the verified caller of one request.
type Principal struct {
	TenantID  uuid.UUID
	Subject   string
	Roles     []Role
	ActorType ActorType
	TokenID   string
	// Issuer is the iss of the verified token: checks that concern only tokens
	// Ledgerline issued itself (its API clients) tell them apart by it.
	Issuer string
	// External marks a token of an issuer a tenant trusts (shared/issuers), as opposed
	// to Ledgerline's own and the issuers the deployment configures. Its subject is
	// that issuer's to assign, so ActorID qualifies it by the issuer.
	External bool
	// PlatformAdmin marks Ledgerline's own operators, from a distinct claim.
	PlatformAdmin bool
}

// Can reports whether any of the principal's roles grants p.
func (p Principal) Can(perm Permission) bool {
	if perm == PlatformAdmin {
		return p.PlatformAdmin
	}
	return slices.ContainsFunc(p.Roles, func(r Role) bool { return roleGrants(r, perm) })
}

// MaxActorIDLength bounds ActorID, as the tables that record an actor do.
const MaxActorIDLength = 255

// ActorID is who the principal is to the audit trail and to separation of duties,
// which tell actors apart by (actor type, actor id). For Ledgerline's own tokens it is
// the subject. A tenant-trusted issuer's subject could equal a Ledgerline user's or
// another issuer's, so it is qualified by its issuer: "<issuer>#<sub>" (an issuer URL
// has no fragment, so the first '#' ends it), or, when that would be longer than
// MaxActorIDLength, "sha256:" and the hex SHA-256 of it. An admin who trusts an issuer
// they control can therefore never act as a colleague.
func (p Principal) ActorID() string {
	if !p.External {
		return p.Subject
	}
	id := p.Issuer + "#" + p.Subject
	if utf8.RuneCountInString(id) <= MaxActorIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type principalKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the platform verified for this request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
