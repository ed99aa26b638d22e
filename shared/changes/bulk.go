package changes

import (
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/events"
)

// Len is the number of changes recorded.
func (l *Log) Len() int { return len(l.changes) }

// QueueMany is Queue for a transaction with many changes (an import chunk): the
// same outbox events and audit entries, written with one statement each instead of
// one per change, audit last. Each state is encoded once: the audit's after is the
// event's payload when the two are the same document.
func (l *Log) QueueMany(b *pgx.Batch) error {
	if len(l.changes) == 0 {
		return nil
	}
	evs := make([]events.Event, len(l.changes))
	entries := make([]audit.Entry, len(l.changes))
	for i, c := range l.changes {
		data := c.Data
		if data == nil {
			data = c.After
		}
		ev, err := events.New(l.actor.TenantID, c.Type, c.EntityType, c.EntityID, c.Version, data, l.actor.RequestID, l.at)
		if err != nil {
			return err
		}
		ev.TraceParent = l.actor.TraceParent
		evs[i] = ev
		after := c.After
		if c.Data == nil && c.After != nil {
			after = json.RawMessage(ev.Data)
		}
		entries[i] = l.actor.Record(c.Type, c.EntityType, c.EntityID, c.Before, after, l.at)
	}
	events.QueueMany(b, evs)
	return audit.QueueMany(b, entries)
}
