package webhooks

import "slices"

// AllEvents in enabled_events subscribes an endpoint to every event type, including
// types added after it was created.
const AllEvents = "*"

// eventTypes are the domain event types an endpoint may subscribe to by name: the
// changes.Change types the services write. A type missing here still reaches "*"
// endpoints, but cannot be named. The contract's WebhookEventType enum is checked
// against this list by the package tests.
var eventTypes = []string{
	"allocation.created",
	"allocation.reversed",
	"counterparty.created",
	"counterparty.deleted",
	"counterparty.updated",
	"credit_note.created",
	"invoice.allocated",
	"invoice.allocation_reversed",
	"invoice.created",
	"invoice.credited",
	"invoice.deleted",
	"invoice.finalized",
	"invoice.marked_uncollectible",
	"invoice.paid",
	"invoice.reopened",
	"invoice.updated",
	"invoice.voided",
	"payment.allocated",
	"payment.allocation_reversed",
	"payment.created",
	"payment.reversed",
	"webhook_endpoint.created",
	"webhook_endpoint.deleted",
}

// EventTypes lists the event types an endpoint may name, sorted.
func EventTypes() []string { return slices.Clone(eventTypes) }

// KnownEventType reports whether t may be named in enabled_events.
func KnownEventType(t string) bool {
	_, found := slices.BinarySearch(eventTypes, t)
	return found
}
