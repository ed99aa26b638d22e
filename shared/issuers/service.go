package issuers

import (
	"context"
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

// Service is the trusted issuer use cases of a tenant's administrators.
type Service struct {
	DB  *db.DB
	Now func() time.Time
	// AllowLoopback admits http and loopback issuer URLs (development and tests).
	AllowLoopback bool
}

// Create trusts a new issuer for the actor's tenant, creator being the actor's
// principal: the role mapping may give no role creator may not give (403
// role_escalation). A binding (issuer, claim, value) that any tenant already has is 409
// trusted_issuer_binding_exists, and one by another claim than the issuer's other
// trusts use is 409 trusted_issuer_binding_claim_differs: a token must bind to one
// tenant only. Every instance accepts its tokens within the verifier's configuration
// TTL.
func (s *Service) Create(ctx context.Context, actor audit.Actor, creator auth.Principal, in CreateInput) (Issuer, error) {
	i, err := in.Apply(creator, s.AllowLoopback)
	if err != nil {
		return Issuer{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	i.ID, i.Object, i.Version, i.CreatedAt = uuid.Must(uuid.NewV7()), "trusted_issuer", 1, now
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "trusted_issuer.created", EntityType: "trusted_issuer", EntityID: i.ID, Version: i.Version, After: i})
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsertIssuer(b, actor.TenantID, i)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if db.IsUniqueViolation(err, bindingConstraint) {
		e := apperr.Wrap(err, apperr.Conflict, "trusted_issuer_binding_exists",
			"a trusted issuer with this issuer, binding claim and value already exists")
		e.Fields = map[string]string{"binding.value": "is already bound for this issuer and claim"}
		return Issuer{}, e
	}
	if db.IsUniqueViolation(err, bindingClaimConstraint) {
		// Which claim the others use is not said: it is other tenants' configuration.
		e := apperr.Wrap(err, apperr.Conflict, "trusted_issuer_binding_claim_differs",
			"this issuer's tokens are already bound to tenants by another claim; every trust of an issuer binds by the same claim")
		e.Fields = map[string]string{"binding.claim": "is not the claim this issuer's other trusts bind by"}
		return Issuer{}, e
	}
	if err != nil {
		return Issuer{}, db.Map(err)
	}
	return i, nil
}

// Get returns one issuer of the tenant; another tenant's id is simply not found.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Issuer, error) {
	var i Issuer
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGetIssuer(b, tenantID, id, &i, &found) }); err != nil {
		return Issuer{}, err
	}
	if !found {
		return Issuer{}, apperr.NotFoundf("trusted_issuer")
	}
	return i, nil
}

// List returns a page of the tenant's issuers, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p page.Params) (page.List[Issuer], error) {
	var rows []Issuer
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueListIssuers(b, tenantID, p, &rows) }); err != nil {
		return page.List[Issuer]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Delete stops trusting an issuer (only that version, with expectedVersion). Instances
// that verified one of its tokens in the last configuration TTL (30 s by default) may
// accept its tokens until their cached lookup expires; after that, none does.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion *int) error {
	now := s.Now().UTC().Truncate(time.Microsecond)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var before Issuer
		var deleted bool
		b := &pgx.Batch{}
		queueDeleteIssuer(b, actor.TenantID, id, expectedVersion, &before, &deleted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !deleted {
			return db.MissingOrStale(ctx, tx, "trusted_issuer",
				func(b *pgx.Batch, i *Issuer, found *bool) { queueGetIssuer(b, actor.TenantID, id, i, found) },
				func(i Issuer) int { return i.Version })
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "trusted_issuer.deleted", EntityType: "trusted_issuer", EntityID: id,
			Version: before.Version + 1, Before: before, Data: before})
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return db.Map(err)
}
