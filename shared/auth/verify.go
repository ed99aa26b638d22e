package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// maxTokenBytes refuses absurd tokens before any parsing work.
const maxTokenBytes = 8 << 10

// leeway absorbs small clock skew between issuer and verifier for exp, nbf and iat.
const leeway = 30 * time.Second

// Claims are Ledgerline's token claims on top of the registered ones.
type Claims struct {
	jwt.RegisteredClaims
	TenantID  string   `json:"tenant_id"`
	Roles     []string `json:"roles"`
	ActorType string   `json:"actor_type,omitempty"`
	// PlatformAdmin is the distinct claim of Ledgerline's operators; tenant roles never
	// imply it.
	PlatformAdmin bool `json:"platform_admin,omitempty"`
}

// Verifier checks bearer tokens from one issuer.
type Verifier struct {
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser
}

// NewVerifier trusts tokens signed by keys from keyfunc with one of algs (pinned: a
// token naming any other algorithm, "none" included, is refused before key lookup), with
// iss = issuer, aud containing audience, and an exp.
func NewVerifier(issuer, audience string, algs []string, keyfunc jwt.Keyfunc, now func() time.Time) *Verifier {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
	}
	if now != nil {
		opts = append(opts, jwt.WithTimeFunc(now))
	}
	return &Verifier{keyfunc: keyfunc, parser: jwt.NewParser(opts...)}
}

// Authenticate verifies the request's bearer token.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	token, err := bearer(r)
	if err != nil {
		return Principal{}, err
	}
	return v.Verify(r.Context(), token)
}

// Verify checks a raw token and returns its principal.
func (v *Verifier) Verify(_ context.Context, raw string) (Principal, error) {
	if len(raw) > maxTokenBytes {
		return Principal{}, unauthenticated("token too large", nil)
	}
	var c Claims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.keyfunc); err != nil {
		return Principal{}, unauthenticated("invalid token", err)
	}
	tenantID, err := uuid.Parse(c.TenantID)
	if err != nil || tenantID == uuid.Nil {
		return Principal{}, unauthenticated("token has no valid tenant_id", err)
	}
	if c.Subject == "" {
		return Principal{}, unauthenticated("token has no subject", nil)
	}
	p := Principal{TenantID: tenantID, Subject: c.Subject, ActorType: ActorUser, TokenID: c.ID, PlatformAdmin: c.PlatformAdmin,
		Issuer: c.Issuer}
	if c.ActorType != "" {
		switch at := ActorType(c.ActorType); at {
		case ActorUser, ActorAPIClient, ActorAgent:
			p.ActorType = at
		default:
			return Principal{}, unauthenticated("token has an unknown actor_type", nil)
		}
	}
	for _, s := range c.Roles {
		// Unknown roles are ignored rather than refused: an issuer may carry roles for
		// other products in the same claim.
		if r, err := ParseRole(s); err == nil {
			p.Roles = append(p.Roles, r)
		}
	}
	return p, nil
}

func unauthenticated(msg string, cause error) error {
	if cause != nil && errors.Is(cause, jwt.ErrTokenExpired) {
		msg = "token expired"
	}
	return apperr.Wrap(cause, apperr.Unauthenticated, "unauthenticated", msg)
}

// Forbidden is the refusal for a principal lacking perm.
func Forbidden(perm Permission) error {
	return apperr.New(apperr.Forbidden, "forbidden", fmt.Sprintf("this operation needs the %s permission", perm))
}
