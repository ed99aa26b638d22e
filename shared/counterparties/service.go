package counterparties

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Service is the counterparty use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// Create stores a new counterparty with its audit and outbox records, in one round trip
// after the transaction opens.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (Counterparty, error) {
	in, err := in.Validate()
	if err != nil {
		return Counterparty{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	c := Counterparty{
		ID: uuid.Must(uuid.NewV7()), Object: "counterparty", Name: in.Name, Kind: in.Kind, Email: in.Email,
		TaxID: in.TaxID, DefaultCurrency: in.DefaultCurrency, PaymentTermsDays: *in.PaymentTermsDays,
		ExternalID: in.ExternalID, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	ev, err := events.New(actor.TenantID, "counterparty.created", "counterparty", c.ID, c.Version, c, actor.RequestID, now)
	if err != nil {
		return Counterparty{}, err
	}
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsert(b, actor.TenantID, c)
		events.Queue(b, ev)
		if err := audit.Queue(b, actor.Record("counterparty.created", "counterparty", c.ID, nil, c, now)); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if db.IsUniqueViolation(err, "counterparties_tenant_id_external_id_key") {
		return Counterparty{}, apperr.Wrap(err, apperr.Conflict, "counterparty_external_id_exists",
			"a counterparty with this external_id already exists")
	}
	if err != nil {
		return Counterparty{}, db.Map(err)
	}
	return c, nil
}

// Get returns one counterparty of the tenant; another tenant's id is simply not found.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Counterparty, error) {
	var c Counterparty
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { QueueGet(b, tenantID, id, &c, &found) }); err != nil {
		return Counterparty{}, err
	}
	if !found {
		return Counterparty{}, apperr.NotFoundf("counterparty")
	}
	return c, nil
}

// List returns a page of the tenant's counterparties, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Counterparty], error) {
	var rows []Counterparty
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Counterparty]{}, err
	}
	return page.Of(rows, p.Limit), nil
}
