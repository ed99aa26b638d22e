package db

import (
	"context"
	"errors"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// Map translates PostgreSQL and driver errors into apperr kinds, in this one place.
// Errors already classified pass through. Stores handle pgx.ErrNoRows themselves
// because only they know which entity was missing.
func Map(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Wrap(err, apperr.NotFound, "not_found", "not found")
	}
	if errors.Is(err, context.Canceled) {
		return apperr.Wrap(err, apperr.Unavailable, "request_canceled", "the request was canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(err, apperr.Unavailable, "timeout", "the request timed out; retry")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return apperr.Wrap(err, apperr.Conflict, "already_exists", "a record with the same unique value already exists")
		case "23503": // foreign_key_violation
			return apperr.Wrap(err, apperr.Unprocessable, "invalid_reference", "a referenced record does not exist")
		case "23514", "23502": // check_violation, not_null_violation
			return apperr.Wrap(err, apperr.Unprocessable, "constraint_violation", "the change violates an invariant ("+pgErr.ConstraintName+")")
		case "22P02", "22007", "22008", "22003": // invalid text, datetime format/overflow, numeric out of range
			return apperr.Wrap(err, apperr.Invalid, "invalid_value", "a value is out of range or malformed")
		case "40001", "40P01":
			return apperr.Wrap(err, apperr.Unavailable, "concurrent_update", "a concurrent change interfered; retry")
		case "55P03", "57014": // lock_not_available, query_canceled
			return apperr.Wrap(err, apperr.Unavailable, "busy", "the database is busy; retry")
		case "42501": // insufficient_privilege, including a row-level security refusal
			return apperr.Wrap(err, apperr.Internal, "internal", "internal error")
		}
		if len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "57") {
			return apperr.Wrap(err, apperr.Unavailable, "database_unavailable", "the database is unavailable; retry")
		}
		return err
	}
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.SafeToRetry(err) {
		return apperr.Wrap(err, apperr.Unavailable, "database_unavailable", "the database is unavailable; retry")
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return apperr.Wrap(err, apperr.Unavailable, "database_unavailable", "the database is unavailable; retry")
	}
	return err
}

// IsUniqueViolation reports whether err is a unique violation on constraint (any
// constraint when constraint is empty); stores use it to turn a duplicate into a
// domain-specific conflict.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

// IsForeignKeyViolation reports whether err is a foreign-key violation on constraint
// (any when empty).
func IsForeignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && (constraint == "" || pgErr.ConstraintName == constraint)
}
