// Package relay moves committed outbox events to Pub/Sub. A request's function publishes
// the events its request committed right after the commit (best effort), and a
// scheduled sweeper publishes whatever is left, oldest first. Rows are claimed with
// FOR UPDATE SKIP LOCKED, so concurrent sweepers (and a sweeper racing a request)
// never publish the same event twice; a crash after publishing but before marking can
// publish an event again, which consumers absorb by deduplicating on the event id.
package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
)

// Relay publishes outbox events.
type Relay struct {
	DB        *db.DB
	Publisher events.Publisher
	// Raw publishes the events that name their own topic (work for a processor, such as
	// an import's chunks); without it they stay in the outbox for a relay that has one.
	Raw events.RawPublisher
}

const columns = `id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, coalesce(request_id, ''),
created_at, coalesce(trace_parent, ''), coalesce(topic, '')`

// PublishRequest publishes the unpublished events requestID committed in tenantID and
// returns how many it published.
func (r *Relay) PublishRequest(ctx context.Context, tenantID uuid.UUID, requestID string) (int, error) {
	var n, failed int
	err := r.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		var err error
		n, failed, err = r.publish(ctx, tx, `SELECT `+columns+` FROM outbox_events
 WHERE tenant_id = $1 AND request_id = $2 AND published_at IS NULL
 ORDER BY created_at, id FOR UPDATE SKIP LOCKED`, tenantID, requestID)
		return err
	})
	return n, outcome(failed, err)
}

// Sweep publishes up to limit events older than minAge (younger ones are still being
// published by their own request), across every tenant. r.DB must connect as the
// relay role, whose policy shows it all outbox rows.
func (r *Relay) Sweep(ctx context.Context, limit int, minAge time.Duration) (int, error) {
	var n, failed int
	err := pgx.BeginFunc(ctx, r.DB.Pool, func(tx pgx.Tx) error {
		var err error
		// Served by outbox_unpublished (created_at) WHERE published_at IS NULL.
		n, failed, err = r.publish(ctx, tx, `SELECT `+columns+` FROM outbox_events
 WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1)
 ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, minAge.Seconds(), limit)
		return err
	})
	return n, outcome(failed, db.Map(err))
}

// outcome reports a database failure, else publish failures (after the successful
// ones were marked and committed).
func outcome(failed int, err error) error {
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("relay: %d events not published; they stay for the next sweep", failed)
	}
	return nil
}

// publish claims the rows sql selects, publishes them in order and marks the published
// ones. After a failure, later events of the same entity wait for the next sweep so an
// entity's events are never published out of order by one relay.
func (r *Relay) publish(ctx context.Context, tx pgx.Tx, sql string, args ...any) (published, failed int, err error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, 0, err
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (events.Event, error) {
		var e events.Event
		err := row.Scan(&e.ID, &e.TenantID, &e.Type, &e.EntityType, &e.EntityID, &e.EntityVersion, &e.Data, &e.RequestID,
			&e.CreatedAt, &e.TraceParent, &e.Topic)
		return e, err
	})
	if err != nil {
		return 0, 0, err
	}
	var ids []uuid.UUID
	blocked := map[uuid.UUID]bool{}
	b := &pgx.Batch{}
	for _, e := range evs {
		if blocked[e.EntityID] {
			failed++
			continue
		}
		if _, err := r.send(ctx, e); err != nil {
			failed++
			blocked[e.EntityID] = true
			b.Queue(`UPDATE outbox_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, e.ID, truncate(err.Error(), 500))
			continue
		}
		ids = append(ids, e.ID)
	}
	if len(ids) > 0 {
		b.Queue(`UPDATE outbox_events SET published_at = now() WHERE id = ANY($1)`, ids)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return 0, 0, fmt.Errorf("relay: mark: %w", err)
		}
	}
	return len(ids), failed, nil
}

// send publishes e where it goes: a domain event to the events topic, an event with a
// topic as a plain message to that topic.
func (r *Relay) send(ctx context.Context, e events.Event) (string, error) {
	if e.Topic == "" {
		return r.Publisher.Publish(ctx, e)
	}
	if r.Raw == nil {
		return "", fmt.Errorf("relay: no publisher for topic %s", e.Topic)
	}
	return r.Raw.PublishRaw(ctx, e.Topic, events.Message(e))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
