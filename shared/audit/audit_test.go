package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func entry(tenant uuid.UUID, i int) audit.Entry {
	actor := audit.Actor{TenantID: tenant, Type: "user", ID: fmt.Sprintf("user-%d", i), RequestID: fmt.Sprintf("req-%d", i)}
	return actor.Record("counterparty.updated", "counterparty", uuid.Must(uuid.NewV7()),
		map[string]any{"name": "before", "i": i}, map[string]any{"name": "after", "i": i},
		time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC).Add(time.Duration(i)*time.Second))
}

// appendEntries appends n entries for tenant, each in its own transaction.
func appendEntries(t *testing.T, d *dbtest.Database, tenant uuid.UUID, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		require.NoError(t, appendOne(d, tenant, entry(tenant, i)))
	}
}

func appendOne(d *dbtest.Database, tenant uuid.UUID, e audit.Entry) error {
	return d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := audit.Queue(b, e); err != nil {
			return err
		}
		return tx.SendBatch(context.Background(), b).Close()
	})
}

func verify(t *testing.T, d *dbtest.Database, tenant uuid.UUID) audit.Verification {
	t.Helper()
	var v audit.Verification
	require.NoError(t, d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) (err error) {
		v, err = audit.Verify(context.Background(), tx)
		return err
	}))
	return v
}

func requireIntact(t *testing.T, v audit.Verification, events int64) {
	t.Helper()
	require.True(t, v.Valid, "%+v", v)
	require.True(t, v.HeadMatch, "%+v", v)
	require.Nil(t, v.BrokenAt)
	require.Equal(t, events, v.Events)
	require.Equal(t, events, v.HeadSeq)
}

func TestAppendAndVerify(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "audited")

	requireIntact(t, verify(t, d, tenant), 0) // an empty chain is valid
	appendEntries(t, d, tenant, 5)
	requireIntact(t, verify(t, d, tenant), 5)

	// The stored rows carry the entry as given.
	var actorType, actorID, action, entityType string
	var before, after map[string]any
	var requestID *string
	var occurred time.Time
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT actor_type, actor_id, action, entity_type, before, after, request_id, occurred_at
		FROM audit_events WHERE tenant_id = $1 AND seq = 3`, tenant).
		Scan(&actorType, &actorID, &action, &entityType, &before, &after, &requestID, &occurred))
	require.Equal(t, "user", actorType)
	require.Equal(t, "user-3", actorID)
	require.Equal(t, "counterparty.updated", action)
	require.Equal(t, "counterparty", entityType)
	require.Equal(t, map[string]any{"name": "before", "i": float64(3)}, before)
	require.Equal(t, map[string]any{"name": "after", "i": float64(3)}, after)
	require.NotNil(t, requestID)
	require.Equal(t, "req-3", *requestID)
	require.True(t, occurred.Equal(time.Date(2026, 3, 1, 12, 0, 3, 123456000, time.UTC)), "stored %v (microseconds kept)", occurred)

	// Creation (no before), deletion (no after), raw JSON and no request id all chain too.
	id := uuid.Must(uuid.NewV7())
	sys := audit.Actor{TenantID: tenant, Type: "system", ID: "sweeper"}
	for _, e := range []audit.Entry{
		sys.Record("counterparty.created", "counterparty", id, nil, json.RawMessage(`{"b": 2, "a": 1}`), time.Now()),
		sys.Record("counterparty.deleted", "counterparty", id, map[string]int{"a": 1}, nil, time.Now()),
	} {
		require.NoError(t, appendOne(d, tenant, e))
	}
	var nulls int64
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND entity_id = $2
		AND request_id IS NULL AND (before IS NULL) <> (after IS NULL)`, tenant, id).Scan(&nulls))
	require.EqualValues(t, 2, nulls)
	requireIntact(t, verify(t, d, tenant), 7)

	// Verification does not depend on the session's time zone.
	require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL TIME ZONE 'Asia/Kolkata'`); err != nil {
			return err
		}
		v, err := audit.Verify(ctx, tx)
		if err != nil {
			return err
		}
		requireIntact(t, v, 7)
		return nil
	}))
}

func TestSeveralEntriesInOneTransaction(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "batch")
	require.NoError(t, d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i := 1; i <= 3; i++ {
			if err := audit.Queue(b, entry(tenant, i)); err != nil {
				return err
			}
		}
		if err := tx.SendBatch(context.Background(), b).Close(); err != nil {
			return err
		}
		// Verification inside the appending transaction sees its own events.
		v, err := audit.Verify(context.Background(), tx)
		if err != nil {
			return err
		}
		requireIntact(t, v, 3)
		return nil
	}))
	requireIntact(t, verify(t, d, tenant), 3)
}

func TestQueueRejectsUnencodableState(t *testing.T) {
	t.Parallel()
	b := &pgx.Batch{}
	e := entry(uuid.Must(uuid.NewV7()), 1)
	e.After = map[string]any{"ch": make(chan int)}
	require.ErrorContains(t, audit.Queue(b, e), "encode state")
	e = entry(uuid.Must(uuid.NewV7()), 1)
	e.Before = func() {}
	require.Error(t, audit.Queue(b, e))
	require.Zero(t, b.Len(), "nothing queued for a refused entry")
}

func TestActorRecord(t *testing.T) {
	t.Parallel()
	tenant, entity := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := audit.Actor{TenantID: tenant, Type: "api_client", ID: "client-1", RequestID: "req-9"}
	got := a.Record("invoice.voided", "invoice", entity, "b", "a", at)
	require.Equal(t, audit.Entry{
		TenantID: tenant, OccurredAt: at, ActorType: "api_client", ActorID: "client-1", Action: "invoice.voided",
		EntityType: "invoice", EntityID: entity, Before: "b", After: "a", RequestID: "req-9",
	}, got)
}

func TestVerificationJSON(t *testing.T) {
	t.Parallel()
	seq := int64(4)
	for _, c := range []struct {
		v    audit.Verification
		want string
	}{
		{audit.Verification{Events: 3, Valid: true, HeadSeq: 3, HeadMatch: true},
			`{"events":3,"valid":true,"head_seq":3,"head_matches":true}`},
		{audit.Verification{Events: 5, BrokenAt: &seq, HeadSeq: 5},
			`{"events":5,"valid":false,"broken_at":4,"head_seq":5,"head_matches":false}`},
	} {
		b, err := json.Marshal(c.v)
		require.NoError(t, err)
		require.JSONEq(t, c.want, string(b))
	}
}

// TestTamperingIsDetected edits the trail behind the application's back (as the
// superuser) and checks the verifier notices, and that the other tenant's chain in the
// same database is unaffected.
func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	brokenAt := func(s int64) *int64 { return &s }
	cases := []struct {
		name      string
		tamper    []string // statements run as superuser; $1 is the tenant
		events    int64
		brokenAt  *int64
		headMatch bool
	}{
		{"content edited", []string{`UPDATE audit_events SET after = '{"x":1}' WHERE tenant_id = $1 AND seq = 2`}, 5, brokenAt(2), true},
		{"actor changed", []string{`UPDATE audit_events SET actor_id = 'someone-else' WHERE tenant_id = $1 AND seq = 3`}, 5, brokenAt(3), true},
		{"time changed", []string{`UPDATE audit_events SET occurred_at = occurred_at + interval '1 microsecond' WHERE tenant_id = $1 AND seq = 1`}, 5, brokenAt(1), true},
		{"request id removed", []string{`UPDATE audit_events SET request_id = NULL WHERE tenant_id = $1 AND seq = 5`}, 5, brokenAt(5), true},
		{"last event deleted", []string{`DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 5`}, 4, nil, false},
		{"middle event deleted", []string{`DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 3`}, 4, brokenAt(4), false},
		{"events reordered", []string{
			`UPDATE audit_events SET seq = 100 WHERE tenant_id = $1 AND seq = 2`,
			`UPDATE audit_events SET seq = 2 WHERE tenant_id = $1 AND seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE tenant_id = $1 AND seq = 100`,
		}, 5, brokenAt(2), true},
		{"hashes swapped with the reorder", []string{
			`UPDATE audit_events SET seq = 100 WHERE tenant_id = $1 AND seq = 2`,
			`UPDATE audit_events SET seq = 2 WHERE tenant_id = $1 AND seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE tenant_id = $1 AND seq = 100`,
			`UPDATE audit_events e SET hash = o.hash FROM audit_events o
			  WHERE e.tenant_id = $1 AND o.tenant_id = $1 AND e.seq IN (2, 3) AND o.seq = 5 - e.seq`,
		}, 5, brokenAt(2), true},
		{"stored hash replaced", []string{`UPDATE audit_events SET hash = sha256('forged'::bytea) WHERE tenant_id = $1 AND seq = 4`}, 5, brokenAt(4), true},
		{"head rewound", []string{`UPDATE audit_chain_heads SET seq = 4 WHERE tenant_id = $1`}, 5, nil, false},
		{"event appended behind the head", []string{`INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id,
			action, entity_type, entity_id, hash) SELECT tenant_id, 6, gen_random_uuid(), now(), 'user', 'x', 'a', 'e',
			gen_random_uuid(), hash FROM audit_events WHERE tenant_id = $1 AND seq = 5`}, 6, brokenAt(6), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := dbtest.New(t)
			target, bystander := d.NewTenant(t, "target"), d.NewTenant(t, "bystander")
			appendEntries(t, d, target, 5)
			appendEntries(t, d, bystander, 5)
			requireIntact(t, verify(t, d, target), 5)

			for _, q := range c.tamper {
				_, err := d.Admin.Exec(context.Background(), q, target)
				require.NoError(t, err, q)
			}
			v := verify(t, d, target)
			require.False(t, v.Valid, "%+v", v)
			require.Equal(t, c.events, v.Events)
			require.Equal(t, c.headMatch, v.HeadMatch)
			if c.brokenAt == nil {
				require.Nil(t, v.BrokenAt)
			} else {
				require.NotNil(t, v.BrokenAt)
				require.Equal(t, *c.brokenAt, *v.BrokenAt)
			}

			requireIntact(t, verify(t, d, bystander), 5)
		})
	}
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant, other := d.NewTenant(t, "busy"), d.NewTenant(t, "other")

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n+5)
	start := make(chan struct{})
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- appendOne(d, tenant, entry(tenant, i))
		}()
	}
	for i := 1; i <= 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- appendOne(d, other, entry(other, i))
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	requireIntact(t, verify(t, d, tenant), n)
	requireIntact(t, verify(t, d, other), 5)
	rows, err := d.Admin.Query(ctx, `SELECT seq FROM audit_events WHERE tenant_id = $1 ORDER BY seq`, tenant)
	require.NoError(t, err)
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, seqs)
}

func TestAppendWithoutChainHeadFails(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "headless")
	_, err := d.Admin.Exec(ctx, `DELETE FROM audit_chain_heads WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)

	err = appendOne(d, tenant, entry(tenant, 1))
	require.ErrorContains(t, err, "has no chain head")
	var n int64
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1`, tenant).Scan(&n))
	require.Zero(t, n)
}

// TestAppendForAnotherTenantFails: inside tenant A's transaction, B's chain head is
// invisible, so an entry naming B cannot be appended to either chain.
func TestAppendForAnotherTenantFails(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	appendEntries(t, d, b, 2)

	err := appendOne(d, a, entry(b, 3))
	require.ErrorContains(t, err, "has no chain head")
	requireIntact(t, verify(t, d, a), 0)
	requireIntact(t, verify(t, d, b), 2)
}

func TestAppRoleCannotRewriteTheTrail(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "append-only")
	appendEntries(t, d, tenant, 2)

	for _, q := range []string{
		`UPDATE audit_events SET actor_id = 'x' WHERE seq = 1`,
		`DELETE FROM audit_events WHERE seq = 2`,
		`TRUNCATE audit_events`,
		`DELETE FROM audit_chain_heads`,
	} {
		err := d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), q)
			return err
		})
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, q)
		require.Equal(t, "42501", pgErr.Code, q)
		require.Contains(t, pgErr.Message, "permission denied", q)
		require.Equal(t, apperr.Internal, apperr.KindOf(err), q)
	}
	requireIntact(t, verify(t, d, tenant), 2)
}
