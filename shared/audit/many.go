package audit

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// appendManySQL appends a batch of events in one statement. It locks the tenant's
// chain head (FOR UPDATE, which under READ COMMITTED waits for a concurrent append
// and then reads its result, like appendSQL's UPDATE), numbers the entries after it,
// and chains them with the running aggregate audit_chain seeded with the head's hash:
// row n's hash is sha256(hash(n-1) || audit_content_hash(row n)), exactly what the
// one-by-one append computes and Verify recomputes. The head then points at the last.
const appendManySQL = `
WITH head AS (
    SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = $1 FOR UPDATE
), entry AS (
    SELECT t.n, head.seq + t.n AS seq, t.id, t.occurred_at, t.actor_type, t.actor_id, t.action, t.entity_type,
           t.entity_id, t.before, t.after, t.request_id
      FROM head, unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[],
                        $9::jsonb[], $10::jsonb[], $11::text[])
                 WITH ORDINALITY AS t(id, occurred_at, actor_type, actor_id, action, entity_type, entity_id, before,
                                      after, request_id, n)
), chain AS (
    SELECT c.n, audit_chain(c.content) OVER (ORDER BY c.n) AS hash
      FROM (SELECT 0::bigint AS n, head.hash AS content FROM head
            UNION ALL
            SELECT e.n, audit_content_hash($1, e.seq, e.id, e.occurred_at, e.actor_type, e.actor_id, e.action,
                                           e.entity_type, e.entity_id, e.before, e.after, e.request_id)
              FROM entry e) c
), inserted AS (
    INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type,
                              entity_id, before, after, request_id, hash)
    SELECT $1, e.seq, e.id, e.occurred_at, e.actor_type, e.actor_id, e.action, e.entity_type, e.entity_id,
           e.before, e.after, e.request_id, chain.hash
      FROM entry e JOIN chain ON chain.n = e.n
    RETURNING seq, hash
)
UPDATE audit_chain_heads h
   SET seq = last.seq, hash = last.hash
  FROM (SELECT seq, hash FROM inserted ORDER BY seq DESC LIMIT 1) last
 WHERE h.tenant_id = $1`

// QueueMany adds the append of entries, in order, to batch b as one statement: the
// bulk form of Queue for a transaction that audits many changes (an import chunk).
// Every entry must be of one tenant. Like Queue, queue it last in the transaction.
func QueueMany(b *pgx.Batch, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	tenant := entries[0].TenantID
	n := len(entries)
	ids := make([]uuid.UUID, n)
	at := make([]time.Time, n)
	actorTypes, actorIDs, actions, entityTypes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	entityIDs := make([]uuid.UUID, n)
	befores, afters := make([]*string, n), make([]*string, n)
	requestIDs := make([]*string, n)
	for i, e := range entries {
		if e.TenantID != tenant {
			return fmt.Errorf("audit: one batch holds entries of tenants %s and %s", tenant, e.TenantID)
		}
		before, err := jsonOrNil(e.Before)
		if err != nil {
			return err
		}
		after, err := jsonOrNil(e.After)
		if err != nil {
			return err
		}
		ids[i], at[i], actorTypes[i], actorIDs[i] = uuid.Must(uuid.NewV7()), e.OccurredAt, e.ActorType, e.ActorID
		actions[i], entityTypes[i], entityIDs[i] = e.Action, e.EntityType, e.EntityID
		befores[i], afters[i] = text(before), text(after)
		if e.RequestID != "" {
			r := e.RequestID
			requestIDs[i] = &r
		}
	}
	b.Queue(appendManySQL, tenant, ids, at, actorTypes, actorIDs, actions, entityTypes, entityIDs, befores, afters,
		requestIDs).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("audit: tenant %s has no chain head", tenant)
		}
		return nil
	})
	return nil
}

// text passes JSON as text, which the statement casts to jsonb, so nil stays NULL.
func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
