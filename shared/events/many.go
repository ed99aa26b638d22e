package events

import (
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// QueueMany adds the outbox inserts of evs to batch b as one statement: the bulk form
// of Queue for a transaction with many changes (an import chunk).
func QueueMany(b *pgx.Batch, evs []Event) {
	n := len(evs)
	if n == 0 {
		return
	}
	ids, tenants, entityIDs := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	types, entityTypes := make([]string, n), make([]string, n)
	versions := make([]int32, n)
	payloads := make([]string, n)
	requestIDs, traceParents, topics := make([]*string, n), make([]*string, n), make([]*string, n)
	created := make([]time.Time, n)
	for i, e := range evs {
		ids[i], tenants[i], types[i], entityTypes[i], entityIDs[i] = e.ID, e.TenantID, e.Type, e.EntityType, e.EntityID
		versions[i], payloads[i], created[i] = int32(e.EntityVersion), string(e.Data), e.CreatedAt
		requestIDs[i], traceParents[i], topics[i] = nonEmpty(e.RequestID), nonEmpty(e.TraceParent), nonEmpty(e.Topic)
	}
	b.Queue(`INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id, entity_version, payload, request_id,
    created_at, trace_parent, topic)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::int[], $7::jsonb[], $8::text[],
                     $9::timestamptz[], $10::text[], $11::text[])`,
		ids, tenants, types, entityTypes, entityIDs, versions, payloads, requestIDs, created, traceParents, topics)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Message is what the relay publishes for an event with a Topic: the payload alone,
// with the attributes every published event carries (the tenant, for dead letters and
// consumers; the event id, to deduplicate on), and no ordering key, so a topic's
// messages are processed in parallel.
func Message(e Event) RawMessage {
	attrs := map[string]string{
		AttrEventID:       e.ID.String(),
		AttrEventType:     e.Type,
		AttrTenantID:      e.TenantID.String(),
		AttrEntityType:    e.EntityType,
		AttrEntityID:      e.EntityID.String(),
		AttrEntityVersion: strconv.Itoa(e.EntityVersion),
	}
	if e.TraceParent != "" {
		attrs["traceparent"] = e.TraceParent
	}
	return RawMessage{Data: e.Data, Attributes: attrs}
}
