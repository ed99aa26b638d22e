package webhooks

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Service is the webhook endpoint use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
	// Secrets seals new endpoints' secrets; only Create needs it.
	Secrets *Sealer
	// AllowPrivateTargets admits URLs of internal hosts (development and tests).
	AllowPrivateTargets bool
}

// Create stores a new endpoint with a fresh secret, sealed, and returns it with the
// secret in clear: the only time it is shown. The audit and outbox records carry the
// endpoint without its secret.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (CreatedEndpoint, error) {
	e, err := in.Apply(s.AllowPrivateTargets)
	if err != nil {
		return CreatedEndpoint{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	e.ID, e.Object, e.Status, e.Version, e.CreatedAt = uuid.Must(uuid.NewV7()), "webhook_endpoint", Enabled, 1, now
	secret := NewSecret()
	sealed, err := s.Secrets.Seal(actor.TenantID, e.ID, secret)
	if err != nil {
		return CreatedEndpoint{}, err
	}
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "webhook_endpoint.created", EntityType: "webhook_endpoint", EntityID: e.ID, Version: e.Version, After: e})
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsertEndpoint(b, actor.TenantID, e, sealed)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return CreatedEndpoint{}, db.Map(err)
	}
	return CreatedEndpoint{Endpoint: e, Secret: secret}, nil
}

// Get returns one endpoint of the tenant; another tenant's id is simply not found.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	var e Endpoint
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGetEndpoint(b, tenantID, id, &e, &found) }); err != nil {
		return Endpoint{}, err
	}
	if !found {
		return Endpoint{}, apperr.NotFoundf("webhook_endpoint")
	}
	return e, nil
}

// List returns a page of the tenant's endpoints, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p page.Params) (page.List[Endpoint], error) {
	var rows []Endpoint
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueListEndpoints(b, tenantID, p, &rows) }); err != nil {
		return page.List[Endpoint]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Delete removes an endpoint (only that version, with expectedVersion) and its delivery
// log. An event being delivered to it meanwhile finds its delivery gone and records
// nothing.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion *int) error {
	now := s.Now().UTC().Truncate(time.Microsecond)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var before Endpoint
		var deleted bool
		b := &pgx.Batch{}
		queueDeleteEndpoint(b, actor.TenantID, id, expectedVersion, &before, &deleted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !deleted {
			return db.MissingOrStale(ctx, tx, "webhook_endpoint",
				func(b *pgx.Batch, e *Endpoint, found *bool) { queueGetEndpoint(b, actor.TenantID, id, e, found) },
				func(e Endpoint) int { return e.Version })
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "webhook_endpoint.deleted", EntityType: "webhook_endpoint", EntityID: id, Version: before.Version + 1, Before: before, Data: before})
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return db.Map(err)
}

// ListDeliveries returns a page of an endpoint's delivery log, newest first.
func (s *Service) ListDeliveries(ctx context.Context, tenantID, endpointID uuid.UUID, p page.Params) (page.List[Delivery], error) {
	var rows []Delivery
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueListDeliveries(b, tenantID, endpointID, p, &rows, &found)
	}); err != nil {
		return page.List[Delivery]{}, err
	}
	if !found {
		return page.List[Delivery]{}, apperr.NotFoundf("webhook_endpoint")
	}
	return page.Of(rows, p.Limit), nil
}
