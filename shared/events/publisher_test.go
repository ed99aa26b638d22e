package events

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var _ Publisher = (*PubSubPublisher)(nil)

const (
	project     = "p"
	eventsTopic = "projects/p/topics/events"
)

func newPubSub(t *testing.T) (*pstest.Server, *pubsub.Client) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, project,
		option.WithEndpoint(srv.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	return srv, client
}

func createTopic(t *testing.T, client *pubsub.Client, name string) {
	t.Helper()
	_, err := client.TopicAdminClient.CreateTopic(context.Background(), &pubsubpb.Topic{Name: name})
	require.NoError(t, err)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustEvent(t *testing.T, tenant, entity uuid.UUID, typ string, version int) Event {
	t.Helper()
	e, err := New(tenant, typ, "invoice", entity, version, map[string]any{"version": version}, "req-"+strconv.Itoa(version), time.Now().UTC().Truncate(time.Microsecond))
	require.NoError(t, err)
	return e
}

func TestPubSubPublisher(t *testing.T) {
	srv, client := newPubSub(t)
	createTopic(t, client, eventsTopic)
	ctx := testCtx(t)

	for _, topic := range []string{"events", eventsTopic} {
		t.Run("topic "+topic, func(t *testing.T) {
			srv.ClearMessages()
			pub := NewPubSubPublisher(client, topic)
			t.Cleanup(pub.Stop)

			tenant, entity := uuid.New(), uuid.New()
			sent := []Event{
				mustEvent(t, tenant, entity, "invoice.created", 1),
				mustEvent(t, tenant, entity, "invoice.approved", 2),
			}
			// The second continues a request's trace: the context travels as an attribute.
			sent[1].TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			var ids []string
			for _, e := range sent {
				id, err := pub.Publish(ctx, e)
				require.NoError(t, err)
				require.NotEmpty(t, id)
				ids = append(ids, id)
			}

			msgs := srv.Messages()
			require.Len(t, msgs, len(sent))
			for i, m := range msgs {
				e := sent[i]
				require.Equal(t, ids[i], m.ID, "Publish returns the server's message id")
				require.Equal(t, eventsTopic, m.Topic)
				require.Equal(t, entity.String(), m.OrderingKey, "ordering key is the entity id")

				var got Event
				require.NoError(t, json.Unmarshal(m.Data, &got))
				require.JSONEq(t, string(e.Data), string(got.Data))
				got.Data = e.Data
				require.True(t, e.CreatedAt.Equal(got.CreatedAt))
				got.CreatedAt = e.CreatedAt
				got.TraceParent = m.Attributes["traceparent"]
				require.Equal(t, e, got, "message %d is event %d, in order", i, i)
				delete(m.Attributes, "traceparent")

				require.Equal(t, map[string]string{
					AttrEventID:       e.ID.String(),
					AttrEventType:     e.Type,
					AttrTenantID:      tenant.String(),
					AttrEntityType:    "invoice",
					AttrEntityID:      entity.String(),
					AttrEntityVersion: strconv.Itoa(e.EntityVersion),
				}, m.Attributes)
			}
		})
	}
}

func TestPubSubPublisherKeepsOrderPerEntity(t *testing.T) {
	srv, client := newPubSub(t)
	createTopic(t, client, eventsTopic)
	ctx := testCtx(t)
	pub := NewPubSubPublisher(client, "events")
	t.Cleanup(pub.Stop)

	tenant := uuid.New()
	a, b := uuid.New(), uuid.New()
	for v := 1; v <= 5; v++ {
		for _, entity := range []uuid.UUID{a, b} {
			_, err := pub.Publish(ctx, mustEvent(t, tenant, entity, "invoice.updated", v))
			require.NoError(t, err)
		}
	}

	versions := map[string][]string{}
	for _, m := range srv.Messages() {
		require.Equal(t, m.Attributes[AttrEntityID], m.OrderingKey)
		versions[m.OrderingKey] = append(versions[m.OrderingKey], m.Attributes[AttrEntityVersion])
	}
	want := []string{"1", "2", "3", "4", "5"}
	require.Equal(t, map[string][]string{a.String(): want, b.String(): want}, versions)
}

func TestPubSubPublisherMissingTopic(t *testing.T) {
	srv, client := newPubSub(t)
	createTopic(t, client, eventsTopic)
	ctx := testCtx(t)

	tenant, entity := uuid.New(), uuid.New()
	first := mustEvent(t, tenant, entity, "invoice.created", 1)

	missing := NewPubSubPublisher(client, "projects/p/topics/missing")
	t.Cleanup(missing.Stop)
	id, err := missing.Publish(ctx, first)
	require.ErrorContains(t, err, "events: publish "+first.ID.String())
	require.Empty(t, id)

	// Another topic's publisher is unaffected for the same key.
	good := NewPubSubPublisher(client, eventsTopic)
	t.Cleanup(good.Stop)
	_, err = good.Publish(ctx, first)
	require.NoError(t, err)

	// The failed key was resumed: once the topic exists, the retry for the same key on
	// the same publisher goes through instead of staying paused.
	createTopic(t, client, "projects/p/topics/missing")
	id, err = missing.Publish(ctx, first)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	second := mustEvent(t, tenant, entity, "invoice.approved", 2)
	_, err = missing.Publish(ctx, second)
	require.NoError(t, err)

	var onMissing []string
	for _, m := range srv.Messages() {
		if m.Topic == "projects/p/topics/missing" {
			onMissing = append(onMissing, m.Attributes[AttrEventID])
		}
	}
	require.Equal(t, []string{first.ID.String(), second.ID.String()}, onMissing)
}

func TestPubSubPublisherEncodeError(t *testing.T) {
	srv, client := newPubSub(t)
	createTopic(t, client, eventsTopic)
	pub := NewPubSubPublisher(client, "events")
	t.Cleanup(pub.Stop)

	e := mustEvent(t, uuid.New(), uuid.New(), "invoice.created", 1)
	e.Data = json.RawMessage(`{not json`)
	_, err := pub.Publish(testCtx(t), e)
	require.ErrorContains(t, err, "events: encode")
	require.Empty(t, srv.Messages(), "nothing is sent")
}
