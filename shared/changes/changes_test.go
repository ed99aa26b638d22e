package changes

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/audit"
)

func TestQueueWritesEventsThenAudit(t *testing.T) {
	actor := audit.Actor{TenantID: uuid.New(), Type: "user", ID: "u1", RequestID: "r1"}
	l := New(actor, time.Now())
	id := uuid.New()
	l.Add(Change{Type: "thing.created", EntityType: "thing", EntityID: id, Version: 1, After: map[string]int{"n": 1}})
	l.Add(Change{Type: "thing.deleted", EntityType: "thing", EntityID: id, Version: 2, Before: map[string]int{"n": 1}, Data: map[string]int{"n": 1}})
	b := &pgx.Batch{}
	require.NoError(t, l.Queue(b))
	require.Len(t, b.QueuedQueries, 4)
	require.Contains(t, b.QueuedQueries[0].SQL, "INSERT INTO outbox_events")
	require.Contains(t, b.QueuedQueries[1].SQL, "INSERT INTO outbox_events")
	require.Contains(t, b.QueuedQueries[2].SQL, "audit_chain_heads")
	require.Contains(t, b.QueuedQueries[3].SQL, "audit_chain_heads")
	// The deletion publishes its last state even though its audit "after" is empty.
	require.JSONEq(t, `{"n":1}`, string(b.QueuedQueries[1].Arguments[6].([]byte)))
	require.Nil(t, b.QueuedQueries[3].Arguments[9])

	bad := New(actor, time.Now())
	bad.Add(Change{Type: "x", After: make(chan int)})
	require.Error(t, bad.Queue(&pgx.Batch{}))
}
