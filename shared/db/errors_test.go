package db_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMap(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Code: code, ConstraintName: "some_check"} }
	cases := []struct {
		name string
		err  error
		kind apperr.Kind
		code string // "" means: passes through unchanged
	}{
		{"no rows", pgx.ErrNoRows, apperr.NotFound, "not_found"},
		{"wrapped no rows", fmt.Errorf("load: %w", pgx.ErrNoRows), apperr.NotFound, "not_found"},
		{"unique", pg("23505"), apperr.Conflict, "already_exists"},
		{"foreign key", pg("23503"), apperr.Unprocessable, "invalid_reference"},
		{"check", pg("23514"), apperr.Unprocessable, "constraint_violation"},
		{"not null", pg("23502"), apperr.Unprocessable, "constraint_violation"},
		{"invalid text", pg("22P02"), apperr.Invalid, "invalid_value"},
		{"numeric out of range", pg("22003"), apperr.Invalid, "invalid_value"},
		{"serialization", pg("40001"), apperr.Unavailable, "concurrent_update"},
		{"deadlock", pg("40P01"), apperr.Unavailable, "concurrent_update"},
		{"lock not available", pg("55P03"), apperr.Unavailable, "busy"},
		{"statement timeout", pg("57014"), apperr.Unavailable, "busy"},
		{"insufficient privilege", pg("42501"), apperr.Internal, "internal"},
		{"connection failure", pg("08006"), apperr.Unavailable, "database_unavailable"},
		{"too many connections", pg("53300"), apperr.Unavailable, "database_unavailable"},
		{"admin shutdown", pg("57P01"), apperr.Unavailable, "database_unavailable"},
		{"wrapped pg error", fmt.Errorf("insert: %w", pg("23505")), apperr.Conflict, "already_exists"},
		{"deadline", context.DeadlineExceeded, apperr.Unavailable, "timeout"},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), apperr.Unavailable, "timeout"},
		{"canceled", context.Canceled, apperr.Unavailable, "request_canceled"},
		{"network", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}, apperr.Unavailable, "database_unavailable"},
		{"unknown pg code", pg("XX000"), 0, ""},
		{"syntax error", pg("42601"), 0, ""},
		{"plain", errors.New("boom"), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := db.Map(c.err)
			if c.code == "" {
				require.Same(t, c.err, got, "unclassified errors pass through unchanged")
				return
			}
			ae := requireAppErr(t, got, c.kind, c.code)
			require.ErrorIs(t, ae, c.err, "the cause is kept")
		})
	}

	require.NoError(t, db.Map(nil))
	classified := apperr.New(apperr.PreconditionFailed, "stale", "stale version")
	require.Same(t, classified, db.Map(classified))
	wrapped := fmt.Errorf("svc: %w", classified)
	require.Same(t, wrapped, db.Map(wrapped), "an already classified error passes through unchanged")
	// Mapping is idempotent.
	once := db.Map(&pgconn.PgError{Code: "23505"})
	require.Same(t, once, db.Map(once))
}

func TestConstraintPredicates(t *testing.T) {
	t.Parallel()
	unique := fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505", ConstraintName: "a_key"})
	fk := &pgconn.PgError{Code: "23503", ConstraintName: "b_fkey"}
	cases := []struct {
		err        error
		constraint string
		unique, fk bool
	}{
		{unique, "", true, false},
		{unique, "a_key", true, false},
		{unique, "other", false, false},
		{fk, "", false, true},
		{fk, "b_fkey", false, true},
		{fk, "a_key", false, false},
		{errors.New("plain"), "", false, false},
		{nil, "", false, false},
	}
	for _, c := range cases {
		require.Equal(t, c.unique, db.IsUniqueViolation(c.err, c.constraint), "%v %q", c.err, c.constraint)
		require.Equal(t, c.fk, db.IsForeignKeyViolation(c.err, c.constraint), "%v %q", c.err, c.constraint)
	}
	// Still recognisable after mapping, since Map keeps the cause.
	require.True(t, db.IsUniqueViolation(db.Map(unique), "a_key"))
}

// TestMapRealDatabaseErrors provokes each class of error from PostgreSQL itself.
func TestMapRealDatabaseErrors(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "errors")
	var existing uuid.UUID
	require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) (err error) {
		existing, err = insertCounterparty(ctx, tx, tenant, "first")
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE counterparties SET external_id = 'ext-1' WHERE id = $1`, existing)
		return err
	}))

	cases := []struct {
		name       string
		sql        string
		args       func() []any
		kind       apperr.Kind
		code       string
		constraint string
	}{
		{"duplicate external id", `INSERT INTO counterparties (id, tenant_id, name, kind, external_id) VALUES ($1, $2, 'dup', 'customer', 'ext-1')`,
			func() []any { return []any{uuid.Must(uuid.NewV7()), tenant} }, apperr.Conflict, "already_exists", "counterparties_tenant_id_external_id_key"},
		{"duplicate primary key", `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, 'dup', 'customer')`,
			func() []any { return []any{existing, tenant} }, apperr.Conflict, "already_exists", "counterparties_pkey"},
		{"check violation", `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, 'x', 'alien')`,
			func() []any { return []any{uuid.Must(uuid.NewV7()), tenant} }, apperr.Unprocessable, "constraint_violation", "counterparties_kind_check"},
		{"not null", `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, NULL, 'customer')`,
			func() []any { return []any{uuid.Must(uuid.NewV7()), tenant} }, apperr.Unprocessable, "constraint_violation", ""},
		{"foreign key", `INSERT INTO invoices (id, tenant_id, direction, status, counterparty_id, currency, issue_date, due_date,
			subtotal_minor, tax_minor, total_minor) VALUES ($1, $2, 'receivable', 'draft', $3, 'USD', '2026-01-01', '2026-01-31', 0, 0, 0)`,
			func() []any { return []any{uuid.Must(uuid.NewV7()), tenant, uuid.Must(uuid.NewV7())} },
			apperr.Unprocessable, "invalid_reference", "invoices_tenant_id_counterparty_id_fkey"},
		{"malformed value", `SELECT 'not-a-uuid'::uuid`, func() []any { return nil }, apperr.Invalid, "invalid_value", ""},
		{"lock not available", `SELECT 1 FROM counterparties WHERE id = $1 FOR UPDATE NOWAIT`,
			func() []any { return []any{existing} }, apperr.Unavailable, "busy", ""},
	}
	// Hold a row lock so NOWAIT fails.
	locker, err := d.Admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = locker.Rollback(ctx) }()
	_, err = locker.Exec(ctx, `SELECT 1 FROM counterparties WHERE id = $1 FOR UPDATE`, existing)
	require.NoError(t, err)

	for _, c := range cases {
		err := d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, c.sql, c.args()...)
			return err
		})
		ae := requireAppErr(t, err, c.kind, c.code)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, c.name)
		if c.constraint != "" {
			require.Equal(t, c.constraint, pgErr.ConstraintName, c.name)
		}
		switch c.code {
		case "already_exists":
			require.True(t, db.IsUniqueViolation(err, c.constraint), c.name)
			require.True(t, db.IsUniqueViolation(err, ""), c.name)
			require.False(t, db.IsUniqueViolation(err, "some_other_key"), c.name)
			require.False(t, db.IsForeignKeyViolation(err, ""), c.name)
		case "invalid_reference":
			require.True(t, db.IsForeignKeyViolation(err, c.constraint), c.name)
			require.False(t, db.IsUniqueViolation(err, ""), c.name)
		case "constraint_violation":
			require.Contains(t, ae.Message, c.constraint, "the message names the constraint")
		}
	}

	// A statement timeout is transient too.
	err = d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '50ms'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_sleep(5)`)
		return err
	})
	requireAppErr(t, err, apperr.Unavailable, "busy")

	// A context deadline during a query maps to timeout.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = d.App.InTenantTx(short, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(short, `SELECT pg_sleep(5)`)
		return err
	})
	requireAppErr(t, err, apperr.Unavailable, "timeout")
}
