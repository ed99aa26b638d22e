package settings

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/page"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a settable time source for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.UTC().Truncate(time.Microsecond)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	d      *dbtest.Database
	svc    *Service
	clock  *clock
	tenant uuid.UUID
	actor  audit.Actor
}

func newEnv(t *testing.T, c cache.Cache) env {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Settings")
	// Now, after the tenant (and its version 1) was created.
	clk := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
	return env{d: d, svc: &Service{DB: d.App, Cache: c, Now: clk.now}, clock: clk, tenant: tenant,
		actor: audit.Actor{TenantID: tenant, Type: "user", ID: "alice", RequestID: "req-1"}}
}

func (e env) update(t *testing.T, expected int, patch string) (Version, error) {
	t.Helper()
	var in UpdateInput
	require.NoError(t, json.Unmarshal([]byte(patch), &in))
	return e.svc.Update(context.Background(), e.actor, expected, in)
}

func (e env) mustUpdate(t *testing.T, expected int, patch string) Version {
	t.Helper()
	v, err := e.update(t, expected, patch)
	require.NoError(t, err)
	return v
}

func (e env) current(t *testing.T) Version {
	t.Helper()
	v, err := e.svc.Current(context.Background(), e.tenant)
	require.NoError(t, err)
	return v
}

func TestEveryTenantStartsWithVersion1(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v := e.current(t)
	require.Equal(t, 1, v.Version)
	require.Equal(t, "tenant_settings", v.Object)
	require.Equal(t, Defaults(), v.Settings)
	require.Equal(t, Actor{Type: "system", ID: "tenant_created"}, v.CreatedBy)
	require.False(t, v.EffectiveFrom.After(e.clock.now()))
}

func TestUpdateAppendsVersionsWithEffectiveDates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cache.NewMemory(10))
	ctx := context.Background()

	v2 := e.mustUpdate(t, 1, `{"tax_rounding": "per_document", "payment_terms_days": 45}`)
	require.Equal(t, 2, v2.Version)
	require.Equal(t, e.clock.now(), v2.EffectiveFrom)
	require.Equal(t, Actor{Type: "user", ID: "alice"}, v2.CreatedBy)
	require.Equal(t, v2, e.current(t), "in effect at once, and the cached version 1 was dropped")

	// A change scheduled for tomorrow is not in effect until then.
	tomorrow := e.clock.now().Add(24 * time.Hour)
	v3 := e.mustUpdate(t, 2, `{"aging_buckets": [15, 45], "effective_from": "`+tomorrow.Format(time.RFC3339Nano)+`"}`)
	require.Equal(t, 3, v3.Version)
	require.Equal(t, tomorrow, v3.EffectiveFrom)
	require.Equal(t, PerDocument, v3.TaxRounding, "built on the latest version")
	require.Equal(t, 2, e.current(t).Version)

	e.clock.advance(24*time.Hour - time.Microsecond)
	at, err := e.svc.At(ctx, e.tenant, e.clock.now())
	require.NoError(t, err)
	require.Equal(t, 2, at.Version)
	e.clock.advance(time.Microsecond)
	at, err = e.svc.At(ctx, e.tenant, e.clock.now())
	require.NoError(t, err)
	require.Equal(t, v3, at)

	// as_of: any past time, and a time before the first version reads the first.
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{v2.EffectiveFrom.Add(-time.Microsecond), 1},
		{v2.EffectiveFrom, 2},
		{tomorrow.Add(-time.Microsecond), 2},
		{tomorrow.Add(time.Hour), 3},
		{time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), 1},
	} {
		v, err := e.svc.At(ctx, e.tenant, tc.at)
		require.NoError(t, err)
		require.Equal(t, tc.want, v.Version, "as of %s", tc.at)
	}

	// The history, newest first, a page at a time.
	l, err := e.svc.Versions(ctx, e.tenant, page.Params{Limit: 2})
	require.NoError(t, err)
	require.True(t, l.HasMore)
	require.Equal(t, []int{3, 2}, versions(l.Data))
	l, err = e.svc.Versions(ctx, e.tenant, page.Params{Limit: 2, StartingAfter: &l.Data[1].ID})
	require.NoError(t, err)
	require.False(t, l.HasMore)
	require.Equal(t, []int{1}, versions(l.Data))
}

func versions(vs []Version) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

func TestUpdateIsAuditedAndPublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v2 := e.mustUpdate(t, 1, `{"dunning_schedule": [10, 20]}`)

	var action, entityType, actorID string
	var before, after []byte
	require.NoError(t, e.d.Admin.QueryRow(context.Background(), `SELECT action, entity_type, actor_id, before, after
  FROM audit_events WHERE tenant_id = $1 AND entity_id = $1 ORDER BY seq DESC LIMIT 1`, e.tenant).
		Scan(&action, &entityType, &actorID, &before, &after))
	require.Equal(t, "tenant_settings.updated", action)
	require.Equal(t, "tenant_settings", entityType)
	require.Equal(t, "alice", actorID)
	var b, a Version
	require.NoError(t, json.Unmarshal(before, &b))
	require.NoError(t, json.Unmarshal(after, &a))
	require.Equal(t, []int{7, 14, 30}, b.DunningSchedule)
	require.Equal(t, []int{10, 20}, a.DunningSchedule)

	var eventType string
	var version int
	require.NoError(t, e.d.Admin.QueryRow(context.Background(), `SELECT event_type, entity_version
  FROM outbox_events WHERE tenant_id = $1 AND entity_id = $1`, e.tenant).Scan(&eventType, &version))
	require.Equal(t, "tenant_settings.updated", eventType)
	require.Equal(t, v2.Version, version)
}

func TestUpdateNeedsTheLatestVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustUpdate(t, 1, `{"payment_terms_days": 10}`)

	_, err := e.update(t, 1, `{"payment_terms_days": 20}`)
	require.Equal(t, apperr.PreconditionFailed, apperr.KindOf(err))

	// Two changes built on the same version: exactly one becomes version 3.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.update(t, 2, `{"payment_terms_days": `+itoa(30+i)+`}`) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.Equal(t, apperr.PreconditionFailed, apperr.KindOf(err), "%v", err)
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 3, e.current(t).Version)
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func TestAPatchThatChangesNothingAppendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v := e.mustUpdate(t, 1, `{"tax_rounding": "per_line", "aging_buckets": [30, 60, 90]}`)
	require.Equal(t, 1, v.Version)
	l, err := e.svc.Versions(context.Background(), e.tenant, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Len(t, l.Data, 1)
}

func TestSettingsAreTheTenantsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cache.NewMemory(10))
	other := e.d.NewTenant(t, "Other")
	e.mustUpdate(t, 1, `{"base_currency": "EUR"}`)

	v, err := e.svc.Current(context.Background(), other)
	require.NoError(t, err)
	require.Equal(t, 1, v.Version)
	require.Equal(t, "USD", v.BaseCurrency)

	// Under row-level security, another tenant's settings do not exist.
	var n int
	err = e.d.App.Read(context.Background(), other, func(b *pgx.Batch) {
		b.Queue(`SELECT count(*) FROM tenant_settings_at($1, now())`, e.tenant).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	})
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = e.svc.Current(context.Background(), uuid.Must(uuid.NewV7()))
	require.Equal(t, "tenant_not_found", apperr.From(err).Code)
}

func newRedisCache(t *testing.T) (*cache.Redis, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	r, err := cache.NewRedis("redis://" + mr.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, mr
}

// writeBehindTheCache appends a version the way an operator's SQL would, without the
// service, so the cache does not hear of it.
func (e env) writeBehindTheCache(t *testing.T) {
	t.Helper()
	_, err := e.d.Admin.Exec(context.Background(), `UPDATE tenants SET base_currency = 'GBP' WHERE id = $1`, e.tenant)
	require.NoError(t, err)
	// The new version takes effect at the database's now; the service's clock follows.
	e.clock.set(time.Now())
}

func TestRedisCache(t *testing.T) {
	t.Parallel()
	r, mr := newRedisCache(t)
	e := newEnv(t, r)
	key := cacheKey(e.tenant)

	// Miss: read from the database and cached.
	require.False(t, mr.Exists(key))
	require.Equal(t, "USD", e.current(t).BaseCurrency)
	require.True(t, mr.Exists(key))
	require.Equal(t, CacheTTL, mr.TTL(key))

	// Hit: a change the cache did not hear of is not seen...
	e.writeBehindTheCache(t)
	require.Equal(t, "USD", e.current(t).BaseCurrency)
	// ...until the entry expires.
	mr.FastForward(CacheTTL)
	require.False(t, mr.Exists(key))
	require.Equal(t, "GBP", e.current(t).BaseCurrency)

	// A change through the service is seen at once, by every instance sharing Redis.
	otherInstance := &Service{DB: e.d.App, Cache: r, Now: e.clock.now}
	_, err := otherInstance.Current(context.Background(), e.tenant)
	require.NoError(t, err)
	v := e.mustUpdate(t, 2, `{"base_currency": "CHF"}`)
	got, err := otherInstance.Current(context.Background(), e.tenant)
	require.NoError(t, err)
	require.Equal(t, v, got)
}

func TestCachedVersionExpiresWhenTheNextTakesEffect(t *testing.T) {
	t.Parallel()
	r, mr := newRedisCache(t)
	e := newEnv(t, r)
	soon := e.clock.now().Add(4 * time.Second)
	e.mustUpdate(t, 1, `{"payment_terms_days": 7, "effective_from": "`+soon.Format(time.RFC3339Nano)+`"}`)

	require.Equal(t, 1, e.current(t).Version)
	require.Equal(t, 4*time.Second, mr.TTL(cacheKey(e.tenant)), "cached only until version 2 takes effect")
	e.clock.advance(4 * time.Second)
	mr.FastForward(4 * time.Second)
	require.Equal(t, 2, e.current(t).Version)
}

func TestRedisOutageReadsTheDatabase(t *testing.T) {
	t.Parallel()
	r, mr := newRedisCache(t)
	e := newEnv(t, r)
	require.Equal(t, 1, e.current(t).Version)

	mr.Close()
	// Reads and writes go on without the cache, at the database's pace.
	for range 3 {
		require.Equal(t, 1, e.current(t).Version)
	}
	v := e.mustUpdate(t, 1, `{"payment_terms_days": 60}`)
	require.Equal(t, v, e.current(t))
	at, err := e.svc.At(context.Background(), e.tenant, e.clock.now())
	require.NoError(t, err)
	require.Equal(t, 60, at.PaymentTermsDays)
}

func TestOldColumnWritesBecomeVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.mustUpdate(t, 1, `{"aging_buckets": [15, 45], "invoice_number_format": "A-{number}"}`)

	// An operator writes the old document: only what the write changed changes.
	_, err := e.d.Admin.Exec(ctx, `UPDATE tenants SET settings = '{"tax_rounding": "per_document", "dunning_schedule": [60, 5]}' WHERE id = $1`, e.tenant)
	require.NoError(t, err)
	v, err := e.svc.At(ctx, e.tenant, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 3, v.Version)
	require.Equal(t, Actor{Type: "system", ID: "tenants.settings"}, v.CreatedBy)
	require.Equal(t, PerDocument, v.TaxRounding)
	require.Equal(t, []int{5, 60}, v.DunningSchedule, "sorted, as the old reader did")
	require.Equal(t, []int{15, 45}, v.AgingBuckets, "not in the write: kept")
	require.Equal(t, "A-{number}", v.InvoiceNumberFormat)

	// A key the write removes goes back to its default; an invalid one is the default.
	_, err = e.d.Admin.Exec(ctx, `UPDATE tenants SET settings = '{"dunning_schedule": [60, 5], "tax_rounding": "per_invoice"}' WHERE id = $1`, e.tenant)
	require.NoError(t, err)
	v, err = e.svc.At(ctx, e.tenant, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 4, v.Version)
	require.Equal(t, PerLine, v.TaxRounding)
	require.Equal(t, []int{5, 60}, v.DunningSchedule)
}

// The migration's conversion keeps what the old readers used and nothing invalid.
func TestLegacyConversion(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	convert := func(old string) Settings {
		t.Helper()
		var doc []byte
		require.NoError(t, d.Admin.QueryRow(context.Background(), `SELECT tenant_settings_from_legacy('EUR', $1::jsonb, NULL)`, old).Scan(&doc))
		s, err := Parse(doc)
		require.NoError(t, err)
		f := apperr.Fields{}
		s.validate(f)
		require.Empty(t, f, "%s converts to valid settings", old)
		return s
	}
	want := Defaults()
	want.BaseCurrency = "EUR"
	require.Equal(t, want, convert(`{}`))

	got := convert(`{"aging_buckets": [90, 30, 60, 120], "dunning_schedule": [3], "tax_rounding": "per_document",
		"reconciliation_auto_threshold": 0.75, "reconciliation_tolerance_minor": 250, "unrelated": true}`)
	require.Equal(t, []int{30, 60, 90, 120}, got.AgingBuckets)
	require.Equal(t, []int{3}, got.DunningSchedule)
	require.Equal(t, PerDocument, got.TaxRounding)
	require.Equal(t, 0.75, got.ReconciliationAutoThreshold)
	require.Equal(t, int64(250), got.ReconciliationToleranceMinor)

	for _, bad := range []string{
		`{"aging_buckets": [30, 30]}`, `{"aging_buckets": [0, 30]}`, `{"aging_buckets": "30,60"}`, `{"aging_buckets": [30.5]}`,
		`{"aging_buckets": [1,2,3,4,5,6,7,8,9,10,11,12,13]}`, `{"dunning_schedule": []}`, `{"dunning_schedule": ["7"]}`,
		`{"tax_rounding": "per_invoice"}`, `{"reconciliation_auto_threshold": 0}`, `{"reconciliation_auto_threshold": "0.9"}`,
		`{"reconciliation_tolerance_minor": -1}`, `{"reconciliation_tolerance_minor": 1.5}`,
	} {
		require.Equal(t, want, convert(bad), bad)
	}
}
