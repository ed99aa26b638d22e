package features

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
)

// CacheTTL bounds how stale a flag may be. Flags are read on hot paths (every inbound
// payment, every event delivered), so they are cached; a change overwrites the cached
// flags at once, so with a shared cache (Redis) every instance sees it on its next
// read, and with each instance's own memory the other instances see it within
// CacheTTL. An event or payment handled in that window follows the old value.
const CacheTTL = 5 * time.Second

// Service is the feature flag use cases.
type Service struct {
	DB *db.DB
	// Cache holds each tenant's flags; nil reads the database every time.
	Cache cache.Cache
	Now   func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

// cacheKey names a tenant's flags; the format's version is in the key (see settings).
func cacheKey(tenantID uuid.UUID) string { return "ledgerline:features:1:" + tenantID.String() }

// Enabled reports whether f is on for the tenant: the tenant's choice, else the
// default (also for a tenant that does not exist; whoever asks deals with that).
func (s *Service) Enabled(ctx context.Context, tenantID uuid.UUID, f Flag) (bool, error) {
	if _, known := defaults[f]; !known {
		return false, fmt.Errorf("features: unknown flag %q", f)
	}
	r, err := s.load(ctx, tenantID)
	if err != nil {
		return false, err
	}
	return r.features().Flags[f], nil
}

// Get returns the tenant's flags.
func (s *Service) Get(ctx context.Context, tenantID uuid.UUID) (Features, error) {
	r, err := s.load(ctx, tenantID)
	if err != nil {
		return Features{}, err
	}
	if r.Version == 0 {
		return Features{}, apperr.NotFoundf("tenant")
	}
	return r.features(), nil
}

// load reads the stored flags through the cache.
func (s *Service) load(ctx context.Context, tenantID uuid.UUID) (row, error) {
	raw, err := cache.ReadThrough(ctx, s.Cache, cacheKey(tenantID), func(ctx context.Context) ([]byte, time.Duration, error) {
		var r row
		if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGet(b, tenantID, false, &r) }); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(r)
		return b, CacheTTL, err
	})
	if err != nil {
		return row{}, err
	}
	var r row
	if err := json.Unmarshal(raw, &r); err != nil {
		// Not what this release caches: read the database instead.
		cache.Forget(ctx, s.Cache, cacheKey(tenantID))
		err = s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGet(b, tenantID, false, &r) })
		return r, err
	}
	return r, nil
}

// Put replaces the tenant's choices with in's, with audit and outbox records, and
// writes the new flags to the cache after commit. Setting the flags the tenant already
// has changes nothing and records nothing.
func (s *Service) Put(ctx context.Context, actor audit.Actor, in PutInput) (Features, error) {
	set, err := in.Apply()
	if err != nil {
		return Features{}, err
	}
	now := s.now()
	var after row
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var before row
		b := &pgx.Batch{}
		queueGet(b, actor.TenantID, true, &before)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if before.Version == 0 {
			return apperr.NotFoundf("tenant")
		}
		if maps.Equal(before.Set, set) {
			after = before
			return nil
		}
		after = row{Set: set, Version: before.Version + 1, UpdatedAt: now}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "tenant_features.updated", EntityType: "tenant_features", EntityID: actor.TenantID,
			Version: after.Version, Before: before.features(), After: after.features()})
		b = &pgx.Batch{}
		if err := queueUpdate(b, actor.TenantID, after); err != nil {
			return err
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Features{}, db.Map(err)
	}
	if raw, err := json.Marshal(after); err == nil {
		cache.Put(ctx, s.Cache, cacheKey(actor.TenantID), raw, CacheTTL)
	}
	return after.features(), nil
}
