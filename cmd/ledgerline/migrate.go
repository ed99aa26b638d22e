package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"google.golang.org/api/impersonate"

	"github.com/ledgerline/ledgerline/migrations"
)

// runMigrate applies migrations as the migrator: DATABASE_URL locally, or the Cloud SQL
// connector with IAM authentication (INSTANCE_CONNECTION_NAME, DB_USER, DB_NAME) in the
// deploy pipeline, as the migrator service account MIGRATOR_SERVICE_ACCOUNT when set
// (the pipeline runs as its own identity and impersonates the migrator for this step
// only).
func runMigrate(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: ledgerline migrate up|down|status")
	}
	db, cleanup, err := openMigrator(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	switch args[0] {
	case "up":
		if err := migrations.Up(ctx, db); err != nil {
			return err
		}
	case "down":
		if err := migrations.Down(ctx, db); err != nil {
			return err
		}
	case "status":
	default:
		return fmt.Errorf("unknown migrate command %q", args[0])
	}
	st, err := migrations.Status(ctx, db)
	if err != nil {
		return err
	}
	for _, s := range st {
		fmt.Printf("%-8s %s\n", s.State, s.Source.Path)
	}
	return nil
}

func openMigrator(ctx context.Context) (*sql.DB, func(), error) {
	if url := os.Getenv("DATABASE_URL"); url != "" {
		db, err := sql.Open("pgx", url)
		return db, func() { db.Close() }, err
	}
	instance := os.Getenv("INSTANCE_CONNECTION_NAME")
	if instance == "" {
		return nil, nil, fmt.Errorf("set DATABASE_URL, or INSTANCE_CONNECTION_NAME with DB_USER and DB_NAME")
	}
	opts := []cloudsqlconn.Option{cloudsqlconn.WithIAMAuthN(), cloudsqlconn.WithLazyRefresh()}
	if sa := os.Getenv("MIGRATOR_SERVICE_ACCOUNT"); sa != "" {
		// One token for the Cloud SQL Admin API (certificates), one scoped to logging in.
		api, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{TargetPrincipal: sa,
			Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}})
		if err != nil {
			return nil, nil, fmt.Errorf("impersonate %s: %w", sa, err)
		}
		login, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{TargetPrincipal: sa,
			Scopes: []string{"https://www.googleapis.com/auth/sqlservice.login"}})
		if err != nil {
			return nil, nil, fmt.Errorf("impersonate %s: %w", sa, err)
		}
		opts = append(opts, cloudsqlconn.WithIAMAuthNTokenSources(api, login))
	}
	d, err := cloudsqlconn.NewDialer(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	name := os.Getenv("DB_NAME")
	if name == "" {
		name = "ledgerline"
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("user=%s database=%s", os.Getenv("DB_USER"), name))
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) { return d.Dial(ctx, instance) }
	db := stdlib.OpenDB(*cfg)
	return db, func() { db.Close(); d.Close() }, nil
}
