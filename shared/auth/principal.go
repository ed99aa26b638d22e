// Package auth holds who is calling and what they may do: the Principal taken from a
// verified bearer JWT, the verifier (issuer, audience, pinned algorithms, keys), the
// local development issuer, and the one table from role to permission. The tenant of
// a request comes from here and nowhere else: never from a body or a path.
package auth

import (
	"context"
	"slices"

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
