package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var _ RawPublisher = (*PubSubRawPublisher)(nil)

func TestPubSubRawPublisher(t *testing.T) {
	srv, client := newPubSub(t)
	createTopic(t, client, eventsTopic)
	createTopic(t, client, "projects/p/topics/other")
	ctx := testCtx(t)
	pub := NewPubSubRawPublisher(client)
	t.Cleanup(pub.Stop)

	sent := []struct {
		topic string
		m     RawMessage
	}{
		{"events", RawMessage{Data: []byte(`{"a":1}`), Attributes: map[string]string{"event_id": "e1"}, OrderingKey: "k"}},
		{"projects/p/topics/other", RawMessage{Data: []byte("not json")}},
		{eventsTopic, RawMessage{Data: []byte(`{"a":2}`), OrderingKey: "k"}},
	}
	var ids []string
	for _, s := range sent {
		id, err := pub.PublishRaw(ctx, s.topic, s.m)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.Len(t, pub.pubs, 3, "one publisher per topic name, reused")

	msgs := srv.Messages()
	require.Len(t, msgs, 3)
	for i, m := range msgs {
		require.Equal(t, ids[i], m.ID)
		require.Equal(t, sent[i].m.Data, m.Data, "the bytes are sent as they are")
		require.Equal(t, sent[i].m.OrderingKey, m.OrderingKey)
		if sent[i].m.Attributes != nil {
			require.Equal(t, sent[i].m.Attributes, m.Attributes)
		}
	}
	require.Equal(t, "projects/p/topics/other", msgs[1].Topic)

	missing := "projects/p/topics/missing"
	_, err := pub.PublishRaw(ctx, missing, RawMessage{Data: []byte("x"), OrderingKey: "k"})
	require.ErrorContains(t, err, "events: publish to "+missing)
	// The key was resumed: once the topic exists the retry goes through.
	createTopic(t, client, missing)
	_, err = pub.PublishRaw(ctx, missing, RawMessage{Data: []byte("x"), OrderingKey: "k"})
	require.NoError(t, err)

	pub.Stop()
	require.Empty(t, pub.pubs)
}
