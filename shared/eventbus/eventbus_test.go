package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ledgerline/ledgerline/shared/eventbus"
	"github.com/ledgerline/ledgerline/shared/manifest"
)

type envelope struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

func newBus(t *testing.T) (*eventbus.Bus, *pubsub.Client) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	client, err := pubsub.NewClient(context.Background(), "ledgerline-dev", option.WithEndpoint(srv.Addr),
		option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	return busOver(t, client), client
}

func busOver(t *testing.T, client *pubsub.Client) *eventbus.Bus {
	bus, err := eventbus.New(client, eventbus.Options{MaxAttempts: 3, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return bus
}

// receiver is a CloudEvents endpoint that fails the first `failures` deliveries.
func receiver(t *testing.T, failures int32, got chan<- envelope) string {
	var calls atomic.Int32
	p, err := cloudevents.NewHTTP()
	require.NoError(t, err)
	h, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p, func(ctx context.Context, e cloudevents.Event) error {
		var env envelope
		require.NoError(t, json.Unmarshal(e.Data(), &env))
		require.Equal(t, "google.cloud.pubsub.topic.v1.messagePublished", e.Type())
		got <- env
		if calls.Add(1) <= failures {
			return errors.New("not yet")
		}
		return nil
	})
	require.NoError(t, err)
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func TestDeliversRetriesAndDeadLetters(t *testing.T) {
	bus, client := newBus(t)
	deliverRetryAndDeadLetter(t, bus, client)
}

func deliverRetryAndDeadLetter(t *testing.T, bus *eventbus.Bus, client *pubsub.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	okCh, flakyCh, deadCh := make(chan envelope, 10), make(chan envelope, 10), make(chan envelope, 10)
	ok := manifest.Function{Name: "OkProcessor", Kind: manifest.CloudEvent, Topic: "t-ok"}
	flaky := manifest.Function{Name: "FlakyProcessor", Kind: manifest.CloudEvent, Topic: "t-flaky"}
	dead := manifest.Function{Name: "DeadLetterProcessor", Kind: manifest.CloudEvent, Topic: "ledgerline-dead-letters"}
	require.NoError(t, bus.Route(ctx, ok, receiver(t, 1, okCh)))
	require.NoError(t, bus.Route(ctx, flaky, receiver(t, 100, flakyCh)))
	require.NoError(t, bus.Route(ctx, dead, receiver(t, 0, deadCh)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = bus.Run(ctx) }()

	publish := func(topic string, data string) {
		_, err := client.Publisher(bus.TopicName(topic)).Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: map[string]string{"k": "v"}}).Get(ctx)
		require.NoError(t, err)
	}
	publish("t-ok", "hello")
	first, second := <-okCh, <-okCh
	require.Equal(t, "hello", string(first.Message.Data))
	require.Equal(t, 1, first.DeliveryAttempt)
	require.Equal(t, 2, second.DeliveryAttempt, "redelivered after a refusal")
	require.Equal(t, first.Message.MessageID, second.Message.MessageID)
	require.Contains(t, first.Subscription, "/subscriptions/OkProcessor")

	publish("t-flaky", "poison")
	for i := 1; i <= 3; i++ {
		require.Equal(t, i, (<-flakyCh).DeliveryAttempt)
	}
	dl := <-deadCh
	require.Equal(t, "poison", string(dl.Message.Data))
	require.Equal(t, "v", dl.Message.Attributes["k"], "original attributes are kept")
	require.Equal(t, "3", dl.Message.Attributes[eventbus.AttrDeadLetterDeliveryCount])
	require.Equal(t, "t-flaky", dl.Message.Attributes[eventbus.AttrSourceTopic])
	require.Contains(t, dl.Message.Attributes[eventbus.AttrDeadLetterSubscription], "/subscriptions/FlakyProcessor")
	require.NotEmpty(t, dl.Message.Attributes[eventbus.AttrLastError])
	select {
	case e := <-flakyCh:
		t.Fatalf("delivered after dead-lettering: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	wg.Wait()
}

func TestScheduleTicks(t *testing.T) {
	bus, _ := newBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan envelope, 10)
	fn := manifest.Function{Name: "TickProcessor", Kind: manifest.CloudEvent, Topic: "t-tick"}
	require.NoError(t, bus.Route(ctx, fn, receiver(t, 0, ticks)))
	go func() { _ = bus.Run(ctx) }()
	go bus.Schedule(ctx, fn, 20*time.Millisecond)
	for i := 0; i < 2; i++ {
		select {
		case e := <-ticks:
			require.Contains(t, string(e.Message.Data), "scheduled_at")
		case <-time.After(5 * time.Second):
			t.Fatal("no tick")
		}
	}
}
