package db

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// MissingOrStale explains a versioned write (an update or delete "WHERE version = $n")
// that changed no row, from a fresh read of it in the same transaction: the row is gone
// (404 for entity, exactly as another tenant's id would be) or it is at another version
// (409 with the current one). get queues that read; version tells a row's version.
func MissingOrStale[T any](ctx context.Context, tx pgx.Tx, entity string,
	get func(b *pgx.Batch, row *T, found *bool), version func(T) int) error {
	var row T
	var found bool
	b := &pgx.Batch{}
	get(b, &row, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !found {
		return apperr.NotFoundf(entity)
	}
	return apperr.VersionConflict(version(row))
}
