// Package events holds domain events: the transactional outbox write that commits with
// the business change, and the Pub/Sub publisher that relays them. Consumers dedupe on
// the event id attribute; the ordering key is the entity id so one entity's events
// arrive in order.
package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Event is one domain event as stored in the outbox and published.
type Event struct {
	ID            uuid.UUID       `json:"id"`
	TenantID      uuid.UUID       `json:"tenant_id"`
	Type          string          `json:"type"` // e.g. invoice.created
	EntityType    string          `json:"entity_type"`
	EntityID      uuid.UUID       `json:"entity_id"`
	EntityVersion int             `json:"entity_version"`
	Data          json.RawMessage `json:"data"`
	RequestID     string          `json:"request_id,omitempty"`
	CreatedAt     time.Time       `json:"created"`
	// TraceParent continues the writing request's trace when the event is published; it
	// travels as a message attribute, not in the body.
	TraceParent string `json:"-"`
	// Topic, when set, makes the event work for a processor rather than a domain event:
	// the relay publishes its Data alone to that topic (see Message), not the event to
	// the events topic.
	Topic string `json:"-"`
}

// New builds an event with a fresh time-ordered id.
func New(tenantID uuid.UUID, typ, entityType string, entityID uuid.UUID, version int, data any, requestID string, now time.Time) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("events: encode %s: %w", typ, err)
	}
	return Event{
		ID: uuid.Must(uuid.NewV7()), TenantID: tenantID, Type: typ, EntityType: entityType,
		EntityID: entityID, EntityVersion: version, Data: b, RequestID: requestID, CreatedAt: now,
	}, nil
}

// Queue adds the outbox insert for e to batch b, to commit with the business change.
func Queue(b *pgx.Batch, e Event) {
	var requestID *string
	if e.RequestID != "" {
		requestID = &e.RequestID
	}
	var traceParent *string
	if e.TraceParent != "" {
		traceParent = &e.TraceParent
	}
	var topic *string
	if e.Topic != "" {
		topic = &e.Topic
	}
	b.Queue(`INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id,
    created_at, trace_parent, topic)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.ID, e.TenantID, e.Type, e.EntityType, e.EntityID, e.EntityVersion, []byte(e.Data), requestID, e.CreatedAt, traceParent, topic)
}
