package relay_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/relay"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// recorder is a publisher that remembers what it published and can be told to fail.
type recorder struct {
	mu        sync.Mutex
	published []events.Event
	fail      bool
}

func (r *recorder) Publish(_ context.Context, e events.Event) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return "", errors.New("pubsub unavailable")
	}
	r.published = append(r.published, e)
	return uuid.NewString(), nil
}

func (r *recorder) ids() map[uuid.UUID]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[uuid.UUID]int{}
	for _, e := range r.published {
		m[e.ID]++
	}
	return m
}

// commit writes n events for one entity in tenant, as request requestID.
func commit(t *testing.T, d *dbtest.Database, tenant uuid.UUID, requestID string, n int) {
	t.Helper()
	actor := audit.Actor{TenantID: tenant, Type: "system", ID: "test", RequestID: requestID}
	entity := uuid.New()
	log := changes.New(actor, time.Now())
	for v := 1; v <= n; v++ {
		log.Add(changes.Change{Type: "thing.changed", EntityType: "thing", EntityID: entity, Version: v, After: map[string]int{"v": v}})
	}
	require.NoError(t, d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(context.Background(), b).Close()
	}))
}

func unpublished(t *testing.T, d *dbtest.Database) int {
	var n int
	require.NoError(t, d.Admin.QueryRow(context.Background(), `SELECT count(*) FROM outbox_events WHERE published_at IS NULL`).Scan(&n))
	return n
}

func relayDB(t *testing.T, d *dbtest.Database) *db.DB {
	r, err := db.OpenURL(context.Background(), d.URLs.Relay, 8)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func TestPublishRequestThenSweepWhatFailed(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "Relay")
	pub := &recorder{}
	commit(t, d, tenant, "req-1", 3)
	commit(t, d, tenant, "req-2", 2)

	n, err := (&relay.Relay{DB: d.App, Publisher: pub}).PublishRequest(ctx, tenant, "req-1")
	require.NoError(t, err)
	require.Equal(t, 3, n, "only the request's own events")
	require.Equal(t, 2, unpublished(t, d))
	for i, e := range pub.published {
		require.Equal(t, i+1, e.EntityVersion, "in order")
		require.Equal(t, tenant, e.TenantID)
	}

	// Pub/Sub is down: nothing is marked, the error says so, the events wait.
	pub.fail = true
	n, err = (&relay.Relay{DB: d.App, Publisher: pub}).PublishRequest(ctx, tenant, "req-2")
	require.Error(t, err)
	require.Zero(t, n)
	require.Equal(t, 2, unpublished(t, d))
	var attempts int
	var lastError string
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT max(attempts), max(last_error) FROM outbox_events WHERE request_id = 'req-2'`).Scan(&attempts, &lastError))
	require.Equal(t, 1, attempts, "the first event failed; the second waited behind it")
	require.Contains(t, lastError, "unavailable")

	// The sweeper (relay role, across tenants) publishes them once Pub/Sub is back.
	pub.fail = false
	sweeper := &relay.Relay{DB: relayDB(t, d), Publisher: pub}
	n, err = sweeper.Sweep(ctx, 100, 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Zero(t, unpublished(t, d))
	for id, count := range pub.ids() {
		require.Equal(t, 1, count, "event %s published once", id)
	}
	n, err = sweeper.Sweep(ctx, 100, 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left")
}

func TestConcurrentSweepersNeverPublishTwice(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		tenant := d.NewTenant(t, "T")
		for j := 0; j < 20; j++ {
			commit(t, d, tenant, uuid.NewString(), 3)
		}
	}
	pub := &recorder{}
	r := &relay.Relay{DB: relayDB(t, d), Publisher: pub}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := r.Sweep(ctx, 7, 0)
				require.NoError(t, err)
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, unpublished(t, d))
	ids := pub.ids()
	require.Len(t, ids, 180)
	for id, count := range ids {
		require.Equal(t, 1, count, "event %s", id)
	}
}

func TestSweepLeavesFreshEventsToTheirRequest(t *testing.T) {
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Fresh")
	commit(t, d, tenant, "req", 1)
	n, err := (&relay.Relay{DB: relayDB(t, d), Publisher: &recorder{}}).Sweep(context.Background(), 100, time.Minute)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestTheAppRoleSweepsNothingAcrossTenants(t *testing.T) {
	d := dbtest.New(t)
	commit(t, d, d.NewTenant(t, "A"), "req", 2)
	// Without a tenant the application role sees no outbox row: only the relay role's
	// policy opens every tenant.
	n, err := (&relay.Relay{DB: d.App, Publisher: &recorder{}}).Sweep(context.Background(), 100, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, 2, unpublished(t, d))
}
