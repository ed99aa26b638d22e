package counterparties

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

// Service is the counterparty use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// Create stores a new counterparty with its audit and outbox records, in one round trip
// after the transaction opens.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (Counterparty, error) {
	c, err := in.Apply()
	if err != nil {
		return Counterparty{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	c = created(c, now)
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "counterparty.created", EntityType: "counterparty", EntityID: c.ID, Version: c.Version, After: c})
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsert(b, actor.TenantID, c)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Counterparty{}, writeError(err)
	}
	return c, nil
}

// Update applies a merge patch to the counterparty at expectedVersion. The version is
// compared by the UPDATE itself, so a change committed after the read is never
// overwritten: it matches no row, and a second read tells a deletion (404) from a
// newer version (412).
func (s *Service) Update(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion int, in UpdateInput) (Counterparty, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	var after Counterparty
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		before, err := current(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if before.Version != expectedVersion {
			return apperr.VersionConflict(before.Version)
		}
		if after, err = in.Apply(before); err != nil {
			return err
		}
		after.Version, after.UpdatedAt = before.Version+1, now
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "counterparty.updated", EntityType: "counterparty", EntityID: id, Version: after.Version, Before: before, After: after})
		var updated bool
		b := &pgx.Batch{}
		queueUpdate(b, actor.TenantID, expectedVersion, after, &updated)
		if err := log.Queue(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !updated {
			// The outbox and audit rows of the batch roll back with this error.
			return missingOrStale(ctx, tx, actor.TenantID, id)
		}
		return nil
	})
	if err != nil {
		return Counterparty{}, writeError(err)
	}
	return after, nil
}

// Delete removes a counterparty nothing refers to. With expectedVersion it removes only
// that version. References are refused by the foreign keys of invoices and payments,
// which also covers one committed while the delete runs.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion *int) error {
	now := s.Now().UTC().Truncate(time.Microsecond)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var before Counterparty
		var deleted bool
		b := &pgx.Batch{}
		queueDelete(b, actor.TenantID, id, expectedVersion, &before, &deleted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !deleted {
			return missingOrStale(ctx, tx, actor.TenantID, id)
		}
		// The deletion is the entity's last change, so consumers ordering by version
		// see it after every update.
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "counterparty.deleted", EntityType: "counterparty", EntityID: id, Version: before.Version + 1, Before: before, Data: before})
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if db.IsForeignKeyViolation(err, "") {
		return apperr.Wrap(err, apperr.Conflict, "counterparty_in_use",
			"invoices or payments refer to this counterparty, so it cannot be deleted")
	}
	return db.Map(err)
}

// current reads the counterparty inside tx.
func current(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) (Counterparty, error) {
	var c Counterparty
	var found bool
	b := &pgx.Batch{}
	QueueGet(b, tenantID, id, &c, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Counterparty{}, err
	}
	if !found {
		return Counterparty{}, apperr.NotFoundf("counterparty")
	}
	return c, nil
}

// missingOrStale explains a conditional write that matched no row.
func missingOrStale(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) error {
	c, err := current(ctx, tx, tenantID, id)
	if err != nil {
		return err
	}
	return apperr.VersionConflict(c.Version)
}

// writeError maps the database refusals of an insert or update to their problems.
func writeError(err error) error {
	if db.IsUniqueViolation(err, "counterparties_tenant_id_external_id_key") {
		return apperr.Wrap(err, apperr.Conflict, "counterparty_external_id_exists",
			"a counterparty with this external_id already exists")
	}
	return db.Map(err)
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
