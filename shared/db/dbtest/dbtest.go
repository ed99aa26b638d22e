// Package dbtest gives tests a real, migrated PostgreSQL database of their own: a
// template database is migrated once per test binary and cloned per test with CREATE
// DATABASE ... TEMPLATE (about a tenth of a second), so tests run in parallel on
// isolated data. The server is a throwaway cluster from the OS's binaries, or the one
// named by LEDGERLINE_TEST_PG_URL (a superuser URL).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/pgcluster"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

// Database is one test's database.
type Database struct {
	Name  string
	URLs  dbsetup.URLs
	App   *db.DB        // as the application role: RLS applies
	Admin *pgxpool.Pool // as a superuser: fixtures and inspection, bypasses RLS
}

var (
	setupOnce sync.Once
	setupErr  error
	adminURL  string
	template  string
	cluster   *pgcluster.Cluster
	cloneMu   sync.Mutex
)

// Main runs the package's tests and stops the throwaway cluster afterwards. Use it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
	}
	os.Exit(code)
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL = os.Getenv("LEDGERLINE_TEST_PG_URL")
	if adminURL == "" {
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			setupErr = fmt.Errorf("dbtest: start cluster: %w", err)
			return
		}
		cluster = c
		adminURL = c.DSN("postgres")
	}
	template = "ledgerline_tmpl_" + suffix()
	if _, err := dbsetup.Bootstrap(ctx, adminURL, template); err != nil {
		setupErr = err
		return
	}
	// A template must have no connections while it is cloned; Bootstrap closed its own.
}

// New returns a fresh migrated database for t, dropped when t ends.
func New(t testing.TB) *Database {
	t.Helper()
	setupOnce.Do(setup)
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	ctx := context.Background()
	name := "ledgerline_test_" + suffix()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Clones of one template are serialised: PostgreSQL refuses to copy a template that
	// another session is connected to, and a concurrent clone counts as one.
	cloneMu.Lock()
	_, err = admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s OWNER %s`, name, template, dbsetup.MigratorRole))
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: clone template: %v", err)
	}
	d := &Database{Name: name}
	if d.URLs.Admin, err = dbsetup.WithUser(adminURL, "postgres", name); err != nil {
		t.Fatal(err)
	}
	d.URLs.Migrator, _ = dbsetup.WithUser(adminURL, dbsetup.MigratorRole, name)
	d.URLs.App, _ = dbsetup.WithUser(adminURL, dbsetup.AppRole, name)
	d.URLs.Relay, _ = dbsetup.WithUser(adminURL, dbsetup.RelayRole, name)
	d.URLs.Ops, _ = dbsetup.WithUser(adminURL, dbsetup.OpsRole, name)
	d.URLs.Readonly, _ = dbsetup.WithUser(adminURL, dbsetup.ReadonlyRole, name)
	if d.App, err = db.OpenURL(ctx, d.URLs.App, 8); err != nil {
		t.Fatal(err)
	}
	if d.Admin, err = pgxpool.New(ctx, d.URLs.Admin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.App.Close()
		d.Admin.Close()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return d
}

// TB is the part of testing.TB fixtures need; property-test drivers (rapid.T) have it.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// NewTenant provisions a tenant and returns its id.
func (d *Database) NewTenant(t TB, name string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	if err := tenants.Ensure(context.Background(), d.Admin, tenants.Tenant{ID: id, Name: name}); err != nil {
		t.Fatal(err)
	}
	return id
}

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
