// Package deadletters keeps the messages processors could not process: Pub/Sub's
// dead-letter policy forwards them to ledgerline-dead-letters after a subscription's
// last delivery attempt, the DeadLetters processor stores them here, and operators list
// them and replay them to the topic they came from. It also keeps every processor's
// delivery failures (FailureLog), because Pub/Sub forwards a dead letter without the
// error that killed it. Dead letters are platform data, read and written as the ops
// database role (types and use cases here, SQL in store.go).
package deadletters

import (
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Attributes of a dead-lettered message: Pub/Sub's, and two that only the local event
// bus can set (in production the source topic follows from the subscription and the
// error from FailureLog).
const (
	AttrSourceSubscription = "CloudPubSubDeadLetterSourceSubscription"
	AttrDeliveryCount      = "CloudPubSubDeadLetterSourceDeliveryCount"
	AttrSourceTopic        = "ledgerline_source_topic"
	AttrLastError          = "ledgerline_last_error"
	// Every attribute Pub/Sub adds when dead-lettering starts with this.
	deadLetterPrefix = "CloudPubSubDeadLetter"
)

// DeadLetter is one stored dead letter.
type DeadLetter struct {
	ID           uuid.UUID         `json:"id"`
	Object       string            `json:"object"`
	Subscription string            `json:"subscription"`
	SourceTopic  *string           `json:"source_topic"`
	MessageID    string            `json:"message_id"`
	Attributes   map[string]string `json:"attributes"`
	// Data is the payload as sent, base64 in JSON: it need not be JSON or even text.
	Data          []byte     `json:"data"`
	OrderingKey   *string    `json:"ordering_key"`
	DeliveryCount *int       `json:"delivery_count"`
	LastError     *string    `json:"last_error"`
	TenantID      *uuid.UUID `json:"tenant_id"`
	ReceivedAt    time.Time  `json:"received_at"`
	ReplayedAt    *time.Time `json:"replayed_at"`
	ReplayCount   int        `json:"replay_count"`
}

// Incoming is a message received on the dead-letter topic.
type Incoming struct {
	MessageID   string
	Data        []byte
	Attributes  map[string]string
	OrderingKey string
}

// Service is the dead-letter use cases. DB must connect as the ops role.
type Service struct {
	DB        *db.DB
	Publisher events.RawPublisher // nil: replay is unavailable
	Now       func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// failureRetention is how long delivery failures are kept: Pub/Sub retains an
// unacknowledged message at most 7 days, so an older failure belongs to no message that
// can still become a dead letter.
const failureRetention = 7 * 24 * time.Hour

// Store keeps in as a dead letter and reports whether it is new: a redelivery of the
// same dead letter (same message id) finds the first and stores nothing. Its last error
// is the newest failure FailureLog recorded for the message, else what the local bus
// attached.
func (s *Service) Store(ctx context.Context, in Incoming) (DeadLetter, bool, error) {
	attrs := in.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	data := in.Data
	if data == nil {
		data = []byte{}
	}
	dl := DeadLetter{
		ID: uuid.Must(uuid.NewV7()), Object: "dead_letter", Subscription: subscriptionID(attrs[AttrSourceSubscription]),
		SourceTopic: sourceTopic(attrs), MessageID: in.MessageID, Attributes: attrs, Data: data,
		ReceivedAt: s.now(),
	}
	if in.OrderingKey != "" {
		dl.OrderingKey = &in.OrderingKey
	}
	if n, err := strconv.Atoi(attrs[AttrDeliveryCount]); err == nil && n >= 1 {
		dl.DeliveryCount = &n
	}
	if id, err := uuid.Parse(attrs["tenant_id"]); err == nil {
		dl.TenantID = &id
	}
	digest := sha256.Sum256(data)
	var created bool
	err := pgx.BeginFunc(ctx, s.DB.Pool, func(tx pgx.Tx) error {
		var lastError *string
		b := &pgx.Batch{}
		queueLastFailure(b, dl.Subscription, in.MessageID, digest[:], &lastError)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		dl.LastError = lastError
		if dl.LastError == nil && attrs[AttrLastError] != "" {
			e := attrs[AttrLastError]
			dl.LastError = &e
		}
		b = &pgx.Batch{}
		queueInsert(b, dl, &created)
		queueForgetFailures(b, dl.Subscription, in.MessageID, digest[:], dl.ReceivedAt.Add(-failureRetention))
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return DeadLetter{}, false, db.Map(err)
	}
	return dl, created, nil
}

// subscriptionID is the last segment of a subscription's full name
// (projects/p/subscriptions/id): Pub/Sub and the local bus do not agree on which form
// the attribute carries, and the id alone is what operators filter by.
func subscriptionID(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

// sourceTopic is where a replay publishes: the topic the local bus names, else the
// trigger topic of the processor the subscription is named after (the local bus and
// the deployment name each processor's subscription after its entry point).
func sourceTopic(attrs map[string]string) *string {
	if t := attrs[AttrSourceTopic]; t != "" {
		return &t
	}
	sub := subscriptionID(attrs[AttrSourceSubscription])
	for _, f := range manifest.All() {
		if f.Kind == manifest.CloudEvent && strings.EqualFold(f.Name, sub) {
			t := f.Topic
			return &t
		}
	}
	return nil
}

// ListFilter narrows a list.
type ListFilter struct {
	Subscription *string // the subscription id
}

// List returns a page of dead letters, newest first.
func (s *Service) List(ctx context.Context, f ListFilter, p page.Params) (page.List[DeadLetter], error) {
	var rows []DeadLetter
	b := &pgx.Batch{}
	queueList(b, f, p, &rows)
	if err := s.DB.Pool.SendBatch(ctx, b).Close(); err != nil {
		return page.List[DeadLetter]{}, db.Map(err)
	}
	return page.Of(rows, p.Limit), nil
}

// Replay publishes the dead letter's payload, attributes and ordering key again to the
// topic it came from, then counts the replay. Every subscription of that topic receives
// it again; consumers deduplicate on the event id, so only the one that failed acts.
// The row stays locked while publishing, so two replays of one dead letter are
// sequential rather than interleaved.
func (s *Service) Replay(ctx context.Context, id uuid.UUID) (DeadLetter, error) {
	if s.Publisher == nil {
		return DeadLetter{}, apperr.New(apperr.Unavailable, "service_unavailable",
			"this instance has no Pub/Sub publisher (GOOGLE_CLOUD_PROJECT is not set), so nothing can be replayed")
	}
	var out DeadLetter
	err := pgx.BeginFunc(ctx, s.DB.Pool, func(tx pgx.Tx) error {
		var found bool
		b := &pgx.Batch{}
		queueGetForUpdate(b, id, &out, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("dead_letter")
		}
		if out.SourceTopic == nil {
			return apperr.New(apperr.Conflict, "dead_letter_source_unknown",
				"the topic this message came from is unknown (subscription "+strconv.Quote(out.Subscription)+"), so it cannot be replayed")
		}
		m := events.RawMessage{Data: out.Data, Attributes: replayAttributes(out.Attributes)}
		if out.OrderingKey != nil {
			m.OrderingKey = *out.OrderingKey
		}
		if _, err := s.Publisher.PublishRaw(ctx, *out.SourceTopic, m); err != nil {
			return apperr.Wrap(err, apperr.Unavailable, "service_unavailable", "the message could not be published; retry")
		}
		now := s.now()
		out.ReplayedAt, out.ReplayCount = &now, out.ReplayCount+1
		b = &pgx.Batch{}
		queueMarkReplayed(b, id, now)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return DeadLetter{}, db.Map(err)
	}
	return out, nil
}

// replayAttributes are the message's own attributes: what dead-lettering added goes,
// so that a replay that dies again is described afresh.
func replayAttributes(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if strings.HasPrefix(k, deadLetterPrefix) || k == AttrSourceTopic || k == AttrLastError {
			continue
		}
		out[k] = v
	}
	return out
}

// FailureLog records processors' delivery failures (platform.FailureRecorder). Every
// database role may append to it, so DB is whichever pool the processor has.
type FailureLog struct {
	DB *db.DB
}

// maxErrorLength bounds a stored error: it is for people, and a pathological one
// (a whole response body) must not bloat the table.
const maxErrorLength = 2000

// RecordFailure appends one failed delivery.
func (l *FailureLog) RecordFailure(ctx context.Context, function, subscription, messageID string, attempt int, data []byte, cause error) error {
	msg := strings.ReplaceAll(strings.ToValidUTF8(cause.Error(), "\uFFFD"), "\x00", "")
	if r := []rune(msg); len(r) > maxErrorLength {
		msg = string(r[:maxErrorLength])
	}
	digest := sha256.Sum256(data)
	return db.Map(insertFailure(ctx, l.DB, uuid.Must(uuid.NewV7()), function, subscriptionID(subscription),
		messageID, digest[:], attempt, msg))
}
