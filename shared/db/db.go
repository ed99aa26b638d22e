// Package db holds Ledgerline's PostgreSQL access: the per-instance pool (Cloud SQL Go
// connector with IAM authentication in production, a URL locally), the tenant
// transaction helper that every query runs inside, and the one translation of
// PostgreSQL errors into apperr kinds. It holds no SQL of any domain.
package db

import (
	"context"
	"fmt"
	"net"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/shared/config"
)

// DB is the per-instance pool.
type DB struct {
	Pool   *pgxpool.Pool
	dialer *cloudsqlconn.Dialer
}

// Open builds the pool described by cfg. With INSTANCE_CONNECTION_NAME it dials through
// the Cloud SQL Go connector with IAM database authentication and lazy certificate
// refresh (Cloud Run may throttle CPU between requests, which starves the connector's
// background refresh; lazy refresh fetches on demand instead).
func Open(ctx context.Context, cfg config.Config) (*DB, error) {
	if cfg.InstanceConnectionName == "" {
		return OpenURL(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	}
	dialer, err := cloudsqlconn.NewDialer(ctx, cloudsqlconn.WithIAMAuthN(), cloudsqlconn.WithLazyRefresh())
	if err != nil {
		return nil, fmt.Errorf("db: cloud sql dialer: %w", err)
	}
	pc, err := pgxpool.ParseConfig(fmt.Sprintf("user=%s database=%s", cfg.DBUser, cfg.DBName))
	if err != nil {
		dialer.Close()
		return nil, fmt.Errorf("db: %w", err)
	}
	var dialOpts []cloudsqlconn.DialOption
	if cfg.DBPrivateIP {
		dialOpts = append(dialOpts, cloudsqlconn.WithPrivateIP())
	}
	instance := cfg.InstanceConnectionName
	pc.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialer.Dial(ctx, instance, dialOpts...)
	}
	d, err := open(ctx, pc, cfg.DBMaxConns)
	if err != nil {
		dialer.Close()
		return nil, err
	}
	d.dialer = dialer
	return d, nil
}

// OpenURL builds a pool from a connection string (local development, tests, tools).
func OpenURL(ctx context.Context, url string, maxConns int32) (*DB, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: parse url: %w", err)
	}
	return open(ctx, pc, maxConns)
}

func open(ctx context.Context, pc *pgxpool.Config, maxConns int32) (*DB, error) {
	pc.MaxConns = maxConns
	// Every query becomes a span of the request's trace.
	pc.ConnConfig.Tracer = otelpgx.NewTracer()
	// Idle connections are cheap to keep and expensive to re-dial through the connector.
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.HealthCheckPeriod = 30 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("db: pool: %w", err)
	}
	// Fail the instance's dependency build now rather than on the first query, so the
	// platform retries it on the next request.
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return &DB{Pool: pool}, nil
}

// Close releases the pool and the connector.
func (d *DB) Close() {
	d.Pool.Close()
	if d.dialer != nil {
		d.dialer.Close()
	}
}
