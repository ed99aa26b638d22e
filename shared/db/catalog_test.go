package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

// TestRowLevelSecurityCatalog checks the tenancy boundary in the catalog itself: every
// tenant-scoped table has RLS enabled and forced with a policy, and the application
// role can neither bypass nor disable it.
func TestRowLevelSecurityCatalog(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	rows, err := d.Admin.Query(ctx, `
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
   AND (c.relname = 'tenants' OR EXISTS (
        SELECT 1 FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
 ORDER BY 1`)
	require.NoError(t, err)
	seen := map[string]bool{}
	for rows.Next() {
		var name string
		var rls, force bool
		var policies int64
		require.NoError(t, rows.Scan(&name, &rls, &force, &policies))
		seen[name] = true
		require.True(t, rls, "%s: row level security not enabled", name)
		require.True(t, force, "%s: row level security not forced", name)
		require.Positive(t, policies, "%s: no policy", name)
	}
	require.NoError(t, rows.Err())
	// The query must actually have found the tenant tables, or the loop proves nothing.
	for _, want := range []string{"tenants", "counterparties", "document_counters", "invoices", "invoice_lines",
		"payments", "allocations", "audit_events", "audit_chain_heads", "outbox_events", "idempotency_keys",
		"processed_messages", "inbound_rejections", "dead_letters"} {
		require.True(t, seen[want], "table %s not covered", want)
	}
}

func TestAppRoleHasNoPrivilegeEscape(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	var super, bypass bool
	require.NoError(t, d.Admin.QueryRow(ctx,
		`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'ledgerline_app'`).Scan(&super, &bypass))
	require.False(t, super)
	require.False(t, bypass)

	owned := map[string]string{
		"relations": `SELECT count(*) FROM pg_class WHERE relowner = 'ledgerline_app'::regrole`,
		"functions": `SELECT count(*) FROM pg_proc WHERE proowner = 'ledgerline_app'::regrole`,
		"schemas":   `SELECT count(*) FROM pg_namespace WHERE nspowner = 'ledgerline_app'::regrole`,
		"types":     `SELECT count(*) FROM pg_type WHERE typowner = 'ledgerline_app'::regrole`,
		"databases": `SELECT count(*) FROM pg_database WHERE datdba = 'ledgerline_app'::regrole`,
		// Membership in an owner would confer the owner's rights (ALTER TABLE ... DISABLE RLS).
		"tables via membership": `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND pg_has_role('ledgerline_app', c.relowner, 'MEMBER')`,
		"privileged roles via membership": `SELECT count(*) FROM pg_roles r
			WHERE (r.rolsuper OR r.rolbypassrls) AND pg_has_role('ledgerline_app', r.oid, 'MEMBER')`,
	}
	for what, q := range owned {
		var n int64
		require.NoError(t, d.Admin.QueryRow(ctx, q).Scan(&n), what)
		require.Zero(t, n, "ledgerline_app owns or inherits %s", what)
	}

	privileges := []struct {
		table, privilege string
		want             bool
	}{
		{"audit_events", "SELECT", true},
		{"audit_events", "INSERT", true},
		{"audit_events", "UPDATE", false},
		{"audit_events", "DELETE", false},
		{"audit_events", "TRUNCATE", false},
		{"audit_chain_heads", "DELETE", false},
		{"tenants", "SELECT", true},
		{"tenants", "INSERT", false},
		{"tenants", "UPDATE", false},
		{"tenants", "DELETE", false},
		{"counterparties", "INSERT", true},
		{"counterparties", "TRUNCATE", false},
	}
	for _, p := range privileges {
		var got bool
		require.NoError(t, d.Admin.QueryRow(ctx, `SELECT has_table_privilege('ledgerline_app', $1, $2)`,
			p.table, p.privilege).Scan(&got))
		require.Equal(t, p.want, got, "%s on %s", p.privilege, p.table)
	}
}

// TestAppRoleCannotDisableRLS exercises the same boundary from the application's own
// connection.
func TestAppRoleCannotDisableRLS(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	var user string
	var bypass bool
	require.NoError(t, d.App.Pool.QueryRow(ctx,
		`SELECT current_user, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&user, &bypass))
	require.Equal(t, "ledgerline_app", user)
	require.False(t, bypass)

	for _, stmt := range []string{
		`ALTER TABLE counterparties DISABLE ROW LEVEL SECURITY`,
		`ALTER TABLE counterparties NO FORCE ROW LEVEL SECURITY`,
		`DROP POLICY tenant_isolation ON counterparties`,
		`ALTER ROLE ledgerline_app BYPASSRLS`,
	} {
		_, err := d.App.Pool.Exec(ctx, stmt)
		require.Error(t, err, stmt)
	}

	// row_security = off does not bypass policies for a role without BYPASSRLS: a query
	// the policy would filter errors instead.
	conn, err := d.App.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET row_security = off`)
	require.NoError(t, err)
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM counterparties`).Scan(&n)
	require.ErrorContains(t, err, "row-level security")
	_, err = conn.Exec(ctx, `RESET row_security`)
	require.NoError(t, err)
}

// TestServiceRolesAreConfined checks the roles that see across tenants: like the
// application role they bypass nothing and own nothing, and each one's permissive
// policy covers its own table only, so no other table opens up to it.
func TestServiceRolesAreConfined(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	own := map[string][]string{
		"ledgerline_relay": {"outbox_events", "tenants"},
		"ledgerline_ops":   {"dead_letters"},
	}
	for role, tables := range own {
		t.Run(role, func(t *testing.T) {
			var super, bypass bool
			require.NoError(t, d.Admin.QueryRow(ctx,
				`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, role).Scan(&super, &bypass))
			require.False(t, super)
			require.False(t, bypass)

			var owned int64
			require.NoError(t, d.Admin.QueryRow(ctx, `SELECT
    (SELECT count(*) FROM pg_class WHERE relowner = $1::regrole)
  + (SELECT count(*) FROM pg_proc WHERE proowner = $1::regrole)
  + (SELECT count(*) FROM pg_namespace WHERE nspowner = $1::regrole)
  + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND pg_has_role($1, c.relowner, 'MEMBER'))
  + (SELECT count(*) FROM pg_roles r WHERE (r.rolsuper OR r.rolbypassrls) AND pg_has_role($1, r.oid, 'MEMBER'))`,
				role).Scan(&owned))
			require.Zero(t, owned, "%s owns or inherits something", role)

			rows, err := d.Admin.Query(ctx, `
SELECT p.polrelid::regclass::text FROM pg_policy p
 WHERE $1::regrole = ANY (p.polroles) ORDER BY 1`, role)
			require.NoError(t, err)
			var got []string
			for rows.Next() {
				var table string
				require.NoError(t, rows.Scan(&table))
				got = append(got, table)
			}
			require.NoError(t, rows.Err())
			require.Equal(t, tables, got, "tables with a policy for %s", role)
		})
	}

	// Dead letters are the operators' alone.
	for _, privilege := range []string{"SELECT", "INSERT", "UPDATE", "DELETE"} {
		var got bool
		require.NoError(t, d.Admin.QueryRow(ctx, `SELECT has_table_privilege('ledgerline_app', 'dead_letters', $1)`,
			privilege).Scan(&got))
		require.False(t, got, "ledgerline_app may %s dead_letters", privilege)
	}
}
