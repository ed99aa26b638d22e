package auth

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Issuer is Ledgerline as an OAuth 2.0 authorization server: it signs the access tokens
// of API clients with the current key of its key set, and verifies its own tokens with
// any key of the set.
type Issuer struct {
	// Name is the iss of its tokens (AUTH_ISSUER).
	Name string
	// Audience is the aud of its tokens (AUTH_AUDIENCE).
	Audience string
	Keys     *KeySet
	// TTL is how long a token is valid (TOKEN_TTL).
	TTL time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// NewIssuer is the issuer named name for audience, signing with keys, its tokens valid
// for ttl.
func NewIssuer(name, audience string, keys *KeySet, ttl time.Duration) (*Issuer, error) {
	switch {
	case name == "" || audience == "":
		return nil, errors.New("issuer: a name and an audience are required")
	case keys == nil:
		return nil, errors.New("issuer: no signing keys")
	case ttl <= 0:
		return nil, errors.New("issuer: the token lifetime must be positive")
	}
	return &Issuer{Name: name, Audience: audience, Keys: keys, TTL: ttl}, nil
}

// AccessToken is a token the issuer signed.
type AccessToken struct {
	Token     string
	ID        string // jti
	ExpiresIn time.Duration
}

// IssueClientToken signs an access token for API client clientID of tenantID with roles.
func (i *Issuer) IssueClientToken(tenantID uuid.UUID, clientID string, roles []Role) (AccessToken, error) {
	now := time.Now()
	if i.Now != nil {
		now = i.Now()
	}
	// Whole seconds: NumericDate rounds to them anyway, and expires_in then agrees
	// exactly with exp.
	now = now.Truncate(time.Second)
	names := make([]string, len(roles))
	for n, r := range roles {
		names[n] = string(r)
	}
	jti := uuid.NewString()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.Name,
			Subject:   clientID,
			Audience:  jwt.ClaimStrings{i.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.TTL)),
			ID:        jti,
		},
		TenantID:  tenantID.String(),
		Roles:     names,
		ActorType: string(ActorAPIClient),
	}
	tok, err := i.Keys.Sign(c)
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: tok, ID: jti, ExpiresIn: i.TTL}, nil
}

// ClientTokensOnly narrows v to the tokens the token endpoint issues (IssueClientToken):
// an API client's (actor_type api_client), never a platform operator's. In production
// that is all Ledgerline's own issuer signs, so its token claiming platform_admin, or
// another actor type (none reads as user), was not minted by that path: without this a
// compromise of the token function, which holds the signing key, could mint
// platform-admin tokens, or user tokens that escape the deleted-client check. The
// development issuer, which signs users' and operators' tokens locally (`ledgerline
// token`, the tests), is not narrowed.
func ClientTokensOnly(v TokenVerifier) TokenVerifier { return clientTokensOnly{v} }

type clientTokensOnly struct{ next TokenVerifier }

func (c clientTokensOnly) Verify(ctx context.Context, raw string) (Principal, error) {
	p, err := c.next.Verify(ctx, raw)
	switch {
	case err != nil:
		return Principal{}, err
	case p.PlatformAdmin:
		return Principal{}, unauthenticated("this issuer does not issue platform_admin tokens", nil)
	case p.ActorType != ActorAPIClient:
		return Principal{}, unauthenticated("this issuer issues only api_client tokens", nil)
	}
	return p, nil
}

// Verifier verifies the issuer's tokens: iss and aud its own, the algorithm that of the
// key the kid names, the key one of the set's.
func (i *Issuer) Verifier() *Verifier {
	return NewVerifier(i.Name, i.Audience, i.Keys.Algorithms(), i.Keys.Keyfunc, i.Now)
}
