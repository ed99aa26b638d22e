package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"cloud.google.com/go/pubsub/v2"
)

// Publisher sends events to a Pub/Sub topic.
type Publisher interface {
	Publish(ctx context.Context, e Event) (messageID string, err error)
}

// Attribute names every published event carries; consumers filter and dedupe on them
// without decoding the body.
const (
	AttrEventID       = "event_id"
	AttrEventType     = "event_type"
	AttrTenantID      = "tenant_id"
	AttrEntityType    = "entity_type"
	AttrEntityID      = "entity_id"
	AttrEntityVersion = "entity_version"
)

// PubSubPublisher publishes to one topic with message ordering by entity id.
type PubSubPublisher struct {
	pub *pubsub.Publisher
	mu  sync.Mutex // serialises ResumePublish with Publish for one key
}

// NewPubSubPublisher publishes to topic (an id or a full name) through client.
func NewPubSubPublisher(client *pubsub.Client, topic string) *PubSubPublisher {
	p := client.Publisher(topic)
	p.EnableMessageOrdering = true
	return &PubSubPublisher{pub: p}
}

// Publish sends e and waits for the server's acknowledgement. With ordering enabled, a
// failed publish pauses the key until resumed; Publish resumes it so the caller's
// retry (the outbox relay) can go through, keeping order because the relay retries
// the oldest unpublished event first.
func (p *PubSubPublisher) Publish(ctx context.Context, e Event) (string, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("events: encode: %w", err)
	}
	key := e.EntityID.String()
	msg := &pubsub.Message{
		Data:        body,
		OrderingKey: key,
		Attributes: map[string]string{
			AttrEventID:       e.ID.String(),
			AttrEventType:     e.Type,
			AttrTenantID:      e.TenantID.String(),
			AttrEntityType:    e.EntityType,
			AttrEntityID:      key,
			AttrEntityVersion: strconv.Itoa(e.EntityVersion),
		},
	}
	if e.TraceParent != "" {
		msg.Attributes["traceparent"] = e.TraceParent
	}
	res := p.pub.Publish(ctx, msg)
	id, err := res.Get(ctx)
	if err != nil {
		p.mu.Lock()
		p.pub.ResumePublish(key)
		p.mu.Unlock()
		return "", fmt.Errorf("events: publish %s: %w", e.ID, err)
	}
	return id, nil
}

// Stop flushes pending messages and stops the publisher's goroutines.
func (p *PubSubPublisher) Stop() { p.pub.Stop() }
