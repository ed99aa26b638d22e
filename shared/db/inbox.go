package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ClaimMessage records that consumer processes messageID (a Pub/Sub event id) in tx and
// reports whether this is the first time. Called in the same transaction as the
// message's effect, a redelivered or duplicated message finds the row and does nothing;
// two copies processed at once serialise on the primary key, and the second sees the
// first's commit.
func ClaimMessage(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, consumer, messageID string) (bool, error) {
	ct, err := tx.Exec(ctx, `INSERT INTO processed_messages (tenant_id, consumer, message_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, tenantID, consumer, messageID)
	if err != nil {
		return false, Map(err)
	}
	return ct.RowsAffected() == 1, nil
}
