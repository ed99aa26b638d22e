package events

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
)

// RawMessage is a Pub/Sub message as it was received: bytes and attributes that are
// not a domain event of this service (a dead letter being replayed).
type RawMessage struct {
	Data        []byte
	Attributes  map[string]string
	OrderingKey string
}

// RawPublisher publishes prepared messages to any topic of the project.
type RawPublisher interface {
	PublishRaw(ctx context.Context, topic string, m RawMessage) (messageID string, err error)
}

// PubSubRawPublisher is the RawPublisher over a Pub/Sub client. Each topic's publisher
// is created on first use and kept: a publisher owns batching goroutines and a
// connection, too costly to build per message.
type PubSubRawPublisher struct {
	client *pubsub.Client
	mu     sync.Mutex
	pubs   map[string]*pubsub.Publisher
}

// NewPubSubRawPublisher publishes through client.
func NewPubSubRawPublisher(client *pubsub.Client) *PubSubRawPublisher {
	return &PubSubRawPublisher{client: client, pubs: map[string]*pubsub.Publisher{}}
}

func (p *PubSubRawPublisher) publisher(topic string) *pubsub.Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub, ok := p.pubs[topic]
	if !ok {
		pub = p.client.Publisher(topic)
		// Messages keep the ordering key they were received with, and Pub/Sub refuses
		// a keyed message from a publisher without ordering.
		pub.EnableMessageOrdering = true
		p.pubs[topic] = pub
	}
	return pub
}

// PublishRaw sends m to topic (an id or a full name) and waits for the server's
// acknowledgement. A failure pauses m's ordering key; it is resumed so that a retry
// can go through.
func (p *PubSubRawPublisher) PublishRaw(ctx context.Context, topic string, m RawMessage) (string, error) {
	pub := p.publisher(topic)
	id, err := pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey}).Get(ctx)
	if err != nil {
		if m.OrderingKey != "" {
			pub.ResumePublish(m.OrderingKey)
		}
		return "", fmt.Errorf("events: publish to %s: %w", topic, err)
	}
	return id, nil
}

// Stop flushes and stops every topic's publisher.
func (p *PubSubRawPublisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, pub := range p.pubs {
		pub.Stop()
		delete(p.pubs, topic)
	}
}
