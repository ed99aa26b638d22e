package issuers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/issuers/issuerstest"
	"github.com/ledgerline/ledgerline/shared/page"
)

func actor(tenant uuid.UUID) audit.Actor {
	return audit.Actor{TenantID: tenant, Type: "user", ID: "admin-" + tenant.String()[:8], RequestID: "req-1"}
}

func TestBindingsAreUniqueAcrossTenants(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	f.trust(t, acme, "org_1", nil)

	in := validInput()
	in.Issuer, in.Binding.Value = f.provider.Issuer, "org_1"
	_, err := f.svc.Create(ctx, actor(globex), owner, in)
	e := apperr.From(err)
	require.Equal(t, apperr.Conflict, e.Kind, "%v", err)
	require.Equal(t, "trusted_issuer_binding_exists", e.Code)
	_, err = f.svc.Create(ctx, actor(acme), owner, in)
	require.Equal(t, "trusted_issuer_binding_exists", apperr.From(err).Code, "within a tenant too")

	// The value or the issuer may differ; the claim may not, for one issuer.
	in.Binding.Value = "org_2"
	_, err = f.svc.Create(ctx, actor(globex), owner, in)
	require.NoError(t, err)
	in.Binding.Claim = "team"
	_, err = f.svc.Create(ctx, actor(globex), owner, in)
	require.Equal(t, "trusted_issuer_binding_claim_differs", apperr.From(err).Code, "%v", err)
	in.Issuer = f.provider.Issuer + "/"
	_, err = f.svc.Create(ctx, actor(globex), owner, in)
	require.NoError(t, err)
}

// TestOneBindingClaimPerIssuer is the lock-out a second claim allowed: Globex trusting
// Acme's issuer bound by a claim Acme's tokens also carry (team, or azp, the client
// both share) made every Acme token match two tenants, and so refused. The database
// refuses that row whoever writes it, and under concurrency too.
func TestOneBindingClaimPerIssuer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	f.trust(t, acme, "org_acme", nil)
	a := f.authenticator(t, issuers.Options{})
	victim := f.token(t, "rsa-1", "org_acme", []string{"admin"}, jwt.MapClaims{"team": "t-1"})
	p, err := a.Verify(ctx, victim)
	require.NoError(t, err)
	require.Equal(t, acme, p.TenantID)

	in := validInput()
	in.Issuer, in.JWKSURL, in.Binding = f.provider.Issuer, ptr(f.provider.JWKSURL()), &issuers.Binding{Claim: "team", Value: "t-1"}
	_, err = f.svc.Create(ctx, actor(globex), owner, in)
	e := apperr.From(err)
	require.Equal(t, apperr.Conflict, e.Kind, "%v", err)
	require.Equal(t, "trusted_issuer_binding_claim_differs", e.Code)
	require.Contains(t, e.Fields, "binding.claim")
	require.NotContains(t, e.Message+e.Fields["binding.claim"], "org_id", "another tenant's configuration is not told")

	// Not even a direct insert, past the service's checks.
	_, err = f.db.Admin.Exec(ctx, `INSERT INTO trusted_issuers (id, tenant_id, issuer, audience, algorithms, roles_claim,
                             role_mapping, binding_claim, binding_value)
VALUES ($1, $2, $3, 'x', '{RS256}', 'roles', '{"a": "viewer"}', 'azp', 'client-1')`, uuid.New(), globex, f.provider.Issuer)
	require.ErrorContains(t, err, "another claim")

	// The victim's tokens still bind to the victim, on an instance that never saw them.
	p, err = f.authenticator(t, issuers.Options{}).Verify(ctx, victim)
	require.NoError(t, err)
	require.Equal(t, acme, p.TenantID)

	t.Run("concurrent trusts by different claims", func(t *testing.T) {
		other := issuerstest.New(t)
		const n = 8
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				in := validInput()
				in.Issuer = other.Issuer
				in.Binding = &issuers.Binding{Claim: fmt.Sprintf("claim_%d", i), Value: "v"}
				_, err := f.svc.Create(ctx, actor(globex), owner, in)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, "trusted_issuer_binding_claim_differs", apperr.From(err).Code, "%v", err)
		}
		require.Equal(t, 1, ok, "one claim wins; the others are refused")
		var claims int
		require.NoError(t, f.db.Admin.QueryRow(ctx, `SELECT count(DISTINCT binding_claim) FROM trusted_issuers WHERE issuer = $1`,
			other.Issuer).Scan(&claims))
		require.Equal(t, 1, claims)
	})

	t.Run("a deleted issuer frees its claim", func(t *testing.T) {
		other := issuerstest.New(t)
		in := validInput()
		in.Issuer = other.Issuer
		first, err := f.svc.Create(ctx, actor(acme), owner, in)
		require.NoError(t, err)
		require.NoError(t, f.svc.Delete(ctx, actor(acme), first.ID, nil))
		in.Binding = &issuers.Binding{Claim: "tid", Value: "tenant-1"}
		_, err = f.svc.Create(ctx, actor(globex), owner, in)
		require.NoError(t, err)
	})
}

func TestIssuersAreTenantScoped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	first := f.trust(t, acme, "org_a1", nil)
	second := f.trust(t, acme, "org_a2", nil)
	theirs := f.trust(t, globex, "org_g1", nil)

	got, err := f.svc.Get(ctx, acme, first.ID)
	require.NoError(t, err)
	require.True(t, first.CreatedAt.Equal(got.CreatedAt))
	got.CreatedAt = first.CreatedAt
	require.Equal(t, first, got)
	_, err = f.svc.Get(ctx, globex, first.ID)
	require.Equal(t, "trusted_issuer_not_found", apperr.From(err).Code)

	l, err := f.svc.List(ctx, acme, page.Params{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{second.ID}, ids(l.Data))
	require.True(t, l.HasMore)
	l, err = f.svc.List(ctx, acme, page.Params{Limit: 1, StartingAfter: &second.ID})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{first.ID}, ids(l.Data))
	require.False(t, l.HasMore)
	l, err = f.svc.List(ctx, globex, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{theirs.ID}, ids(l.Data))

	err = f.svc.Delete(ctx, actor(globex), first.ID, nil)
	require.Equal(t, "trusted_issuer_not_found", apperr.From(err).Code, "another tenant's issuer is not found")
	stale := 7
	err = f.svc.Delete(ctx, actor(acme), first.ID, &stale)
	require.Equal(t, apperr.PreconditionFailed, apperr.KindOf(err))
	current := 1
	require.NoError(t, f.svc.Delete(ctx, actor(acme), first.ID, &current))
	err = f.svc.Delete(ctx, actor(acme), first.ID, nil)
	require.Equal(t, "trusted_issuer_not_found", apperr.From(err).Code)

	// Every write is audited and published, with the configuration (nothing secret in it).
	rows, err := f.db.Admin.Query(ctx, `SELECT a.action, a.actor_id, a.request_id, a.entity_id,
       (SELECT count(*) FROM outbox_events o WHERE o.tenant_id = a.tenant_id AND o.entity_id = a.entity_id AND o.event_type = a.action)
  FROM audit_events a WHERE a.tenant_id = $1 ORDER BY a.seq`, acme)
	require.NoError(t, err)
	type entry struct {
		Action, ActorID, RequestID string
		EntityID                   uuid.UUID
		Events                     int
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entry])
	require.NoError(t, err)
	who := actor(acme).ID
	require.Equal(t, []entry{
		{"trusted_issuer.created", who, "req-1", first.ID, 1},
		{"trusted_issuer.created", who, "req-1", second.ID, 1},
		{"trusted_issuer.deleted", who, "req-1", first.ID, 1},
	}, entries)
}

func ids(items []issuers.Issuer) []uuid.UUID {
	var out []uuid.UUID
	for _, i := range items {
		out = append(out, i.ID)
	}
	return out
}

// TestLookupIsNarrow checks the database side of verification: the application role
// sees only its tenant's rows, and learns other tenants' configurations only through
// the two lookup functions, for a binding it already knows; the role those functions
// run as can do nothing else.
func TestLookupIsNarrow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acme, globex := f.db.NewTenant(t, "Acme"), f.db.NewTenant(t, "Globex")
	f.trust(t, acme, "org_a", func(in *issuers.CreateInput) { in.RoleMapping = map[string]string{"Boss": "owner"} })
	f.trust(t, globex, "org_g", nil)
	app := f.db.App.Pool

	var n int
	require.NoError(t, app.QueryRow(ctx, `SELECT count(*) FROM trusted_issuers`).Scan(&n))
	require.Zero(t, n, "without a tenant the application role sees no row")
	require.NoError(t, f.db.App.Read(ctx, globex, func(b *pgx.Batch) {
		b.Queue(`SELECT count(*) FROM trusted_issuers`).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	}))
	require.Equal(t, 1, n, "a tenant sees its own rows only")

	rows, err := app.Query(ctx, `SELECT claim FROM trusted_issuer_binding_claims($1)`, f.provider.Issuer)
	require.NoError(t, err)
	claims, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"org_id"}, claims)

	var tenant uuid.UUID
	var mapping map[string]string
	require.NoError(t, app.QueryRow(ctx, `SELECT tenant_id, role_mapping FROM trusted_issuer_binding($1, 'org_id', 'org_a')`,
		f.provider.Issuer).Scan(&tenant, &mapping))
	require.Equal(t, acme, tenant)
	require.Equal(t, map[string]string{"Boss": "owner"}, mapping)
	require.NoError(t, app.QueryRow(ctx, `SELECT count(*) FROM trusted_issuer_binding($1, 'team', 'org_g')`,
		f.provider.Issuer).Scan(&n))
	require.Zero(t, n, "a value under another claim binds nothing")

	admin := f.db.Admin
	const role = "ledgerline_issuer_lookup"
	var login, super, bypass, createSchema, migratorMember, appMember bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolbypassrls,
       has_schema_privilege($1, 'public', 'CREATE'),
       pg_has_role($2, $1, 'MEMBER'), pg_has_role($3, $1, 'MEMBER')
  FROM pg_roles WHERE rolname = $1`, role, dbsetup.MigratorRole, dbsetup.AppRole).
		Scan(&login, &super, &bypass, &createSchema, &migratorMember, &appMember))
	require.False(t, login)
	require.False(t, super)
	require.False(t, bypass)
	require.False(t, createSchema, "the role could create in the schema only while the migration handed it the functions")
	require.False(t, migratorMember)
	require.False(t, appMember)

	var owned []string
	rows, err = admin.Query(ctx, `SELECT proname || ':' || prosecdef::text || ':' || coalesce(array_to_string(proconfig, ','), '')
  FROM pg_proc WHERE proowner = $1::regrole ORDER BY 1`, role)
	require.NoError(t, err)
	owned, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{
		`trusted_issuer_binding:true:search_path=""`,
		`trusted_issuer_binding_claims:true:search_path=""`,
		`trusted_issuer_claims:true:search_path=""`,
		`trusted_issuers_one_binding_claim:true:search_path=""`,
	}, owned, "it owns the lookup functions and the binding claim trigger's, all SECURITY DEFINER with an empty search_path, and nothing else")

	// The list of trusted issuers says which issuers, and by which claim, never which
	// tenant or value.
	rows, err = app.Query(ctx, `SELECT issuer || ' ' || claim FROM trusted_issuer_claims()`)
	require.NoError(t, err)
	trusted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{f.provider.Issuer + " org_id"}, trusted)
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relowner = $1::regrole`, role).Scan(&n))
	require.Zero(t, n)

	rows, err = admin.Query(ctx, `SELECT p.polrelid::regclass::text || ':' || p.polcmd::text FROM pg_policy p
 WHERE $1::regrole = ANY (p.polroles)`, role)
	require.NoError(t, err)
	policies, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"trusted_issuers:r"}, policies, "one read-only policy, on this table only")

	for _, table := range []string{"tenants", "invoices", "audit_events", "webhook_endpoints", "outbox_events"} {
		var reads bool
		require.NoError(t, admin.QueryRow(ctx, `SELECT has_table_privilege($1, $2, 'SELECT')
       OR has_any_column_privilege($1, $2, 'SELECT')`, role, table).Scan(&reads))
		require.False(t, reads, "%s reads %s", role, table)
	}
	for _, privilege := range []string{"INSERT", "UPDATE", "DELETE"} {
		var got bool
		require.NoError(t, admin.QueryRow(ctx, `SELECT has_table_privilege($1, 'trusted_issuers', $2)`, role, privilege).Scan(&got))
		require.False(t, got, "%s may %s", role, privilege)
	}
	for _, fn := range []string{"trusted_issuer_binding(text, text, text)", "trusted_issuer_binding_claims(text)", "trusted_issuer_claims()"} {
		var readonly bool
		require.NoError(t, admin.QueryRow(ctx, `SELECT has_function_privilege('ledgerline_readonly', $1, 'EXECUTE')`, fn).Scan(&readonly))
		require.False(t, readonly, "only the application role runs %s", fn)
	}
}
