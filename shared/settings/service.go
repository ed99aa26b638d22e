package settings

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// CacheTTL bounds how long the version in effect is served from the cache. A change is
// written to the database and the cached copy dropped at once, so with a shared cache
// (Redis) every instance sees it on its next read; with each instance's own memory, the
// other instances see it within CacheTTL. A scheduled version is never served late: an
// entry expires when the next version takes effect.
const CacheTTL = 10 * time.Second

// Service is the settings use cases.
type Service struct {
	DB *db.DB
	// Cache holds the version in effect per tenant; nil reads the database every time.
	Cache cache.Cache
	Now   func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// cacheKey names a tenant's version in effect. The format's own version is in the key,
// so a release that changes what is cached never reads an older release's entries.
func cacheKey(tenantID uuid.UUID) string { return "ledgerline:settings:1:" + tenantID.String() }

// Current returns the version in effect now, through the cache.
func (s *Service) Current(ctx context.Context, tenantID uuid.UUID) (Version, error) {
	raw, err := cache.ReadThrough(ctx, s.Cache, cacheKey(tenantID), func(ctx context.Context) ([]byte, time.Duration, error) {
		now := s.now()
		var v Version
		var found bool
		var next *time.Time
		if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
			queueAt(b, tenantID, now, &v, &found)
			queueNextChange(b, tenantID, now, &next)
		}); err != nil {
			return nil, 0, err
		}
		if !found {
			return nil, 0, apperr.NotFoundf("tenant")
		}
		ttl := CacheTTL
		if next != nil && next.Sub(now) < ttl {
			ttl = next.Sub(now)
		}
		b, err := json.Marshal(v)
		return b, ttl, err
	})
	if err != nil {
		return Version{}, err
	}
	var v Version
	if err := json.Unmarshal(raw, &v); err != nil {
		// Not what this release caches: read the database instead.
		cache.Forget(ctx, s.Cache, cacheKey(tenantID))
		return s.At(ctx, tenantID, s.now())
	}
	return v, nil
}

// At returns the version that was (or will be) in effect at at. Before the first
// version, that is the first: the settings the tenant started with.
func (s *Service) At(ctx context.Context, tenantID uuid.UUID, at time.Time) (Version, error) {
	var v Version
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueAt(b, tenantID, at, &v, &found) }); err != nil {
		return Version{}, err
	}
	if !found {
		return Version{}, apperr.NotFoundf("tenant")
	}
	return v, nil
}

// Versions returns a page of the history, newest first, scheduled versions included.
func (s *Service) Versions(ctx context.Context, tenantID uuid.UUID, p page.Params) (page.List[Version], error) {
	var rows []Version
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, p, &rows) }); err != nil {
		return page.List[Version]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Update appends the version in builds on the latest one, expectedVersion, with its
// audit and outbox records. A patch that changes no setting appends nothing and
// returns the latest version. The cached version in effect is dropped after commit.
func (s *Service) Update(ctx context.Context, actor audit.Actor, expectedVersion int, in UpdateInput) (Version, error) {
	now := s.now()
	var out Version
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var head Version
		var found bool
		b := &pgx.Batch{}
		queueHead(b, actor.TenantID, &head, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("tenant")
		}
		if head.Version != expectedVersion {
			return apperr.VersionConflict(head.Version)
		}
		next, effective, err := in.Apply(head, now)
		if err != nil {
			return err
		}
		if equal(next, head.Settings) {
			out = head
			return nil
		}
		out = Version{
			ID: uuid.Must(uuid.NewV7()), Object: "tenant_settings", Version: head.Version + 1, EffectiveFrom: effective,
			CreatedAt: now, CreatedBy: Actor{Type: actor.Type, ID: actor.ID}, Settings: next,
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "tenant_settings.updated", EntityType: "tenant_settings", EntityID: actor.TenantID,
			Version: out.Version, Before: head, After: out})
		b = &pgx.Batch{}
		if err := queueInsert(b, actor.TenantID, out); err != nil {
			return err
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if extendedElsewhere(err) {
		// Another change built on the same version committed first.
		return Version{}, apperr.Wrap(err, apperr.PreconditionFailed, "version_conflict",
			"the settings have changed since they were read; fetch them and retry")
	}
	if err != nil {
		return Version{}, db.Map(err)
	}
	cache.Forget(ctx, s.Cache, cacheKey(actor.TenantID))
	return out, nil
}

// extendedElsewhere tells a version that lost the race for its number: the primary key
// refuses it, or, when the other one committed before the insert ran, the timeline
// trigger does.
func extendedElsewhere(err error) bool {
	var pgErr *pgconn.PgError
	return db.IsUniqueViolation(err, "tenant_settings_versions_pkey") ||
		errors.As(err, &pgErr) && pgErr.ConstraintName == "tenant_settings_versions_timeline"
}
