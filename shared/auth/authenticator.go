package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// TokenVerifier checks a raw token from one issuer and returns its principal.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (Principal, error)
}

// ExternalVerifier checks tokens from issuers a tenant has chosen to trust (OIDC
// providers configured per tenant). It answers an unauthenticated error for an issuer
// no tenant trusts.
type ExternalVerifier interface {
	VerifyExternal(ctx context.Context, iss, raw string) (Principal, error)
}

// PrincipalCheck runs after a token verified: what the signature cannot say, such as
// whether the API client it was issued to has since been deleted. It returns an
// unauthenticated error to refuse the token.
type PrincipalCheck func(ctx context.Context, p Principal) error

// Authenticator turns a request's bearer token into a principal. It reads the token's
// iss without trusting it, only to choose the verifier: Ledgerline's own issuer (and the
// development issuer locally) by exact name, otherwise the tenant-trusted issuers. The
// chosen verifier then checks everything, iss included.
type Authenticator struct {
	Issuers  map[string]TokenVerifier
	External ExternalVerifier // nil: no tenant-trusted issuers
	Checks   []PrincipalCheck
	// Forwarded reads the caller's token from X-Forwarded-Authorization: behind the API
	// gateway, which calls the function with its own identity token in Authorization
	// (checked by Cloud Run's invoker policy before the request arrives) and forwards
	// the caller's there. Only then: a function reached directly must not let a caller
	// choose which header counts.
	Forwarded bool
}

// ForwardedHeader is where the gateway puts the caller's Authorization header.
const ForwardedHeader = "X-Forwarded-Authorization"

// Authenticate verifies the request's bearer token.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	header := "Authorization"
	if a.Forwarded {
		header = ForwardedHeader
	}
	raw, err := bearerIn(r, header)
	if err != nil {
		return Principal{}, err
	}
	return a.Verify(r.Context(), raw)
}

// Verify checks a raw token and returns its principal.
func (a *Authenticator) Verify(ctx context.Context, raw string) (Principal, error) {
	if len(raw) > maxTokenBytes {
		return Principal{}, unauthenticated("token too large", nil)
	}
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return Principal{}, unauthenticated("invalid token", err)
	}
	var (
		p   Principal
		err error
	)
	if v, ok := a.Issuers[c.Issuer]; ok {
		p, err = v.Verify(ctx, raw)
	} else if a.External != nil && c.Issuer != "" {
		p, err = a.External.VerifyExternal(ctx, c.Issuer, raw)
		// Whatever the external verifier says, its principals are the tenants'
		// issuers': their subjects never stand for Ledgerline's users (ActorID).
		p.External = true
	} else {
		return Principal{}, unauthenticated("untrusted issuer", nil)
	}
	if err != nil {
		return Principal{}, err
	}
	for _, check := range a.Checks {
		if err := check(ctx, p); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// bearer returns the request's bearer token.
func bearer(r *http.Request) (string, error) { return bearerIn(r, "Authorization") }

// bearerIn returns the bearer token in header.
func bearerIn(r *http.Request, header string) (string, error) {
	h := r.Header.Get(header)
	if h == "" {
		return "", unauthenticated("missing bearer token", nil)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", unauthenticated("the "+header+" header must be 'Bearer <token>'", nil)
	}
	return token, nil
}
