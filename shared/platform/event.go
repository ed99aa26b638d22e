package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/logging"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

// Message is a Pub/Sub message as a processor sees it.
type Message struct {
	ID              string
	Data            []byte
	Attributes      map[string]string
	PublishTime     time.Time
	OrderingKey     string
	Subscription    string
	DeliveryAttempt int
}

// EventHandler processes one message. Returning nil acknowledges it; returning an error
// asks for redelivery with backoff, so it is only for transient failures: a message
// that can never succeed (poison) is recorded by the handler and acknowledged.
type EventHandler func(ctx context.Context, m Message) error

// EventConstructor builds a processor from the instance's dependencies; like
// Constructor it must be cheap and do no I/O.
type EventConstructor func(d *Deps) EventHandler

var eventRegistry = map[string]EventConstructor{}

// Event registers the Pub/Sub-triggered function name (its manifest entry point). It
// accepts the Eventarc CloudEvent (google.cloud.pubsub.topic.v1.messagePublished) and,
// through the functions framework's conversion, the raw Pub/Sub push body.
func Event(name string, ctor EventConstructor) {
	fn, ok := manifest.Lookup(name)
	if !ok || fn.Kind != manifest.CloudEvent {
		panic(fmt.Sprintf("platform: %s is not a CloudEvent function in the manifest", name))
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := eventRegistry[name]; dup {
		panic(fmt.Sprintf("platform: %s registered twice", name))
	}
	eventRegistry[name] = ctor
	var mu sync.Mutex
	var h EventFunc
	functions.CloudEvent(name, func(ctx context.Context, e cloudevents.Event) error {
		mu.Lock()
		if h == nil {
			d, err := instance.get(ctx)
			if err != nil {
				mu.Unlock()
				// Transient: the push is retried with backoff until the instance recovers.
				return fmt.Errorf("dependencies unavailable: %w", err)
			}
			h = WrapEvent(fn, ctor(d), d)
		}
		mu.Unlock()
		return h(ctx, e)
	})
}

// EventFunc is a registered processor over explicit dependencies, taking CloudEvents.
type EventFunc func(ctx context.Context, e cloudevents.Event) error

// EventProcessor builds the named processor over d (the dev server and tests).
func EventProcessor(name string, d *Deps) (EventFunc, error) {
	regMu.Lock()
	ctor, ok := eventRegistry[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("platform: %s is not a registered processor", name)
	}
	fn, _ := manifest.Lookup(name)
	d = d.forFunction(fn.DBRole())
	return WrapEvent(fn, ctor(d), d), nil
}

// RegisteredEvents lists the registered processors.
func RegisteredEvents() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(eventRegistry))
	for n := range eventRegistry {
		names = append(names, n)
	}
	return names
}

// pushEnvelope is the data of a Pub/Sub CloudEvent, the same shape as a push body.
type pushEnvelope struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
		OrderingKey string            `json:"orderingKey"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// WrapEvent decodes the CloudEvent into a Message, logs with the message id and trace,
// and turns a panic into an error (redelivery) rather than a crashed instance.
func WrapEvent(fn manifest.Function, h EventHandler, d *Deps) EventFunc {
	return func(ctx context.Context, e cloudevents.Event) (err error) {
		start := time.Now()
		var env pushEnvelope
		if jerr := json.Unmarshal(e.Data(), &env); jerr != nil {
			// An envelope that is not a Pub/Sub message can never be processed:
			// acknowledge it, loudly.
			d.Logger.ErrorContext(ctx, "undecodable event", "function", fn.Name, "event_id", e.ID(), "error", jerr.Error())
			return nil
		}
		m := Message{
			ID: env.Message.MessageID, Data: env.Message.Data, Attributes: env.Message.Attributes,
			PublishTime: env.Message.PublishTime, OrderingKey: env.Message.OrderingKey,
			Subscription: env.Subscription, DeliveryAttempt: env.DeliveryAttempt,
		}
		if m.ID == "" {
			m.ID = e.ID()
		}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		// Continue the trace of the request that published the event.
		ctx = tracing.Extract(ctx, m.Attributes)
		ctx, span := tracing.Tracer().Start(ctx, fn.Name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "gcp_pubsub"),
				attribute.String("messaging.message.id", m.ID)))
		defer span.End()
		ctx = httpx.WithRequestID(ctx, "msg-"+m.ID)
		ctx = logging.WithAttrs(ctx, slog.String("function", fn.Name), slog.String("message_id", m.ID),
			slog.String("event_id", m.Attributes["event_id"]))
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic: %v", v)
			}
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
				d.Logger.ErrorContext(ctx, "message not processed; it will be redelivered", "error", err.Error(),
					"latency_ms", time.Since(start).Milliseconds())
				recordFailure(ctx, d, fn.Name, m, err)
			}
		}()
		return h(ctx, m)
	}
}

// FailureRecorder keeps the error of a message a processor gave back. Pub/Sub forwards
// a dead letter without it, so this record is the only place its cause survives.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, function, subscription, messageID string, attempt int, data []byte, cause error) error
}

// recordFailure is best effort: the redelivery happens whether or not it is recorded.
// It runs on its own deadline, since the failure may have been the request's running out.
func recordFailure(ctx context.Context, d *Deps, function string, m Message, cause error) {
	if d.Failures == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.Failures.RecordFailure(ctx, function, m.Subscription, m.ID, m.DeliveryAttempt, m.Data, cause); err != nil {
		d.Logger.WarnContext(ctx, "message failure not recorded", "error", err.Error())
	}
}

// PubSubEvent builds the CloudEvent Eventarc delivers for m published on topic; the dev
// server's bus and tests deliver messages through it, exactly as production receives them.
func PubSubEvent(project, topic string, m Message) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(m.ID)
	e.SetSource("//pubsub.googleapis.com/projects/" + project + "/topics/" + topic)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	if m.PublishTime.IsZero() {
		m.PublishTime = time.Now().UTC()
	}
	e.SetTime(m.PublishTime)
	var env pushEnvelope
	env.Message.Data, env.Message.Attributes, env.Message.MessageID = m.Data, m.Attributes, m.ID
	env.Message.PublishTime, env.Message.OrderingKey = m.PublishTime, m.OrderingKey
	env.Subscription, env.DeliveryAttempt = m.Subscription, m.DeliveryAttempt
	if err := e.SetData(cloudevents.ApplicationJSON, env); err != nil {
		return cloudevents.Event{}, err
	}
	return e, nil
}

// EventHTTPHandler serves the named processor as a CloudEvents HTTP endpoint, as the
// functions framework does in production (2xx acknowledges, anything else asks for
// redelivery). The dev server mounts processors with it.
func EventHTTPHandler(ctx context.Context, name string, d *Deps) (http.Handler, error) {
	fn, err := EventProcessor(name, d)
	if err != nil {
		return nil, err
	}
	p, err := cloudevents.NewHTTP()
	if err != nil {
		return nil, err
	}
	return cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, e cloudevents.Event) error { return fn(ctx, e) })
}
