package counterparties

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
)

// Outcome is what an upsert by external id did (or, in a dry run, would do) to one
// counterparty.
type Outcome string

const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// UpsertResult is one input's result: its outcome and the counterparty as it is after
// it, or Err (an *apperr.Error) when the input was refused and nothing was written
// for it.
type UpsertResult struct {
	Outcome      Outcome
	Counterparty Counterparty
	Err          error
}

// Upsert is a planned bulk upsert: every input checked against the rows it names,
// locked, and the writes ready to queue.
type Upsert struct {
	results []UpsertResult
	created []Counterparty
	updated []Counterparty
	log     *changes.Log
}

// Results are the inputs' results, in input order.
func (u *Upsert) Results() []UpsertResult { return u.results }

// PlanUpsert plans the upsert of ins by external id in tx (the caller's transaction,
// of actor's tenant): an input whose external id is new creates a counterparty exactly
// as Create does; one naming an existing counterparty replaces its values (an input is
// the whole counterparty: what it leaves out is cleared, or defaulted like on create)
// and is unchanged when they are equal. One round trip reads and locks the existing
// rows; nothing is written until Queue.
func (s *Service) PlanUpsert(ctx context.Context, tx pgx.Tx, actor audit.Actor, ins []CreateInput) (*Upsert, error) {
	now := s.Now().UTC().Truncate(time.Microsecond)
	ids := make([]string, 0, len(ins))
	for _, in := range ins {
		if in.ExternalID != nil {
			ids = append(ids, *in.ExternalID)
		}
	}
	existing := map[string]Counterparty{}
	b := &pgx.Batch{}
	queueByExternalIDs(b, actor.TenantID, ids, true, existing)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	u := &Upsert{results: make([]UpsertResult, len(ins)), log: changes.New(actor, now)}
	seen := map[string]bool{}
	for i, in := range ins {
		res := &u.results[i]
		if in.ExternalID == nil {
			res.Err = apperr.Validation(map[string]string{"external_id": "is required to import a counterparty"})
			continue
		}
		ext := *in.ExternalID
		if seen[ext] {
			res.Err = duplicateExternalID(ext)
			continue
		}
		seen[ext] = true
		next, err := in.Apply()
		if err != nil {
			res.Err = err
			continue
		}
		cur, ok := existing[ext]
		switch {
		case !ok:
			c := created(next, now)
			res.Outcome, res.Counterparty = Created, c
			u.created = append(u.created, c)
			u.log.Add(changes.Change{Type: "counterparty.created", EntityType: "counterparty", EntityID: c.ID, Version: c.Version, After: c})
		case sameValues(cur, next):
			res.Outcome, res.Counterparty = Unchanged, cur
		default:
			after := next
			after.ID, after.Object, after.CreatedAt = cur.ID, cur.Object, cur.CreatedAt
			after.Version, after.UpdatedAt = cur.Version+1, now
			res.Outcome, res.Counterparty = Updated, after
			u.updated = append(u.updated, after)
			u.log.Add(changes.Change{Type: "counterparty.updated", EntityType: "counterparty", EntityID: cur.ID, Version: after.Version, Before: cur, After: after})
		}
	}
	return u, nil
}

// Queue adds the writes, then the outbox events and audit entries, to b.
func (u *Upsert) Queue(b *pgx.Batch, tenantID uuid.UUID) error {
	queueInsertMany(b, tenantID, u.created)
	queueUpdateMany(b, tenantID, u.updated)
	return u.log.QueueMany(b)
}

// created is the counterparty Create stores for the valid values c at now.
func created(c Counterparty, now time.Time) Counterparty {
	c.ID, c.Object, c.Version, c.CreatedAt, c.UpdatedAt = uuid.Must(uuid.NewV7()), "counterparty", 1, now, now
	return c
}

// sameValues compares what an import sets: everything but identity, version and times.
func sameValues(a, b Counterparty) bool {
	return a.Name == b.Name && a.Kind == b.Kind && eq(a.Email, b.Email) && eq(a.TaxID, b.TaxID) &&
		eq(a.DefaultCurrency, b.DefaultCurrency) && a.PaymentTermsDays == b.PaymentTermsDays && eq(a.ExternalID, b.ExternalID)
}

func eq(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func duplicateExternalID(ext string) error {
	return apperr.New(apperr.Unprocessable, "duplicate_external_id",
		"external_id "+ext+" appears more than once in the import")
}

// ByExternalIDs reads the counterparties named by ids in the caller's transaction tx,
// by external id, in one round trip: how imported documents name their counterparty.
func ByExternalIDs(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, ids []string) (map[string]Counterparty, error) {
	out := map[string]Counterparty{}
	if len(ids) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	queueByExternalIDs(b, tenantID, ids, false, out)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return out, nil
}
