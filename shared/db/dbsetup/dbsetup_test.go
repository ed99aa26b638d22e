package dbsetup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestWithUser(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, dsn, user, database, want string
		wantErr                         bool
	}{
		{"replace both", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "ledgerline_app", "ledger",
			"postgres://ledgerline_app@127.0.0.1:5432/ledger?sslmode=disable", false},
		{"keep database when empty", "postgres://postgres@127.0.0.1:5432/main", "ledgerline_migrator", "",
			"postgres://ledgerline_migrator@127.0.0.1:5432/main", false},
		{"password dropped", "postgres://root:secret@db.internal/main", "ledgerline_app", "other",
			"postgres://ledgerline_app@db.internal/other", false},
		{"no user before", "postgresql://localhost/x?host=/tmp&port=5433", "u", "y",
			"postgresql://u@localhost/y?host=/tmp&port=5433", false},
		{"user needing escapes", "postgres://a@h/d", "svc@project.iam", "d", "postgres://svc%40project.iam@h/d", false},
		{"malformed", "postgres://h:port/d", "u", "d", "", true},
		{"bad escape", "postgres://%zz@h/d", "u", "d", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := dbsetup.WithUser(c.dsn, c.user, c.database)
			if c.wantErr {
				require.ErrorContains(t, err, "dbsetup: parse url")
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

// TestBootstrapIsIdempotent bootstraps a brand-new database on the test cluster twice.
func TestBootstrapIsIdempotent(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	// A superuser URL for the server's maintenance database.
	server, err := dbsetup.WithUser(d.URLs.Admin, "postgres", "postgres")
	require.NoError(t, err)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	// A hyphen forces the name to be quoted as an identifier.
	name := "ledgerline-bootstrap-" + hex.EncodeToString(suffix[:])
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	})

	urls, err := dbsetup.Bootstrap(ctx, server, name)
	require.NoError(t, err)
	for _, c := range []struct{ url, user string }{
		{urls.Admin, "postgres"}, {urls.Migrator, dbsetup.MigratorRole}, {urls.App, dbsetup.AppRole},
	} {
		want, err := dbsetup.WithUser(server, c.user, name)
		require.NoError(t, err)
		require.Equal(t, want, c.url)
	}

	state := func() (owner string, migrations int64, tables int64) {
		c, err := pgx.Connect(ctx, urls.Admin)
		require.NoError(t, err)
		defer c.Close(ctx)
		require.NoError(t, c.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`).Scan(&owner))
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&migrations))
		require.NoError(t, c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1`,
			dbsetup.MigratorRole).Scan(&tables))
		return owner, migrations, tables
	}
	owner, migrations, tables := state()
	require.Equal(t, dbsetup.MigratorRole, owner)
	require.Positive(t, migrations)
	require.GreaterOrEqual(t, tables, int64(12))

	// The application role can log in to the new database and is subject to RLS there.
	app, err := pgx.Connect(ctx, urls.App)
	require.NoError(t, err)
	var user string
	var visible int64
	require.NoError(t, app.QueryRow(ctx, `SELECT current_user, (SELECT count(*) FROM counterparties)`).Scan(&user, &visible))
	require.NoError(t, app.Close(ctx))
	require.Equal(t, dbsetup.AppRole, user)
	require.Zero(t, visible)

	// Again: nothing fails and nothing changes.
	again, err := dbsetup.Bootstrap(ctx, server, name)
	require.NoError(t, err)
	require.Equal(t, urls, again)
	o2, m2, t2 := state()
	require.Equal(t, owner, o2)
	require.Equal(t, migrations, m2)
	require.Equal(t, tables, t2)

	// Migrating an up-to-date database is a no-op too.
	require.NoError(t, dbsetup.Migrate(ctx, urls.Migrator))
	_, m3, _ := state()
	require.Equal(t, migrations, m3)
}

func TestBootstrapAndMigrateFailures(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	unreachable := "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable&connect_timeout=2"

	_, err = dbsetup.Bootstrap(ctx, unreachable, "x")
	require.ErrorContains(t, err, "dbsetup: connect as admin")
	_, err = dbsetup.Bootstrap(ctx, "postgres://%zz@h/d", "x")
	require.ErrorContains(t, err, "dbsetup: parse url")
	require.Error(t, dbsetup.Migrate(ctx, unreachable))
}
