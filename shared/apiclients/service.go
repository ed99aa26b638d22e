package apiclients

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Service is the API client use cases and the token endpoint's.
type Service struct {
	DB  *db.DB
	Now func() time.Time
	// Issuer signs access tokens; only IssueToken needs it.
	Issuer *auth.Issuer
}

// Create stores a new client of creator's tenant with a fresh secret, of which only the
// hash is kept, and returns it with the secret in clear: the only time it is shown.
// The audit and outbox records carry the client without its secret.
func (s *Service) Create(ctx context.Context, actor audit.Actor, creator auth.Principal, in CreateInput) (CreatedClient, error) {
	name, roles, err := in.Apply(creator)
	if err != nil {
		return CreatedClient{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	c := Client{ID: uuid.Must(uuid.NewV7()), Object: "api_client", Name: name, Roles: roles, Version: 1,
		CreatedAt: now, CreatedBy: actor.ID}
	secret := newSecret()
	hash := hashSecret(secret)
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "api_client.created", EntityType: "api_client", EntityID: c.ID, Version: c.Version, After: c})
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsertClient(b, actor.TenantID, c, hash[:])
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return CreatedClient{}, db.Map(err)
	}
	return CreatedClient{Client: c, Secret: secret}, nil
}

// Get returns one live client of the tenant; another tenant's id, or a deleted
// client's, is simply not found.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Client, error) {
	var c Client
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGetClient(b, tenantID, id, &c, &found) }); err != nil {
		return Client{}, err
	}
	if !found {
		return Client{}, apperr.NotFoundf("api_client")
	}
	return c, nil
}

// List returns a page of the tenant's live clients, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p page.Params) (page.List[Client], error) {
	var rows []Client
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueListClients(b, tenantID, p, &rows) }); err != nil {
		return page.List[Client]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Delete deletes a client (only that version, with expectedVersion): from now on its
// secret obtains no token and the tokens it already obtained are refused. The row is
// kept, marked deleted, so the audit trail's references to it stay whole.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion *int) error {
	now := s.Now().UTC().Truncate(time.Microsecond)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var after Client
		var deleted bool
		b := &pgx.Batch{}
		queueDeleteClient(b, actor.TenantID, id, expectedVersion, now, actor.ID, &after, &deleted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !deleted {
			return db.MissingOrStale(ctx, tx, "api_client",
				func(b *pgx.Batch, c *Client, found *bool) { queueGetClient(b, actor.TenantID, id, c, found) },
				func(c Client) int { return c.Version })
		}
		// The deletion changed only the version of what the API shows.
		before := after
		before.Version--
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "api_client.deleted", EntityType: "api_client", EntityID: id, Version: after.Version, Before: before, Data: before})
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return db.Map(err)
}

// unknownClientHash stands in for the stored hash when the client is unknown, so that
// an unknown id costs the same hashing and comparison as a wrong secret and the answer's
// timing does not tell which ids exist. No secret hashes to it: that would take a
// SHA-256 preimage.
var unknownClientHash = hashSecret("unknown client")

// IssueToken authenticates the client of req and signs it an access token with its
// roles, or with the subset req's scope asks for. Every authentication failure is the
// same invalid_client, whether the id is unknown, the client deleted or the secret
// wrong.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	if s.Issuer == nil {
		return TokenResponse{}, apperr.New(apperr.Unavailable, "token_issuer_unavailable", "the token endpoint has no signing key configured")
	}
	presented := hashSecret(req.Secret)
	var cred credentials
	found := false
	// A string that is not an id names no client; it skips only the lookup, which
	// answers the same for it.
	id, err := uuid.Parse(req.ClientID)
	if err == nil {
		cred, found, err = lookupCredentials(ctx, s.DB.Pool, id)
		if err != nil {
			return TokenResponse{}, db.Map(err)
		}
	}
	stored := unknownClientHash[:]
	if found {
		stored = cred.SecretHash
	}
	if subtle.ConstantTimeCompare(presented[:], stored) != 1 || !found {
		return TokenResponse{}, invalidClient("client authentication failed")
	}
	roles := rolesOf(cred.Roles)
	if req.Scope != nil {
		if roles, err = narrow(roles, req.Scope); err != nil {
			return TokenResponse{}, err
		}
	}
	tok, err := s.Issuer.IssueClientToken(cred.TenantID, id.String(), roles)
	if err != nil {
		return TokenResponse{}, err
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return TokenResponse{AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn / time.Second),
		Scope: strings.Join(names, " ")}, nil
}

// narrow keeps the roles a scope asks for; each scope token must be a role of the
// client, so a client can ask for less than it holds but never for more.
func narrow(roles []auth.Role, scope []string) ([]auth.Role, error) {
	var out []auth.Role
	for _, s := range scope {
		r := auth.Role(s)
		if !slices.Contains(roles, r) {
			// The scope is not echoed: error_description allows printable ASCII only.
			return nil, apperr.New(apperr.Invalid, ErrInvalidScope, "scope names a role this client does not hold")
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// clientGone refuses a token whose API client is deleted or unknown.
func clientGone() error {
	return apperr.New(apperr.Unauthenticated, "unauthenticated", "the API client this token was issued to no longer exists")
}

// RefuseDeletedClients is the check that makes deleting a client take effect at once:
// a token the issuer signed for an API client is refused once the client is deleted,
// however long the token still has to live. It costs one indexed read under the
// tenant's row-level security, and only for API clients' tokens of that issuer; users'
// tokens and other issuers' pass untouched.
func (s *Service) RefuseDeletedClients(issuer string) auth.PrincipalCheck {
	return func(ctx context.Context, p auth.Principal) error {
		if p.ActorType != auth.ActorAPIClient || p.Issuer != issuer {
			return nil
		}
		id, err := uuid.Parse(p.Subject)
		if err != nil {
			return clientGone()
		}
		var live bool
		// A database failure is answered as such (503), not as a refusal of the token.
		if err := s.DB.Read(ctx, p.TenantID, func(b *pgx.Batch) { queueLive(b, p.TenantID, id, &live) }); err != nil {
			return err
		}
		if !live {
			return clientGone()
		}
		return nil
	}
}
