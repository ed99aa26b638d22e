package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestInTenantTxRetries(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "retries")

	serialization := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	deadlock := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	boom := errors.New("boom")
	cases := []struct {
		name      string
		failures  int   // how many calls fail before one succeeds (-1: all)
		fail      error // the failure
		wantCalls int
		wantKind  apperr.Kind
		wantCode  string // "" means success
		wantIs    error
	}{
		{"serialization twice then ok", 2, serialization, 3, 0, "", nil},
		{"deadlock once then ok", 1, deadlock, 2, 0, "", nil},
		{"wrapped serialization then ok", 3, fmt.Errorf("step: %w", serialization), 4, 0, "", nil},
		{"serialization always", -1, serialization, 4, apperr.Unavailable, "concurrent_update", serialization},
		{"deadlock always", -1, deadlock, 4, apperr.Unavailable, "concurrent_update", deadlock},
		{"plain error not retried", -1, boom, 1, 0, "", boom},
		{"unique violation not retried", -1, &pgconn.PgError{Code: "23505"}, 1, apperr.Conflict, "already_exists", nil},
		{"apperr not retried", -1, apperr.NotFoundf("invoice"), 1, apperr.NotFound, "invoice_not_found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := d.App.InTenantTx(context.Background(), tenant, func(tx pgx.Tx) error {
				calls++
				// The transaction is real and tenant scoped on every attempt.
				var got string
				if err := tx.QueryRow(context.Background(), `SELECT current_setting('app.tenant_id')`).Scan(&got); err != nil {
					return err
				}
				if got != tenant.String() {
					return fmt.Errorf("attempt %d ran as tenant %q", calls, got)
				}
				if c.failures < 0 || calls <= c.failures {
					return c.fail
				}
				return nil
			})
			require.Equal(t, c.wantCalls, calls)
			if c.wantIs != nil {
				require.ErrorIs(t, err, c.wantIs)
			}
			switch {
			case c.wantCode != "":
				requireAppErr(t, err, c.wantKind, c.wantCode)
			case c.wantIs == nil:
				require.NoError(t, err)
			}
		})
	}
}

// TestInTenantTxRetriesRealSerializationFailure provokes a genuine 40001 under
// REPEATABLE READ and checks the retried transaction sees the newer state.
func TestInTenantTxRetriesRealSerializationFailure(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "rr")

	attempts := 0
	var last int64
	err := d.App.InTenantTxIso(ctx, tenant, db.RepeatableRead, func(tx pgx.Tx) error {
		attempts++
		// Take the snapshot first.
		if err := tx.QueryRow(ctx, `SELECT last_number FROM document_counters WHERE sequence = 'receivable'`).Scan(&last); err != nil {
			return err
		}
		if attempts == 1 {
			// A concurrent transaction changes the row and commits after our snapshot.
			if _, err := d.Admin.Exec(ctx, `UPDATE document_counters SET last_number = last_number + 10
				WHERE tenant_id = $1 AND sequence = 'receivable'`, tenant); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `UPDATE document_counters SET last_number = last_number + 1
			WHERE sequence = 'receivable' RETURNING last_number`).Scan(&last)
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)
	require.EqualValues(t, 11, last)
}

func TestInTenantTxStopsRetryingWhenContextEnds(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := d.App.InTenantTx(ctx, tenant, func(pgx.Tx) error {
		calls++
		cancel()
		return &pgconn.PgError{Code: "40001"}
	})
	require.Equal(t, 1, calls)
	requireAppErr(t, err, apperr.Unavailable, "request_canceled")
	require.ErrorIs(t, err, context.Canceled)
}

func TestTransactionsRequireATenant(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	called := false
	err := d.App.InTenantTx(ctx, uuid.Nil, func(pgx.Tx) error { called = true; return nil })
	requireAppErr(t, err, apperr.Internal, "internal")
	err = d.App.InTenantTxIso(ctx, uuid.Nil, db.Serializable, func(pgx.Tx) error { called = true; return nil })
	requireAppErr(t, err, apperr.Internal, "internal")
	err = d.App.Read(ctx, uuid.Nil, func(*pgx.Batch) { called = true })
	requireAppErr(t, err, apperr.Internal, "internal")
	require.False(t, called)
	tx, err := d.App.Begin(ctx, uuid.Nil, db.ReadCommitted)
	requireAppErr(t, err, apperr.Internal, "internal")
	require.Nil(t, tx)
}

func TestInTenantTxCommitsAndRollsBack(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "commit")

	var kept, dropped uuid.UUID
	require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) (err error) {
		kept, err = insertCounterparty(ctx, tx, tenant, "kept")
		return err
	}))
	boom := errors.New("boom")
	err := d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) (err error) {
		if dropped, err = insertCounterparty(ctx, tx, tenant, "dropped"); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Same(t, boom, err, "an unclassified error passes through unchanged")

	var n int64
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE id = $1`, kept).Scan(&n))
	require.EqualValues(t, 1, n)
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE id = $1`, dropped).Scan(&n))
	require.Zero(t, n)
}

func TestIsolationLevels(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "iso")
	for iso, want := range map[db.Isolation]string{
		db.ReadCommitted: "read committed", db.RepeatableRead: "repeatable read", db.Serializable: "serializable",
	} {
		var got string
		err := d.App.InTenantTxIso(context.Background(), tenant, iso, func(tx pgx.Tx) error {
			return tx.QueryRow(context.Background(), `SHOW transaction_isolation`).Scan(&got)
		})
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

// TestNestedTransactionsJoinTheAmbientOne checks db.WithTx: InTenantTx and Read join
// the outer transaction, so their effects commit or roll back with it.
func TestNestedTransactionsJoinTheAmbientOne(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")

	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			ctx := context.Background()
			outer, err := d.App.Begin(ctx, a, db.ReadCommitted)
			require.NoError(t, err)
			defer func() { _ = outer.Rollback(ctx) }()
			inner := db.WithTx(ctx, a, outer)

			var id uuid.UUID
			require.NoError(t, d.App.InTenantTx(inner, a, func(tx pgx.Tx) (err error) {
				require.Same(t, outer, tx, "nested InTenantTx must hand out the ambient transaction")
				id, err = insertCounterparty(inner, tx, a, "nested")
				return err
			}))

			var seen int64
			require.NoError(t, d.App.Read(inner, a, func(bt *pgx.Batch) {
				bt.Queue(`SELECT count(*) FROM counterparties WHERE id = $1`, id).
					QueryRow(func(row pgx.Row) error { return row.Scan(&seen) })
			}))
			require.EqualValues(t, 1, seen, "Read inside the ambient transaction sees its uncommitted row")

			var outside int64
			require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE id = $1`, id).Scan(&outside))
			require.Zero(t, outside, "not visible before the outer transaction commits")

			// The same ambient transaction refuses another tenant.
			called := false
			err = d.App.InTenantTx(inner, b, func(pgx.Tx) error { called = true; return nil })
			requireAppErr(t, err, apperr.Internal, "internal")
			err = d.App.Read(inner, b, func(bt *pgx.Batch) {
				bt.Queue(`SELECT 1`).Exec(func(pgconn.CommandTag) error { called = true; return nil })
			})
			requireAppErr(t, err, apperr.Internal, "internal")
			require.False(t, called)

			if commit {
				require.NoError(t, outer.Commit(ctx))
			} else {
				require.NoError(t, outer.Rollback(ctx))
			}
			require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE id = $1`, id).Scan(&outside))
			if commit {
				require.EqualValues(t, 1, outside)
			} else {
				require.Zero(t, outside, "rolled back with the outer transaction")
			}
		})
	}
}

func TestReadRunsQueuedStatementsForTheTenant(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	seedCounterparties(t, d, a, 4)
	seedCounterparties(t, d, b, 1)

	var count int64
	var names []string
	var tenantName string
	err := d.App.Read(ctx, a, func(bt *pgx.Batch) {
		bt.Queue(`SELECT count(*) FROM counterparties`).QueryRow(func(row pgx.Row) error { return row.Scan(&count) })
		bt.Queue(`SELECT name FROM counterparties ORDER BY id`).Query(func(rows pgx.Rows) error {
			var err error
			names, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		bt.Queue(`SELECT name FROM tenants`).QueryRow(func(row pgx.Row) error { return row.Scan(&tenantName) })
	})
	require.NoError(t, err)
	require.EqualValues(t, 4, count)
	require.Len(t, names, 4)
	require.Equal(t, "A", tenantName)

	// A missing row in a Read maps like any other error.
	err = d.App.Read(ctx, a, func(bt *pgx.Batch) {
		bt.Queue(`SELECT name FROM counterparties WHERE id = $1`, uuid.Must(uuid.NewV7())).
			QueryRow(func(row pgx.Row) error { var s string; return row.Scan(&s) })
	})
	requireAppErr(t, err, apperr.NotFound, "not_found")
}

// A panic inside the transaction rolls it back and returns the connection clean.
func TestInTenantTxRollsBackOnPanic(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "panics")
	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		_ = d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES (gen_random_uuid(), $1, 'Ghost', 'customer')`, tenant)
			require.NoError(t, err)
			panic("boom")
		})
	}()
	var n int
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE tenant_id = $1`, tenant).Scan(&n))
	require.Zero(t, n)
	require.Zero(t, d.App.Pool.Stat().AcquiredConns(), "the connection went back to the pool")
}

// TestWithoutTxLeavesTheAmbientTransaction: a write made under WithoutTx commits on
// its own, whatever becomes of the ambient transaction, while the ambient context
// still joins the ambient transaction.
func TestWithoutTxLeavesTheAmbientTransaction(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "without-tx")
	ctx := context.Background()
	count := func() int {
		var n int
		require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE tenant_id = $1`, tenant).Scan(&n))
		return n
	}

	require.Equal(t, ctx, db.WithoutTx(ctx), "nothing to strip")

	tx, err := d.App.Begin(ctx, tenant, db.ReadCommitted)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	ambient := db.WithTx(ctx, tenant, tx)

	joined := d.App.InTenantTx(ambient, tenant, func(inner pgx.Tx) error {
		require.Same(t, tx, inner, "the ambient context joins the ambient transaction")
		_, err := insertCounterparty(ambient, inner, tenant, "rolled back")
		return err
	})
	require.NoError(t, joined)
	own := db.WithoutTx(ambient)
	require.NoError(t, d.App.InTenantTx(own, tenant, func(inner pgx.Tx) error {
		require.NotSame(t, tx, inner, "WithoutTx opens a transaction of its own")
		_, err := insertCounterparty(own, inner, tenant, "kept")
		return err
	}))
	require.Equal(t, 1, count(), "committed while the ambient transaction is still open")

	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, 1, count(), "the ambient rollback leaves it")
	var name string
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT name FROM counterparties WHERE tenant_id = $1`, tenant).Scan(&name))
	require.Equal(t, "kept", name)
}
