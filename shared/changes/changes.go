// Package changes records what a mutation did, in the two forms Ledgerline keeps, from
// one description: an outbox event for the systems around it and an audit entry for
// people. Services describe each change once and queue both in the mutation's own
// transaction, so neither can be forgotten.
package changes

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/events"
)

// Change is one entity's change.
type Change struct {
	Type       string // event type and audit action, e.g. invoice.paid
	EntityType string
	EntityID   uuid.UUID
	Version    int // the entity's version after the change
	Before     any // nil for a creation
	After      any // nil for a deletion
	Data       any // the event payload when it is not After (a deletion publishes Before)
}

// Log collects the changes of one transaction.
type Log struct {
	actor   audit.Actor
	at      time.Time
	changes []Change
}

// New starts the log of a transaction by actor at time at.
func New(actor audit.Actor, at time.Time) *Log { return &Log{actor: actor, at: at} }

// Add records c.
func (l *Log) Add(c Change) { l.changes = append(l.changes, c) }

// Queue adds the outbox inserts, then the audit appends, to b. Audit goes last because
// appending locks the tenant's chain head until commit.
func (l *Log) Queue(b *pgx.Batch) error {
	for _, c := range l.changes {
		data := c.Data
		if data == nil {
			data = c.After
		}
		ev, err := events.New(l.actor.TenantID, c.Type, c.EntityType, c.EntityID, c.Version, data, l.actor.RequestID, l.at)
		if err != nil {
			return err
		}
		ev.TraceParent = l.actor.TraceParent
		events.Queue(b, ev)
	}
	for _, c := range l.changes {
		if err := audit.Queue(b, l.actor.Record(c.Type, c.EntityType, c.EntityID, c.Before, c.After, l.at)); err != nil {
			return err
		}
	}
	return nil
}
