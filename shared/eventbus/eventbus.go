// Package eventbus is the local stand-in for what Pub/Sub push subscriptions and
// Eventarc do in production: for every processor in the manifest it keeps a
// subscription on the processor's topic (on the in-process pstest server or the Pub/Sub
// emulator), delivers each message to the processor as a Pub/Sub CloudEvent over HTTP,
// redelivers with exponential backoff while the processor answers non-2xx, and after
// the last attempt forwards the message to the dead-letter topic with the attributes
// Pub/Sub's dead-lettering adds. It also stands in for Cloud Scheduler, publishing ticks
// to scheduled processors' topics. It is for the dev server and tests, never production.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// Options tune delivery; the zero value is usable.
type Options struct {
	Project         string        // default ledgerline-dev
	MaxAttempts     int           // deliveries before dead-lettering; default 5
	MinBackoff      time.Duration // default 100ms
	MaxBackoff      time.Duration // default 10s
	DeadLetterTopic string        // default ledgerline-dead-letters
	Logger          *slog.Logger
}

// Attributes Pub/Sub sets on a dead-lettered message, plus two of Ledgerline's own
// that only the local bus can know.
const (
	AttrDeadLetterSubscription  = "CloudPubSubDeadLetterSourceSubscription"
	AttrDeadLetterDeliveryCount = "CloudPubSubDeadLetterSourceDeliveryCount"
	AttrSourceTopic             = "ledgerline_source_topic"
	AttrLastError               = "ledgerline_last_error"
)

// Bus routes topics to processors.
type Bus struct {
	client *pubsub.Client
	opts   Options
	sender cloudevents.Client
	routes []route

	mu       sync.Mutex
	attempts map[string]int // per subscription and message id
}

type route struct {
	fn  manifest.Function
	sub string // full subscription name
	url string // where the processor receives CloudEvents
}

// New returns a bus over client.
func New(client *pubsub.Client, opts Options) (*Bus, error) {
	if opts.Project == "" {
		opts.Project = "ledgerline-dev"
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.DeadLetterTopic == "" {
		opts.DeadLetterTopic = "ledgerline-dead-letters"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sender, err := cloudevents.NewClientHTTP()
	if err != nil {
		return nil, err
	}
	return &Bus{client: client, opts: opts, sender: sender, attempts: map[string]int{}}, nil
}

// TopicName is the full name of topic id in the bus's project.
func (b *Bus) TopicName(id string) string { return "projects/" + b.opts.Project + "/topics/" + id }

// EnsureTopic creates topic id if it does not exist.
func (b *Bus) EnsureTopic(ctx context.Context, id string) error {
	_, err := b.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: b.TopicName(id)})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("eventbus: topic %s: %w", id, err)
	}
	return nil
}

// Route subscribes processor fn to its topic, delivering to url (the processor's
// CloudEvents endpoint).
func (b *Bus) Route(ctx context.Context, fn manifest.Function, url string) error {
	if err := b.EnsureTopic(ctx, fn.Topic); err != nil {
		return err
	}
	sub := "projects/" + b.opts.Project + "/subscriptions/" + fn.Name
	_, err := b.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: b.TopicName(fn.Topic), AckDeadlineSeconds: 60, EnableMessageOrdering: true,
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("eventbus: subscription %s: %w", fn.Name, err)
	}
	b.routes = append(b.routes, route{fn: fn, sub: sub, url: url})
	return nil
}

// Run delivers messages until ctx is done.
func (b *Bus) Run(ctx context.Context) error {
	if err := b.EnsureTopic(ctx, b.opts.DeadLetterTopic); err != nil {
		return err
	}
	errc := make(chan error, len(b.routes))
	for _, r := range b.routes {
		go func() {
			errc <- b.client.Subscriber(r.sub).Receive(ctx, func(ctx context.Context, m *pubsub.Message) { b.deliver(ctx, r, m) })
		}()
	}
	var errs []error
	for range b.routes {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Schedule publishes a tick to fn's topic every interval until ctx is done, as Cloud
// Scheduler does on fn.Schedule.
func (b *Bus) Schedule(ctx context.Context, fn manifest.Function, every time.Duration) {
	pub := b.client.Publisher(b.TopicName(fn.Topic))
	defer pub.Stop()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			_, _ = pub.Publish(ctx, &pubsub.Message{Data: []byte(`{"scheduled_at":"` + now.UTC().Format(time.RFC3339) + `"}`)}).Get(ctx)
		}
	}
}

func (b *Bus) deliver(ctx context.Context, r route, m *pubsub.Message) {
	key := r.sub + "/" + m.ID
	b.mu.Lock()
	b.attempts[key]++
	attempt := b.attempts[key]
	b.mu.Unlock()

	e, err := platform.PubSubEvent(b.opts.Project, r.fn.Topic, platform.Message{
		ID: m.ID, Data: m.Data, Attributes: m.Attributes, PublishTime: m.PublishTime,
		OrderingKey: m.OrderingKey, Subscription: r.sub, DeliveryAttempt: attempt,
	})
	if err == nil {
		res := b.sender.Send(cloudevents.ContextWithTarget(ctx, r.url), e)
		if cloudevents.IsACK(res) {
			b.forget(key)
			m.Ack()
			return
		}
		err = res
	}
	if ctx.Err() != nil {
		m.Nack()
		return
	}
	if attempt >= b.opts.MaxAttempts {
		b.deadLetter(ctx, r, m, attempt, err)
		b.forget(key)
		m.Ack()
		return
	}
	b.opts.Logger.WarnContext(ctx, "processor refused a message; redelivering", "function", r.fn.Name,
		"message_id", m.ID, "attempt", attempt, "error", err.Error())
	select {
	case <-time.After(b.backoff(attempt)):
	case <-ctx.Done():
	}
	m.Nack()
}

func (b *Bus) backoff(attempt int) time.Duration {
	d := b.opts.MinBackoff << (attempt - 1)
	if d > b.opts.MaxBackoff || d <= 0 {
		d = b.opts.MaxBackoff
	}
	return d
}

func (b *Bus) forget(key string) {
	b.mu.Lock()
	delete(b.attempts, key)
	b.mu.Unlock()
}

// deadLetter forwards the message as Pub/Sub's dead-letter policy would. The
// dead-letter subscription itself is never dead-lettered again: that would loop.
func (b *Bus) deadLetter(ctx context.Context, r route, m *pubsub.Message, attempts int, cause error) {
	if r.fn.Topic == b.opts.DeadLetterTopic {
		b.opts.Logger.ErrorContext(ctx, "dead letter could not be stored; dropped", "message_id", m.ID, "error", cause.Error())
		return
	}
	attrs := map[string]string{}
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[AttrDeadLetterSubscription] = r.sub
	attrs[AttrDeadLetterDeliveryCount] = strconv.Itoa(attempts)
	attrs[AttrSourceTopic] = r.fn.Topic
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	attrs[AttrLastError] = msg
	pub := b.client.Publisher(b.TopicName(b.opts.DeadLetterTopic))
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs}).Get(ctx); err != nil {
		b.opts.Logger.ErrorContext(ctx, "dead-lettering failed", "message_id", m.ID, "error", err.Error())
		return
	}
	b.opts.Logger.ErrorContext(ctx, "message dead-lettered", "function", r.fn.Name, "message_id", m.ID, "attempts", attempts)
}
