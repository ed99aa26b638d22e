package deadletters

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// columns is the one projection of a dead letter, in scan order.
const columns = `id, subscription, source_topic, message_id, attributes, payload, ordering_key, delivery_count,
last_error, tenant_id, received_at, replayed_at, replay_count`

func scan(row pgx.Row) (DeadLetter, error) {
	d := DeadLetter{Object: "dead_letter"}
	err := row.Scan(&d.ID, &d.Subscription, &d.SourceTopic, &d.MessageID, &d.Attributes, &d.Data, &d.OrderingKey,
		&d.DeliveryCount, &d.LastError, &d.TenantID, &d.ReceivedAt, &d.ReplayedAt, &d.ReplayCount)
	if d.Data == nil {
		d.Data = []byte{}
	}
	if d.Attributes == nil {
		d.Attributes = map[string]string{}
	}
	return d, err
}

// queueInsert stores d unless a dead letter with its message id exists; *created
// reports which.
func queueInsert(b *pgx.Batch, d DeadLetter, created *bool) {
	b.Queue(`INSERT INTO dead_letters (id, subscription, source_topic, message_id, attributes, payload, ordering_key,
    delivery_count, last_error, tenant_id, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (message_id) DO NOTHING`,
		d.ID, d.Subscription, d.SourceTopic, d.MessageID, d.Attributes, d.Data, d.OrderingKey, d.DeliveryCount,
		d.LastError, d.TenantID, d.ReceivedAt).
		Exec(func(ct pgconn.CommandTag) error {
			*created = ct.RowsAffected() == 1
			return nil
		})
}

// queueList reads a page newest first: by the primary key, or by
// dead_letters_by_subscription (subscription, id DESC) when filtered.
func queueList(b *pgx.Batch, f ListFilter, p page.Params, out *[]DeadLetter) {
	b.Queue(`SELECT `+columns+` FROM dead_letters
 WHERE ($1::text IS NULL OR subscription = $1)
   AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC
 LIMIT $3`, f.Subscription, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				d, err := scan(rows)
				if err != nil {
					return err
				}
				*out = append(*out, d)
			}
			return rows.Err()
		})
}

// queueGetForUpdate reads a dead letter and locks it until commit.
func queueGetForUpdate(b *pgx.Batch, id uuid.UUID, out *DeadLetter, found *bool) {
	b.Queue(`SELECT `+columns+` FROM dead_letters WHERE id = $1 FOR UPDATE`, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				d, err := scan(rows)
				if err != nil {
					return err
				}
				*out, *found = d, true
			}
			return rows.Err()
		})
}

func queueMarkReplayed(b *pgx.Batch, id uuid.UUID, at time.Time) {
	b.Queue(`UPDATE dead_letters SET replayed_at = $2, replay_count = replay_count + 1 WHERE id = $1`, id, at)
}

// queueLastFailure reads the newest recorded failure of a message of subscription:
// by its id, or by its payload's digest when dead-lettering gave it a new id.
func queueLastFailure(b *pgx.Batch, subscription, messageID string, digest []byte, out **string) {
	b.Queue(`SELECT error FROM message_failures
 WHERE subscription = $1 AND (message_id = $2 OR payload_sha256 = $3)
 ORDER BY failed_at DESC, id DESC LIMIT 1`, subscription, messageID, digest).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(out); err != nil {
					return err
				}
			}
			return rows.Err()
		})
}

// queueForgetFailures drops the failures a dead letter now carries, and any older than
// before, which no longer belong to a message that can still die.
func queueForgetFailures(b *pgx.Batch, subscription, messageID string, digest []byte, before time.Time) {
	b.Queue(`DELETE FROM message_failures
 WHERE (subscription = $1 AND (message_id = $2 OR payload_sha256 = $3)) OR failed_at < $4`,
		subscription, messageID, digest, before)
}

func insertFailure(ctx context.Context, d *db.DB, id uuid.UUID, function, subscription, messageID string, digest []byte, attempt int, msg string) error {
	_, err := d.Pool.Exec(ctx, `INSERT INTO message_failures (id, function, subscription, message_id, payload_sha256, attempt, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, function, subscription, messageID, digest, attempt, msg)
	return err
}
