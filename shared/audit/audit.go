// Package audit appends to and verifies the tamper-evident audit trail: every mutation
// records who did what to which entity, before and after, in the same transaction as
// the change, chained per tenant by hash (see migrations for the chain definition).
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Entry is one audited change. Before is nil for a creation, After nil for a deletion.
type Entry struct {
	TenantID   uuid.UUID
	OccurredAt time.Time
	ActorType  string
	ActorID    string
	Action     string // e.g. invoice.created
	EntityType string
	EntityID   uuid.UUID
	Before     any
	After      any
	RequestID  string
}

// appendSQL advances the tenant's chain head and inserts the event in one statement.
// The UPDATE takes the head's row lock, serialising appends per tenant; under READ
// COMMITTED a waiting UPDATE re-reads the head's newest version before computing, so
// the chain never forks. Queue it last in a transaction to hold that lock briefly.
const appendSQL = `
WITH head AS (
    UPDATE audit_chain_heads
       SET seq = seq + 1,
           hash = sha256(hash || audit_content_hash($1, seq + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))
     WHERE tenant_id = $1
 RETURNING seq, hash
)
INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type,
                          entity_id, before, after, request_id, hash)
SELECT $1, head.seq, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, head.hash FROM head`

// Queue adds e to batch b; the batch's results must be drained (pgx does so on Close).
func Queue(b *pgx.Batch, e Entry) error {
	before, err := jsonOrNil(e.Before)
	if err != nil {
		return err
	}
	after, err := jsonOrNil(e.After)
	if err != nil {
		return err
	}
	var requestID *string
	if e.RequestID != "" {
		requestID = &e.RequestID
	}
	b.Queue(appendSQL, e.TenantID, uuid.Must(uuid.NewV7()), e.OccurredAt, e.ActorType, e.ActorID,
		e.Action, e.EntityType, e.EntityID, before, after, requestID).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("audit: tenant %s has no chain head", e.TenantID)
		}
		return nil
	})
	return nil
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: encode state: %w", err)
	}
	return b, nil
}

// Verification is the result of walking a tenant's chain.
type Verification struct {
	Events    int64  `json:"events"`
	Valid     bool   `json:"valid"`
	BrokenAt  *int64 `json:"broken_at,omitempty"` // first seq whose hash does not follow
	HeadSeq   int64  `json:"head_seq"`
	HeadMatch bool   `json:"head_matches"` // the head points at the last event
}

// Verify recomputes the chain of the transaction's tenant from the first event: each
// stored hash must equal sha256(previous hash || content digest recomputed from the
// stored columns), sequence numbers must be contiguous, and the head must point at the
// last event (so truncating the tail is detected too).
func Verify(ctx context.Context, tx pgx.Tx) (Verification, error) {
	rows, err := tx.Query(ctx, `
SELECT seq, hash,
       audit_content_hash(tenant_id, seq, id, occurred_at, actor_type, actor_id, action,
                          entity_type, entity_id, before, after, request_id)
  FROM audit_events
 WHERE tenant_id = current_tenant_id()
 ORDER BY seq`)
	if err != nil {
		return Verification{}, err
	}
	defer rows.Close()
	v := Verification{Valid: true}
	prev := make([]byte, sha256.Size)
	var seq int64
	var stored, content []byte
	for rows.Next() {
		if err := rows.Scan(&seq, &stored, &content); err != nil {
			return Verification{}, err
		}
		v.Events++
		want := sha256.Sum256(append(append([]byte{}, prev...), content...))
		if v.Valid && (seq != v.Events || string(want[:]) != string(stored)) {
			v.Valid = false
			s := seq
			v.BrokenAt = &s
		}
		prev = stored
	}
	if err := rows.Err(); err != nil {
		return Verification{}, err
	}
	var headHash []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = current_tenant_id()`).Scan(&v.HeadSeq, &headHash); err != nil {
		return Verification{}, err
	}
	v.HeadMatch = v.HeadSeq == v.Events && string(headHash) == string(prev)
	v.Valid = v.Valid && v.HeadMatch
	return v, nil
}

// Actor is who performs a mutation, in which tenant, for which request. Services take
// it from the handler so they never reach into HTTP.
type Actor struct {
	TenantID  uuid.UUID
	Type      string // user, api_client, agent, system
	ID        string
	RequestID string
	// TraceParent is the W3C trace context of the request, carried to its events.
	TraceParent string
}

// Record builds the entry for a change to one entity by a.
func (a Actor) Record(action, entityType string, entityID uuid.UUID, before, after any, at time.Time) Entry {
	return Entry{
		TenantID: a.TenantID, OccurredAt: at, ActorType: a.Type, ActorID: a.ID, Action: action,
		EntityType: entityType, EntityID: entityID, Before: before, After: after, RequestID: a.RequestID,
	}
}
