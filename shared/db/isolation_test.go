package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	seedCounterparties(t, d, a, 3)
	seedCounterparties(t, d, b, 2)

	var total int64
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties`).Scan(&total))
	require.EqualValues(t, 5, total, "the superuser sees every tenant")

	for tenant, want := range map[uuid.UUID]int64{a: 3, b: 2} {
		var n, others, tenantRows int64
		var tenantID uuid.UUID
		err := d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			// No tenant filter in the query: the policy is the filter.
			if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE tenant_id <> $1) FROM counterparties`,
				tenant).Scan(&n, &others); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*), min(id::text)::uuid FROM tenants`).Scan(&tenantRows, &tenantID)
		})
		require.NoError(t, err)
		require.Equal(t, want, n)
		require.Zero(t, others)
		require.EqualValues(t, 1, tenantRows, "a tenant sees only its own tenant row")
		require.Equal(t, tenant, tenantID)
	}

	// No tenant set: the unset setting matches no row at all.
	for _, table := range []string{"counterparties", "tenants", "audit_chain_heads", "document_counters"} {
		var n int64
		require.NoError(t, d.App.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		require.Zero(t, n, table)
	}

	// Writing another tenant's row from tenant A's transaction is refused by WITH CHECK.
	err := d.App.InTenantTx(ctx, a, func(tx pgx.Tx) error {
		_, err := insertCounterparty(ctx, tx, b, "smuggled")
		return err
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code)
	require.Contains(t, pgErr.Message, "row-level security")
	requireAppErr(t, err, apperr.Internal, "internal")
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE tenant_id = $1`, b).Scan(&total))
	require.EqualValues(t, 2, total)

	// Another tenant's rows cannot be changed either: they are invisible to UPDATE and DELETE,
	// and a row of A cannot be moved to B.
	err = d.App.InTenantTx(ctx, a, func(tx pgx.Tx) error {
		for _, q := range []string{
			`UPDATE counterparties SET name = 'hijacked' WHERE tenant_id = $1`,
			`DELETE FROM counterparties WHERE tenant_id = $1`,
		} {
			ct, err := tx.Exec(ctx, q, b)
			if err != nil {
				return err
			}
			if ct.RowsAffected() != 0 {
				return fmt.Errorf("%s touched %d rows of another tenant", q, ct.RowsAffected())
			}
		}
		return nil
	})
	require.NoError(t, err)
	err = d.App.InTenantTx(ctx, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE counterparties SET tenant_id = $1`, b)
		return err
	})
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code)
	require.NoError(t, d.Admin.QueryRow(ctx,
		`SELECT count(*) FROM counterparties WHERE tenant_id = $1 AND name = 'cp'`, b).Scan(&total))
	require.EqualValues(t, 2, total)
}

// sessionState reads the tenant setting and backend pid of the pool's next connection.
func sessionState(t *testing.T, ctx context.Context, d *db.DB) (setting string, pid uint32, visible int64) {
	t.Helper()
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT coalesce(current_setting('app.tenant_id', true), ''), pg_backend_pid(),
		(SELECT count(*) FROM counterparties)`).Scan(&setting, &pid, &visible))
	return setting, pid, visible
}

// TestTenantSettingDoesNotLeakAcrossPooledUse runs every way of scoping a tenant on a
// one-connection pool and checks the same connection carries nothing afterwards.
func TestTenantSettingDoesNotLeakAcrossPooledUse(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a := d.NewTenant(t, "A")
	seedCounterparties(t, d, a, 2)

	one, err := db.OpenURL(ctx, d.URLs.App, 1)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	require.EqualValues(t, 1, one.Pool.Config().MaxConns)

	_, pid, visible := sessionState(t, ctx, one)
	require.Zero(t, visible)

	boom := errors.New("boom")
	uses := []struct {
		name    string
		run     func(inside *uint32, seen *int64) error
		wantErr bool
	}{
		{"committed InTenantTx", func(inside *uint32, seen *int64) error {
			return one.InTenantTx(ctx, a, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT pg_backend_pid(), count(*) FROM counterparties`).Scan(inside, seen)
			})
		}, false},
		{"InTenantTx rolled back by fn", func(inside *uint32, seen *int64) error {
			return one.InTenantTx(ctx, a, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT pg_backend_pid(), count(*) FROM counterparties`).Scan(inside, seen); err != nil {
					return err
				}
				return boom
			})
		}, true},
		{"InTenantTx failed by SQL", func(inside *uint32, seen *int64) error {
			return one.InTenantTx(ctx, a, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT pg_backend_pid(), count(*) FROM counterparties`).Scan(inside, seen); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `SELECT 1/0`)
				return err
			})
		}, true},
		{"serializable InTenantTxIso", func(inside *uint32, seen *int64) error {
			return one.InTenantTxIso(ctx, a, db.Serializable, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT pg_backend_pid(), count(*) FROM counterparties`).Scan(inside, seen)
			})
		}, false},
		{"Read", func(inside *uint32, seen *int64) error {
			return one.Read(ctx, a, func(b *pgx.Batch) {
				b.Queue(`SELECT pg_backend_pid(), count(*) FROM counterparties`).QueryRow(func(row pgx.Row) error {
					return row.Scan(inside, seen)
				})
			})
		}, false},
		{"Read with a failing statement", func(inside *uint32, seen *int64) error {
			return one.Read(ctx, a, func(b *pgx.Batch) {
				b.Queue(`SELECT pg_backend_pid(), count(*) FROM counterparties`).QueryRow(func(row pgx.Row) error {
					return row.Scan(inside, seen)
				})
				b.Queue(`SELECT 1/0`)
			})
		}, true},
		{"Begin and Rollback", func(inside *uint32, seen *int64) error {
			tx, err := one.Begin(ctx, a, db.ReadCommitted)
			if err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT pg_backend_pid(), count(*) FROM counterparties`).Scan(inside, seen); err != nil {
				return err
			}
			return tx.Rollback(ctx)
		}, false},
	}
	// Sequential on purpose: they share the one connection.
	for _, u := range uses {
		var inside uint32
		var seen int64
		err := u.run(&inside, &seen)
		if u.wantErr {
			require.Error(t, err, u.name)
		} else {
			require.NoError(t, err, u.name)
		}
		require.Equal(t, pid, inside, "%s: not the pool's only connection", u.name)
		require.EqualValues(t, 2, seen, "%s: tenant not applied inside", u.name)

		setting, after, visible := sessionState(t, ctx, one)
		require.Equal(t, pid, after, u.name)
		require.Empty(t, setting, "%s: tenant setting survived", u.name)
		require.Zero(t, visible, "%s: rows visible without a tenant", u.name)
	}
}

// TestConcurrentTenantsNeverSeeEachOther alternates two tenants over a small pool from
// many goroutines; no statement ever sees the other tenant's rows.
func TestConcurrentTenantsNeverSeeEachOther(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	seedCounterparties(t, d, a, 3)
	seedCounterparties(t, d, b, 5)
	want := map[uuid.UUID]int64{a: 3, b: 5}

	small, err := db.OpenURL(ctx, d.URLs.App, 3)
	require.NoError(t, err)
	t.Cleanup(small.Close)

	const workers, rounds = 12, 15
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				tenant := a
				if (w+r)%2 == 1 {
					tenant = b
				}
				var n, foreign int64
				var err error
				switch r % 3 {
				case 0:
					err = small.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
						return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE tenant_id <> $1) FROM counterparties`,
							tenant).Scan(&n, &foreign)
					})
				case 1:
					err = small.Read(ctx, tenant, func(bt *pgx.Batch) {
						bt.Queue(`SELECT count(*), count(*) FILTER (WHERE tenant_id <> $1) FROM counterparties`, tenant).
							QueryRow(func(row pgx.Row) error { return row.Scan(&n, &foreign) })
					})
				case 2:
					// A statement with no tenant at all sees nothing.
					err = small.Pool.QueryRow(ctx, `SELECT count(*), 0 FROM counterparties`).Scan(&n, &foreign)
					if err == nil && n != 0 {
						err = fmt.Errorf("untenanted query saw %d rows", n)
					}
					errs <- err
					continue
				}
				if err == nil && (n != want[tenant] || foreign != 0) {
					err = fmt.Errorf("tenant %s saw %d rows (%d foreign), want %d", tenant, n, foreign, want[tenant])
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
