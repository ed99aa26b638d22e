// Package webhooks delivers a tenant's domain events to the URLs it registers: the
// endpoint and delivery types and their validation (webhook.go, target.go, events.go,
// no I/O), signing (signature.go), secrets sealed at rest (secrets.go), the use cases
// (service.go), the dispatcher (dispatch.go) and the only SQL that touches them
// (store.go).
package webhooks

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// Status says whether an endpoint receives events.
type Status string

const (
	Enabled  Status = "enabled"
	Disabled Status = "disabled"
)

// Endpoint is a URL a tenant registered to receive its events. Its signing secret is
// not part of it: it is shown once, in CreatedEndpoint.
type Endpoint struct {
	ID            uuid.UUID `json:"id"`
	Object        string    `json:"object"`
	URL           string    `json:"url"`
	EnabledEvents []string  `json:"enabled_events"`
	Description   *string   `json:"description"`
	Status        Status    `json:"status"`
	Version       int       `json:"version"`
	CreatedAt     time.Time `json:"created_at"`
}

// CreatedEndpoint is the answer to a creation, the only one that carries the secret.
type CreatedEndpoint struct {
	Endpoint
	Secret string `json:"secret"`
}

// CreateInput is the body of POST /v1/webhook-endpoints.
type CreateInput struct {
	URL           string   `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
}

// MaxDescriptionLength bounds an endpoint's description, in characters.
const MaxDescriptionLength = 500

// Apply returns the endpoint in describes, or the 422 naming every invalid field;
// a URL of an internal host that allowPrivate does not admit is 422
// webhook_url_not_allowed. Identity, status, version and time are the caller's.
func (in CreateInput) Apply(allowPrivate bool) (Endpoint, error) {
	f := apperr.Fields{}
	refused := checkURL(in.URL, allowPrivate, f)
	if len(in.EnabledEvents) == 0 {
		f.Add("enabled_events", `must name at least one event type, or "*" for all`)
	}
	for i, t := range in.EnabledEvents {
		field := fmt.Sprintf("enabled_events[%d]", i)
		switch {
		case t == AllEvents && len(in.EnabledEvents) > 1:
			f.Add(field, `"*" already includes every event type; list it alone`)
		case t != AllEvents && !KnownEventType(t):
			f.Add(field, "is not a known event type")
		case slices.Index(in.EnabledEvents, t) < i:
			f.Add(field, "is listed twice")
		}
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > MaxDescriptionLength {
		f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	if err := f.Err(); err != nil {
		return Endpoint{}, err
	}
	if refused {
		e := apperr.New(apperr.Unprocessable, "webhook_url_not_allowed",
			"webhook URLs must not point at localhost or at loopback, private or link-local addresses")
		e.Fields = map[string]string{"url": "must be a public address"}
		return Endpoint{}, e
	}
	return Endpoint{URL: in.URL, EnabledEvents: slices.Clone(in.EnabledEvents), Description: in.Description}, nil
}

// DeliveryStatus is where the delivery of one event to one endpoint stands.
type DeliveryStatus string

const (
	// Pending: claimed, no attempt has finished yet.
	Pending DeliveryStatus = "pending"
	// Succeeded: the endpoint answered 2xx; the event is never sent to it again.
	Succeeded DeliveryStatus = "succeeded"
	// Failed: the last attempt failed; Pub/Sub redelivers the event with backoff until
	// it succeeds or the subscription dead-letters it.
	Failed DeliveryStatus = "failed"
)

// Delivery is the log of one event's delivery to one endpoint, over all its attempts.
type Delivery struct {
	ID             uuid.UUID      `json:"id"`
	Object         string         `json:"object"`
	EndpointID     uuid.UUID      `json:"endpoint_id"`
	EventID        uuid.UUID      `json:"event_id"`
	EventType      string         `json:"event_type"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	LastStatusCode *int           `json:"last_status_code"`
	LastError      *string        `json:"last_error"`
	LastAttemptAt  *time.Time     `json:"last_attempt_at"`
	DeliveredAt    *time.Time     `json:"delivered_at"`
	CreatedAt      time.Time      `json:"created_at"`
}
