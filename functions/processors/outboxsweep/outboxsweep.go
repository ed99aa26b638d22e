// Package outboxsweep is the OutboxSweep processor: on every tick of its schedule it
// publishes the outbox events no request published, oldest first, across tenants. It
// connects as the relay database role.
package outboxsweep

import (
	"context"
	"time"

	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/relay"
)

func init() { platform.Event("OutboxSweep", New) }

const (
	batch = 500
	// budget keeps one sweep well inside the function's timeout; the next tick continues.
	budget = 45 * time.Second
	// minAge leaves fresh events to the request that committed them.
	minAge = 5 * time.Second
)

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	return func(ctx context.Context, _ platform.Message) error {
		if d.Publisher == nil {
			d.Logger.ErrorContext(ctx, "outbox sweep has no publisher: set GOOGLE_CLOUD_PROJECT and EVENTS_TOPIC")
			return nil
		}
		r := &relay.Relay{DB: d.DB, Publisher: d.Publisher, Raw: d.RawPublisher}
		deadline := time.Now().Add(budget)
		total := 0
		for time.Now().Before(deadline) {
			n, err := r.Sweep(ctx, batch, minAge)
			total += n
			if err != nil {
				// Acknowledge the tick anyway: the next one retries the same rows, so a
				// redelivery would only add load.
				d.Logger.WarnContext(ctx, "outbox sweep incomplete", "published", total, "error", err.Error())
				return nil
			}
			if n < batch {
				break
			}
		}
		if total > 0 {
			d.Logger.InfoContext(ctx, "outbox swept", "published", total)
		}
		return nil
	}
}
