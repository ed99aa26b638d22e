package features

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestKnownFlagsAndDefaults(t *testing.T) {
	require.Equal(t, []Flag{Agents, AutoReconcile, Webhooks}, Known())
	require.False(t, Default(Agents))
	require.True(t, Default(AutoReconcile))
	require.True(t, Default(Webhooks))
}

func TestPutInputApply(t *testing.T) {
	set, err := PutInput{Flags: map[string]bool{"agents": true, "webhooks": false}}.Apply()
	require.NoError(t, err)
	require.Equal(t, map[Flag]bool{Agents: true, Webhooks: false}, set)

	_, err = PutInput{Flags: map[string]bool{"agents": true, "autoreconcile": false, "beta": true}}.Apply()
	e := apperr.From(err)
	require.Equal(t, "validation_failed", e.Code)
	require.Equal(t, map[string]string{
		"flags.autoreconcile": "is not a known feature flag (agents, auto_reconcile, webhooks)",
		"flags.beta":          "is not a known feature flag (agents, auto_reconcile, webhooks)",
	}, e.Fields)

	_, err = PutInput{}.Apply()
	require.Equal(t, map[string]string{"flags": "is required"}, apperr.From(err).Fields)
}

type env struct {
	d      *dbtest.Database
	svc    *Service
	tenant uuid.UUID
	actor  audit.Actor
}

func newEnv(t *testing.T, c cache.Cache) env {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Flags")
	return env{d: d, svc: &Service{DB: d.App, Cache: c, Now: time.Now}, tenant: tenant,
		actor: audit.Actor{TenantID: tenant, Type: "user", ID: "alice"}}
}

func (e env) enabled(t *testing.T, svc *Service, f Flag) bool {
	t.Helper()
	on, err := svc.Enabled(context.Background(), e.tenant, f)
	require.NoError(t, err)
	return on
}

func TestPutAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()

	f, err := e.svc.Get(ctx, e.tenant)
	require.NoError(t, err)
	require.Equal(t, "tenant_features", f.Object)
	require.Equal(t, map[Flag]bool{Agents: false, AutoReconcile: true, Webhooks: true}, f.Flags)
	require.Equal(t, 1, f.Version)

	f, err = e.svc.Put(ctx, e.actor, PutInput{Flags: map[string]bool{"agents": true, "auto_reconcile": false}})
	require.NoError(t, err)
	require.Equal(t, map[Flag]bool{Agents: true, AutoReconcile: false, Webhooks: true}, f.Flags)
	require.Equal(t, 2, f.Version)
	require.False(t, e.enabled(t, e.svc, AutoReconcile))

	// The same flags again change nothing.
	again, err := e.svc.Put(ctx, e.actor, PutInput{Flags: map[string]bool{"auto_reconcile": false, "agents": true}})
	require.NoError(t, err)
	require.Equal(t, f, again)

	// A flag left out follows its default again.
	f, err = e.svc.Put(ctx, e.actor, PutInput{Flags: map[string]bool{}})
	require.NoError(t, err)
	require.Equal(t, map[Flag]bool{Agents: false, AutoReconcile: true, Webhooks: true}, f.Flags)
	require.Equal(t, 3, f.Version)

	var actions []string
	var before, after []byte
	rows, err := e.d.Admin.Query(ctx, `SELECT action, before, after FROM audit_events
 WHERE tenant_id = $1 AND entity_type = 'tenant_features' ORDER BY seq`, e.tenant)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a, &before, &after))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"tenant_features.updated", "tenant_features.updated"}, actions)
	var last Features
	require.NoError(t, json.Unmarshal(after, &last))
	require.Equal(t, 3, last.Version)
	var n int
	require.NoError(t, e.d.Admin.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE tenant_id = $1 AND event_type = 'tenant_features.updated'`,
		e.tenant).Scan(&n))
	require.Equal(t, 2, n)

	_, err = e.svc.Put(ctx, e.actor, PutInput{Flags: map[string]bool{"beta": true}})
	require.Equal(t, apperr.Unprocessable, apperr.KindOf(err))
	_, err = e.svc.Enabled(ctx, e.tenant, Flag("beta"))
	require.Error(t, err)
}

func TestFlagsAreTheTenantsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cache.NewMemory(10))
	other := e.d.NewTenant(t, "Other")
	_, err := e.svc.Put(context.Background(), e.actor, PutInput{Flags: map[string]bool{"webhooks": false}})
	require.NoError(t, err)
	on, err := e.svc.Enabled(context.Background(), other, Webhooks)
	require.NoError(t, err)
	require.True(t, on)

	// A tenant that does not exist has the defaults, and no flags to show.
	ghost := uuid.Must(uuid.NewV7())
	on, err = e.svc.Enabled(context.Background(), ghost, AutoReconcile)
	require.NoError(t, err)
	require.True(t, on)
	_, err = e.svc.Get(context.Background(), ghost)
	require.Equal(t, "tenant_not_found", apperr.From(err).Code)
}

func TestCachedFlags(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	r, err := cache.NewRedis("redis://" + mr.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	e := newEnv(t, r)
	otherInstance := &Service{DB: e.d.App, Cache: r}
	key := cacheKey(e.tenant)

	require.True(t, e.enabled(t, otherInstance, Webhooks))
	require.Equal(t, CacheTTL, mr.TTL(key))

	// A change through the service overwrites the shared entry: seen at once.
	_, err = e.svc.Put(context.Background(), e.actor, PutInput{Flags: map[string]bool{"webhooks": false}})
	require.NoError(t, err)
	require.False(t, e.enabled(t, otherInstance, Webhooks))

	// A change behind the cache's back is seen once the entry expires.
	_, err = e.d.Admin.Exec(context.Background(), `UPDATE tenant_features SET flags = '{}' WHERE tenant_id = $1`, e.tenant)
	require.NoError(t, err)
	require.False(t, e.enabled(t, otherInstance, Webhooks))
	mr.FastForward(CacheTTL)
	require.True(t, e.enabled(t, otherInstance, Webhooks))

	// Without Redis the flags come from the database.
	mr.Close()
	_, err = e.svc.Put(context.Background(), e.actor, PutInput{Flags: map[string]bool{"agents": true}})
	require.NoError(t, err)
	require.True(t, e.enabled(t, otherInstance, Agents))
}

func TestMemoryCacheStalenessIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	// Two instances, each with its own memory: a change made through one reaches the
	// other when its entry expires (CacheTTL), not before.
	one := &Service{DB: e.d.App, Cache: cache.NewMemory(10)}
	two := &Service{DB: e.d.App, Cache: cache.NewMemory(10)}
	require.True(t, e.enabled(t, two, AutoReconcile))
	_, err := one.Put(context.Background(), e.actor, PutInput{Flags: map[string]bool{"auto_reconcile": false}})
	require.NoError(t, err)
	require.False(t, e.enabled(t, one, AutoReconcile), "the writing instance sees it at once")
	require.True(t, e.enabled(t, two, AutoReconcile), "the other still has its cached copy")
}
