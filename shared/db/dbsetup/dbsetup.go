// Package dbsetup prepares a Ledgerline database on a server where the caller is a
// superuser: the migrator role that owns the schema, the database, the migrations, and
// a login for the application role. It serves the local dev server and the test
// harness; in production the platform's IAM users and Terraform do this instead.
package dbsetup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose

	"github.com/ledgerline/ledgerline/migrations"
)

// Role names created here and by the migrations.
const (
	MigratorRole = "ledgerline_migrator"
	AppRole      = "ledgerline_app"
	RelayRole    = "ledgerline_relay"
	OpsRole      = "ledgerline_ops"
	ReadonlyRole = "ledgerline_readonly"
)

// URLs are the connection strings for one database.
type URLs struct {
	Admin    string // superuser: fixtures and tools that act across tenants
	Migrator string // owns the schema; runs migrations
	App      string // what functions use: no ownership, no BYPASSRLS
	Relay    string // the outbox sweeper: reads and marks outbox rows of every tenant
	Ops      string // platform operations: dead letters of every tenant
	Readonly string // the reports: reads a tenant's books, writes nothing
}

// WithUser returns dsn (a URL) with its user and database replaced.
func WithUser(dsn, user, database string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("dbsetup: parse url: %w", err)
	}
	u.User = url.User(user)
	if database != "" {
		u.Path = "/" + database
	}
	return u.String(), nil
}

// Bootstrap creates database name (if missing) owned by the migrator, migrates it, and
// lets the application role log in. adminDSN must reach the server as a superuser.
// Local clusters trust loopback connections, so no passwords are involved.
func Bootstrap(ctx context.Context, adminDSN, name string) (URLs, error) {
	var urls URLs
	var err error
	if urls.Admin, err = WithUser(adminDSN, userOf(adminDSN), name); err != nil {
		return URLs{}, err
	}
	if urls.Migrator, err = WithUser(adminDSN, MigratorRole, name); err != nil {
		return URLs{}, err
	}
	if urls.App, err = WithUser(adminDSN, AppRole, name); err != nil {
		return URLs{}, err
	}
	if urls.Relay, err = WithUser(adminDSN, RelayRole, name); err != nil {
		return URLs{}, err
	}
	if urls.Ops, err = WithUser(adminDSN, OpsRole, name); err != nil {
		return URLs{}, err
	}
	if urls.Readonly, err = WithUser(adminDSN, ReadonlyRole, name); err != nil {
		return URLs{}, err
	}
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return URLs{}, fmt.Errorf("dbsetup: connect as admin: %w", err)
	}
	defer admin.Close(ctx)
	// Roles are cluster-wide, so another database on the same server may have made them.
	if _, err := admin.Exec(ctx, `DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+MigratorRole+`') THEN
        CREATE ROLE `+MigratorRole+` LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS;
    END IF;
END $$`); err != nil && !isDuplicate(err) {
		return URLs{}, fmt.Errorf("dbsetup: migrator role: %w", err)
	}
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return URLs{}, fmt.Errorf("dbsetup: %w", err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` OWNER `+MigratorRole); err != nil {
			return URLs{}, fmt.Errorf("dbsetup: create database: %w", err)
		}
	}
	if err := Migrate(ctx, urls.Migrator); err != nil {
		return URLs{}, err
	}
	for _, role := range []string{AppRole, RelayRole, OpsRole, ReadonlyRole} {
		if _, err := admin.Exec(ctx, `ALTER ROLE `+role+` LOGIN`); err != nil {
			return URLs{}, fmt.Errorf("dbsetup: %s login: %w", role, err)
		}
	}
	return urls, nil
}

// Migrate applies pending migrations through dsn (the migrator).
func Migrate(ctx context.Context, dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("dbsetup: %w", err)
	}
	defer db.Close()
	return migrations.Up(ctx, db)
}

func userOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	return "postgres"
}

func isDuplicate(err error) bool {
	// Two bootstraps racing on a fresh server: the loser's CREATE ROLE reports a
	// duplicate even though it checked first.
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505")
}
