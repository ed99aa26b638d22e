package tenants_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type bootstrap struct {
	name, currency string
	heads          int64
	headSeq        int64
	headZero       bool
	counters       []string
	counterSum     int64
}

func inspect(t *testing.T, d *dbtest.Database, id uuid.UUID) bootstrap {
	t.Helper()
	ctx := context.Background()
	var b bootstrap
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT name, base_currency FROM tenants WHERE id = $1`, id).Scan(&b.name, &b.currency))
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*), coalesce(max(seq), -1), coalesce(bool_and(hash = decode(repeat('00', 32), 'hex')), false)
		FROM audit_chain_heads WHERE tenant_id = $1`, id).Scan(&b.heads, &b.headSeq, &b.headZero))
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT coalesce(array_agg(sequence ORDER BY sequence), '{}'), coalesce(sum(last_number), 0)
		FROM document_counters WHERE tenant_id = $1`, id).Scan(&b.counters, &b.counterSum))
	return b
}

func requireBootstrapped(t *testing.T, d *dbtest.Database, id uuid.UUID, name, currency string) {
	t.Helper()
	require.Equal(t, bootstrap{
		name: name, currency: currency, heads: 1, headSeq: 0, headZero: true,
		counters: []string{"credit_note", "payable", "receivable"}, counterSum: 0,
	}, inspect(t, d, id))
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	migrator, err := pgxpool.New(ctx, d.URLs.Migrator)
	require.NoError(t, err)
	t.Cleanup(migrator.Close)
	// The migrator path is meaningful only if it is subject to RLS: not a superuser, no
	// BYPASSRLS, and owner of tables whose RLS is forced.
	var super, bypass, forced bool
	var owner string
	require.NoError(t, migrator.QueryRow(ctx, `SELECT r.rolsuper, r.rolbypassrls, c.relforcerowsecurity, pg_get_userbyid(c.relowner)
		FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'audit_chain_heads'::regclass`).
		Scan(&super, &bypass, &forced, &owner))
	require.False(t, super)
	require.False(t, bypass)
	require.True(t, forced)
	require.Equal(t, "ledgerline_migrator", owner)

	for name, pool := range map[string]*pgxpool.Pool{"superuser": d.Admin, "migrator": migrator} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := uuid.Must(uuid.NewV7())
			require.NoError(t, tenants.Ensure(ctx, pool, tenants.Tenant{ID: id, Name: "Acme " + name}))
			requireBootstrapped(t, d, id, "Acme "+name, "USD")

			// Idempotent: no error, no duplicate bootstrap rows, the first values stay.
			for i := 0; i < 2; i++ {
				require.NoError(t, tenants.Ensure(ctx, pool, tenants.Tenant{ID: id, Name: "Renamed", BaseCurrency: "EUR"}))
			}
			requireBootstrapped(t, d, id, "Acme "+name, "USD")

			eur := uuid.Must(uuid.NewV7())
			require.NoError(t, tenants.Ensure(ctx, pool, tenants.Tenant{ID: eur, Name: "Euro GmbH", BaseCurrency: "EUR"}))
			requireBootstrapped(t, d, eur, "Euro GmbH", "EUR")
		})
	}
}

func TestEnsureConcurrently(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	id := uuid.Must(uuid.NewV7())
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- tenants.Ensure(context.Background(), d.Admin, tenants.Tenant{ID: id, Name: "Race"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireBootstrapped(t, d, id, "Race", "USD")
}

func TestEnsureRefusals(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		pool   *pgxpool.Pool
		tenant tenants.Tenant
		want   string
	}{
		{"lower-case currency", d.Admin, tenants.Tenant{ID: uuid.Must(uuid.NewV7()), Name: "x", BaseCurrency: "usd"}, "tenants_base_currency_check"},
		{"empty name", d.Admin, tenants.Tenant{ID: uuid.Must(uuid.NewV7()), Name: ""}, "tenants_name_check"},
		// The application role may read its tenant but never create one.
		{"application role", d.App.Pool, tenants.Tenant{ID: uuid.Must(uuid.NewV7()), Name: "x"}, "permission denied"},
	}
	for _, c := range cases {
		err := tenants.Ensure(ctx, c.pool, c.tenant)
		require.Error(t, err, c.name)
		require.Contains(t, err.Error(), "tenants: ensure "+c.tenant.ID.String(), c.name)
		require.Contains(t, err.Error(), c.want, c.name)
		var n int64
		require.NoError(t, d.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM tenants WHERE id = $1)
			+ (SELECT count(*) FROM audit_chain_heads WHERE tenant_id = $1)
			+ (SELECT count(*) FROM document_counters WHERE tenant_id = $1)`, c.tenant.ID).Scan(&n))
		require.Zero(t, n, "%s: nothing left behind", c.name)
	}
}

// TestEnsuredTenantIsUsableByTheApp: the app role sees its new tenant and only that one.
func TestEnsuredTenantIsUsableByTheApp(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	for _, id := range []uuid.UUID{a, b} {
		tx, err := d.App.Begin(ctx, id, db.ReadCommitted)
		require.NoError(t, err)
		var ids []uuid.UUID
		rows, err := tx.Query(ctx, `SELECT id FROM tenants`)
		require.NoError(t, err)
		for rows.Next() {
			var got uuid.UUID
			require.NoError(t, rows.Scan(&got))
			ids = append(ids, got)
		}
		require.NoError(t, rows.Err())
		var counters int64
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM document_counters`).Scan(&counters))
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, []uuid.UUID{id}, ids)
		require.EqualValues(t, 3, counters)
	}
}
