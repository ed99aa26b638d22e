package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/relay"
)

// rawRecorder remembers what it published, by topic.
type rawRecorder struct {
	mu  sync.Mutex
	got map[string][]events.RawMessage
}

func (r *rawRecorder) PublishRaw(_ context.Context, topic string, m events.RawMessage) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]events.RawMessage{}
	}
	r.got[topic] = append(r.got[topic], m)
	return uuid.NewString(), nil
}

// An event with a topic is work for a processor: the relay publishes its payload to
// that topic, with the tenant and event id as attributes, and never to the events
// topic; without a raw publisher it waits in the outbox for a relay that has one.
func TestEventsWithATopicArePublishedThere(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "Topics")
	entity := uuid.New()
	var evs []events.Event
	for seq := 1; seq <= 3; seq++ {
		e, err := events.New(tenant, "import.chunk", "import", entity, seq, map[string]int{"seq": seq}, "req-t", time.Now())
		require.NoError(t, err)
		e.Topic = "ledgerline-import-chunks"
		evs = append(evs, e)
	}
	require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		events.QueueMany(b, evs)
		return tx.SendBatch(ctx, b).Close()
	}))
	commit(t, d, tenant, "req-t", 1)

	pub := &recorder{}
	n, err := (&relay.Relay{DB: d.App, Publisher: pub}).PublishRequest(ctx, tenant, "req-t")
	require.Error(t, err, "no raw publisher")
	require.Equal(t, 1, n)
	require.Equal(t, 3, unpublished(t, d))

	raw := &rawRecorder{}
	n, err = (&relay.Relay{DB: relayDB(t, d), Publisher: pub, Raw: raw}).Sweep(ctx, 100, 0)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Zero(t, unpublished(t, d))
	require.Len(t, pub.published, 1, "only the domain event went to the events topic")
	msgs := raw.got["ledgerline-import-chunks"]
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		require.JSONEq(t, `{"seq":`+string(rune('1'+i))+`}`, string(m.Data))
		require.Equal(t, tenant.String(), m.Attributes[events.AttrTenantID])
		require.Equal(t, evs[i].ID.String(), m.Attributes[events.AttrEventID])
	}
}
