package deadletters

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestSubscriptionID(t *testing.T) {
	for in, want := range map[string]string{
		"projects/p/subscriptions/InboundInvoices": "InboundInvoices",
		"InboundInvoices":                          "InboundInvoices",
		"":                                         "",
	} {
		require.Equal(t, want, subscriptionID(in), in)
	}
}

func TestSourceTopic(t *testing.T) {
	topic := func(attrs map[string]string) string {
		if t := sourceTopic(attrs); t != nil {
			return *t
		}
		return "<nil>"
	}
	require.Equal(t, "ledgerline-events", topic(map[string]string{AttrSourceTopic: "ledgerline-events",
		AttrSourceSubscription: "projects/p/subscriptions/InboundInvoices"}), "the local bus knows best")
	require.Equal(t, "ledgerline-inbound-invoices", topic(map[string]string{AttrSourceSubscription: "projects/p/subscriptions/inboundinvoices"}))
	require.Equal(t, "<nil>", topic(map[string]string{AttrSourceSubscription: "projects/p/subscriptions/AdminDeadLettersList"}),
		"an HTTP function has no topic")
	require.Equal(t, "<nil>", topic(map[string]string{}))
}

func TestReplayAttributes(t *testing.T) {
	require.Equal(t, map[string]string{"event_id": "e", "tenant_id": "t"}, replayAttributes(map[string]string{
		"event_id": "e", "tenant_id": "t", AttrSourceSubscription: "s", AttrDeliveryCount: "5",
		"CloudPubSubDeadLetterSourceTopicPublishTime": "x", "CloudPubSubDeadLetterSourceSubscriptionProject": "p",
		AttrSourceTopic: "topic", AttrLastError: "boom",
	}))
}

func TestFailureLogBoundsWhatItStores(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	ops, err := db.OpenURL(ctx, d.URLs.Ops, 2)
	require.NoError(t, err)
	t.Cleanup(ops.Close)

	log := &FailureLog{DB: d.App}
	long := "bad\x00 \xff" + strings.Repeat("é", 3000)
	require.NoError(t, log.RecordFailure(ctx, "Proc", "projects/p/subscriptions/Proc", "m-1", 2, nil, errors.New(long)))

	var subscription, stored string
	var attempt int
	require.NoError(t, ops.Pool.QueryRow(ctx, `SELECT subscription, attempt, error FROM message_failures WHERE message_id = 'm-1'`).
		Scan(&subscription, &attempt, &stored))
	require.Equal(t, "Proc", subscription)
	require.Equal(t, 2, attempt)
	require.Len(t, []rune(stored), maxErrorLength)
	require.True(t, strings.HasPrefix(stored, "bad \uFFFDé"), "text PostgreSQL can store")

	// The application role may append failures and nothing else.
	_, err = d.App.Pool.Exec(ctx, `SELECT count(*) FROM message_failures`)
	require.ErrorContains(t, err, "permission denied")
}
