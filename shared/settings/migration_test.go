package settings

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

// The migration turns every existing tenant's old settings into its version 1 and
// flags row, and its Down removes what it added.
func TestMigrationBackfillsExistingTenants(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	conn, err := sql.Open("pgx", d.URLs.Migrator)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, conn, os.DirFS("../../migrations"))
	require.NoError(t, err)

	_, err = p.DownTo(ctx, 13)
	require.NoError(t, err)
	var exists bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT to_regclass('tenant_settings_versions') IS NOT NULL`).Scan(&exists))
	require.False(t, exists)

	// A tenant of the release before, configured the old way.
	tenant := uuid.Must(uuid.NewV7())
	created := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	_, err = d.Admin.Exec(ctx, `INSERT INTO tenants (id, name, base_currency, settings, created_at)
VALUES ($1, 'Before', 'EUR', '{"aging_buckets": [45, 15], "reconciliation_auto_threshold": 0.8}', $2)`, tenant, created)
	require.NoError(t, err)

	_, err = p.UpTo(ctx, 14)
	require.NoError(t, err)
	svc := &Service{DB: d.App, Now: time.Now}
	v, err := svc.Current(ctx, tenant)
	require.NoError(t, err)
	require.Equal(t, 1, v.Version)
	require.Equal(t, created, v.EffectiveFrom)
	require.Equal(t, Actor{Type: "system", ID: "migration"}, v.CreatedBy)
	want := Defaults()
	want.BaseCurrency, want.AgingBuckets, want.ReconciliationAutoThreshold = "EUR", []int{15, 45}, 0.8
	require.Equal(t, want, v.Settings)
	var flags int
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM tenant_features WHERE tenant_id = $1`, tenant).Scan(&flags))
	require.Equal(t, 1, flags)

	// Row-level security is forced again on tenants and on the new tables.
	var forced int
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_class
 WHERE relname IN ('tenants', 'tenant_settings_versions', 'tenant_features') AND relrowsecurity AND relforcerowsecurity`).Scan(&forced))
	require.Equal(t, 3, forced)
}
