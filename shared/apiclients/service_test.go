package apiclients

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/page"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const issuerName = "https://ledgerline.test"

func newService(t *testing.T, d *dbtest.Database) *Service {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ks, err := auth.NewKeySet(key)
	require.NoError(t, err)
	iss, err := auth.NewIssuer(issuerName, "ledgerline", ks, 15*time.Minute)
	require.NoError(t, err)
	return &Service{DB: d.App, Now: time.Now, Issuer: iss}
}

func adminOf(tenant uuid.UUID) (audit.Actor, auth.Principal) {
	p := auth.Principal{TenantID: tenant, Subject: "alice", Roles: []auth.Role{auth.RoleAdmin, auth.RoleAccountant, auth.RoleViewer},
		ActorType: auth.ActorUser}
	return audit.Actor{TenantID: tenant, Type: string(p.ActorType), ID: p.Subject, RequestID: "req-1"}, p
}

func requireCode(t *testing.T, err error, kind apperr.Kind, code string) {
	t.Helper()
	require.Error(t, err)
	e := apperr.From(err)
	require.Equal(t, kind, e.Kind, "%v", err)
	require.Equal(t, code, e.Code, "%v", err)
}

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	svc := newService(t, d)
	tenant := d.NewTenant(t, "Acme")
	actor, admin := adminOf(tenant)

	created, err := svc.Create(ctx, actor, admin, CreateInput{Name: "ERP sync", Roles: []string{"accountant", "viewer"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(created.Secret, SecretPrefix))
	require.Equal(t, Client{ID: created.ID, Object: "api_client", Name: "ERP sync", Roles: []auth.Role{auth.RoleAccountant, auth.RoleViewer},
		Version: 1, CreatedAt: created.CreatedAt, CreatedBy: "alice"}, created.Client)

	// Only the hash is stored; neither the audit trail nor the event has the secret.
	var stored []byte
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT secret_hash FROM api_clients WHERE id = $1`, created.ID).Scan(&stored))
	sum := sha256.Sum256([]byte(created.Secret))
	require.Equal(t, sum[:], stored)
	var auditAfter, payload string
	require.NoError(t, d.Admin.QueryRow(ctx,
		`SELECT after::text FROM audit_events WHERE tenant_id = $1 AND action = 'api_client.created' AND entity_id = $2 AND actor_id = 'alice'`,
		tenant, created.ID).Scan(&auditAfter))
	require.NoError(t, d.Admin.QueryRow(ctx,
		`SELECT payload::text FROM outbox_events WHERE tenant_id = $1 AND event_type = 'api_client.created' AND entity_id = $2`,
		tenant, created.ID).Scan(&payload))
	for _, text := range []string{auditAfter, payload} {
		require.Contains(t, text, "ERP sync")
		require.NotContains(t, text, created.Secret)
		require.NotContains(t, text, "secret")
	}

	got, err := svc.Get(ctx, tenant, created.ID)
	require.NoError(t, err)
	require.Equal(t, created.Client, got)
	list, err := svc.List(ctx, tenant, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []Client{created.Client}, list.Data)

	// The secret obtains a token of the client's tenant and roles.
	tok, err := svc.IssueToken(ctx, TokenRequest{ClientID: created.ID.String(), Secret: created.Secret})
	require.NoError(t, err)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, int64(900), tok.ExpiresIn)
	require.Equal(t, "accountant viewer", tok.Scope)
	p, err := svc.Issuer.Verifier().Verify(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, tenant, p.TenantID)
	require.Equal(t, created.ID.String(), p.Subject)
	require.Equal(t, auth.ActorAPIClient, p.ActorType)
	require.Equal(t, []auth.Role{auth.RoleAccountant, auth.RoleViewer}, p.Roles)
	check := svc.RefuseDeletedClients(issuerName)
	require.NoError(t, check(ctx, p))

	// A scope narrows the roles, never widens them.
	narrowed, err := svc.IssueToken(ctx, TokenRequest{ClientID: created.ID.String(), Secret: created.Secret, Scope: []string{"viewer", "viewer"}})
	require.NoError(t, err)
	require.Equal(t, "viewer", narrowed.Scope)
	_, err = svc.IssueToken(ctx, TokenRequest{ClientID: created.ID.String(), Secret: created.Secret, Scope: []string{"viewer", "admin"}})
	requireCode(t, err, apperr.Invalid, ErrInvalidScope)

	// Every failed authentication looks the same.
	for name, req := range map[string]TokenRequest{
		"wrong secret":   {ClientID: created.ID.String(), Secret: created.Secret + "x"},
		"another prefix": {ClientID: created.ID.String(), Secret: strings.Replace(created.Secret, SecretPrefix, "whsec_", 1)},
		"unknown client": {ClientID: uuid.NewString(), Secret: created.Secret},
		"not an id":      {ClientID: "erp", Secret: created.Secret},
	} {
		_, err := svc.IssueToken(ctx, req)
		requireCode(t, err, apperr.Unauthenticated, ErrInvalidClient)
		require.Equal(t, "client authentication failed", apperr.From(err).Message, name)
	}

	// Delete: a stale version is refused; then the client is gone for the API, its
	// secret obtains nothing, and its token is refused at once.
	stale := 2
	requireCode(t, svc.Delete(ctx, actor, created.ID, &stale), apperr.PreconditionFailed, "version_conflict")
	current := 1
	require.NoError(t, svc.Delete(ctx, actor, created.ID, &current))
	_, err = svc.Get(ctx, tenant, created.ID)
	requireCode(t, err, apperr.NotFound, "api_client_not_found")
	list, err = svc.List(ctx, tenant, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list.Data)
	requireCode(t, svc.Delete(ctx, actor, created.ID, nil), apperr.NotFound, "api_client_not_found")
	_, err = svc.IssueToken(ctx, TokenRequest{ClientID: created.ID.String(), Secret: created.Secret})
	requireCode(t, err, apperr.Unauthenticated, ErrInvalidClient)
	requireCode(t, check(ctx, p), apperr.Unauthenticated, "unauthenticated")

	// The row stays, marked, so the audit trail's reference holds.
	var deletedBy string
	var version int
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT deleted_by, version FROM api_clients WHERE id = $1 AND deleted_at IS NOT NULL`,
		created.ID).Scan(&deletedBy, &version))
	require.Equal(t, "alice", deletedBy)
	require.Equal(t, 2, version)
	var before string
	require.NoError(t, d.Admin.QueryRow(ctx,
		`SELECT before::text FROM audit_events WHERE tenant_id = $1 AND action = 'api_client.deleted' AND entity_id = $2 AND after IS NULL`,
		tenant, created.ID).Scan(&before))
	require.Contains(t, before, `"version": 1`)
}

func TestRefuseDeletedClientsConcernsOnlyOwnClientTokens(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	svc := newService(t, d)
	check := svc.RefuseDeletedClients(issuerName)
	tenant := d.NewTenant(t, "Acme")

	// No database round trip decides these: they are not Ledgerline's client tokens.
	for name, p := range map[string]auth.Principal{
		"a user":                      {TenantID: tenant, Subject: uuid.NewString(), ActorType: auth.ActorUser, Issuer: issuerName},
		"an agent":                    {TenantID: tenant, Subject: uuid.NewString(), ActorType: auth.ActorAgent, Issuer: issuerName},
		"another issuer's api client": {TenantID: tenant, Subject: "svc", ActorType: auth.ActorAPIClient, Issuer: "https://idp.example"},
	} {
		require.NoError(t, check(ctx, p), name)
	}
	for name, p := range map[string]auth.Principal{
		"unknown client":  {TenantID: tenant, Subject: uuid.NewString(), ActorType: auth.ActorAPIClient, Issuer: issuerName},
		"subject not id":  {TenantID: tenant, Subject: "svc", ActorType: auth.ActorAPIClient, Issuer: issuerName},
		"unknown tenant":  {TenantID: uuid.New(), Subject: uuid.NewString(), ActorType: auth.ActorAPIClient, Issuer: issuerName},
		"no subject even": {TenantID: tenant, ActorType: auth.ActorAPIClient, Issuer: issuerName},
	} {
		requireCode(t, check(ctx, p), apperr.Unauthenticated, "unauthenticated")
		require.NotEmpty(t, name)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	svc := newService(t, d)
	a, b := d.NewTenant(t, "Acme"), d.NewTenant(t, "Globex")
	actorA, adminA := adminOf(a)
	actorB, _ := adminOf(b)
	created, err := svc.Create(ctx, actorA, adminA, CreateInput{Name: "ERP", Roles: []string{"viewer"}})
	require.NoError(t, err)

	_, err = svc.Get(ctx, b, created.ID)
	requireCode(t, err, apperr.NotFound, "api_client_not_found")
	list, err := svc.List(ctx, b, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list.Data)
	requireCode(t, svc.Delete(ctx, actorB, created.ID, nil), apperr.NotFound, "api_client_not_found")

	// A token claiming tenant B for A's client is refused: the client is looked up
	// under B's row-level security, where it does not exist.
	forged := auth.Principal{TenantID: b, Subject: created.ID.String(), ActorType: auth.ActorAPIClient, Issuer: issuerName}
	requireCode(t, svc.RefuseDeletedClients(issuerName)(ctx, forged), apperr.Unauthenticated, "unauthenticated")

	// The client still works for its own tenant: B's attempts changed nothing.
	tok, err := svc.IssueToken(ctx, TokenRequest{ClientID: created.ID.String(), Secret: created.Secret})
	require.NoError(t, err)
	p, err := svc.Issuer.Verifier().Verify(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, a, p.TenantID)
}

func TestTokenWithoutIssuer(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	svc := &Service{DB: d.App, Now: time.Now}
	_, err := svc.IssueToken(context.Background(), TokenRequest{ClientID: uuid.NewString(), Secret: "x"})
	requireCode(t, err, apperr.Unavailable, "token_issuer_unavailable")
}

func TestListPages(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	svc := newService(t, d)
	tenant := d.NewTenant(t, "Acme")
	actor, admin := adminOf(tenant)
	var ids []uuid.UUID
	for range 5 {
		c, err := svc.Create(ctx, actor, admin, CreateInput{Name: "c", Roles: []string{"viewer"}})
		require.NoError(t, err)
		ids = append([]uuid.UUID{c.ID}, ids...) // newest first
	}
	require.NoError(t, svc.Delete(ctx, actor, ids[1], nil))

	first, err := svc.List(ctx, tenant, page.Params{Limit: 2})
	require.NoError(t, err)
	require.True(t, first.HasMore)
	require.Equal(t, []uuid.UUID{ids[0], ids[2]}, []uuid.UUID{first.Data[0].ID, first.Data[1].ID}, "deleted clients are not listed")
	rest, err := svc.List(ctx, tenant, page.Params{Limit: 10, StartingAfter: &ids[2]})
	require.NoError(t, err)
	require.False(t, rest.HasMore)
	require.Equal(t, []uuid.UUID{ids[3], ids[4]}, []uuid.UUID{rest.Data[0].ID, rest.Data[1].ID})
}

// TestCatalog checks the boundary the migration draws: the table is tenant-scoped like
// every other, the application role cannot read secret hashes, and the one function
// that finds a client across tenants is narrow and safe to call.
func TestCatalog(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	svc := newService(t, d)
	tenant := d.NewTenant(t, "Acme")
	actor, admin := adminOf(tenant)
	created, err := svc.Create(ctx, actor, admin, CreateInput{Name: "ERP", Roles: []string{"viewer"}})
	require.NoError(t, err)

	var rls, force bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'api_clients'::regclass`).
		Scan(&rls, &force))
	require.True(t, rls)
	require.True(t, force)

	var n int
	require.NoError(t, d.App.Pool.QueryRow(ctx, `SELECT count(*) FROM api_clients`).Scan(&n))
	require.Zero(t, n, "without a tenant the application sees no client")
	var canRead bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT has_column_privilege('ledgerline_app', 'api_clients', 'secret_hash', 'SELECT')`).Scan(&canRead))
	require.False(t, canRead)
	_, err = d.App.Pool.Exec(ctx, `SELECT secret_hash FROM api_clients`)
	require.ErrorContains(t, err, "permission denied")
	for _, priv := range []string{"DELETE", "TRUNCATE"} {
		var ok bool
		require.NoError(t, d.Admin.QueryRow(ctx, `SELECT has_table_privilege('ledgerline_app', 'api_clients', $1)`, priv).Scan(&ok))
		require.False(t, ok, "deletion is soft: the application may not %s", priv)
	}

	var definer bool
	var owner string
	var config []string
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT prosecdef, proowner::regrole::text, proconfig FROM pg_proc
 WHERE oid = 'api_client_credentials(uuid)'::regprocedure`).Scan(&definer, &owner, &config))
	require.True(t, definer)
	require.Equal(t, "ledgerline_client_lookup", owner)
	require.Equal(t, []string{`search_path=""`}, config)
	var login, bypass, super bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = 'ledgerline_client_lookup'`).
		Scan(&login, &bypass, &super))
	require.False(t, login || bypass || super)
	var public, app bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT
    has_function_privilege('ledgerline_readonly', 'api_client_credentials(uuid)', 'EXECUTE'),
    has_function_privilege('ledgerline_app', 'api_client_credentials(uuid)', 'EXECUTE')`).Scan(&public, &app))
	require.False(t, public, "only the application role may call it")
	require.True(t, app)
	var writes bool
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT has_table_privilege('ledgerline_client_lookup', 'api_clients', 'INSERT')
    OR has_table_privilege('ledgerline_client_lookup', 'api_clients', 'UPDATE')
    OR has_table_privilege('ledgerline_client_lookup', 'api_clients', 'DELETE')
    OR has_column_privilege('ledgerline_client_lookup', 'api_clients', 'name', 'SELECT')`).Scan(&writes))
	require.False(t, writes, "the lookup role reads the columns authentication needs, and nothing else")

	// The function answers for an exact id, across tenants, and nothing for a deleted one.
	cred, found, err := lookupCredentials(ctx, d.App.Pool, created.ID)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, tenant, cred.TenantID)
	require.Equal(t, []string{"viewer"}, cred.Roles)
	_, found, err = lookupCredentials(ctx, d.App.Pool, uuid.New())
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, svc.Delete(ctx, actor, created.ID, nil))
	_, found, err = lookupCredentials(ctx, d.App.Pool, created.ID)
	require.NoError(t, err)
	require.False(t, found)
}
