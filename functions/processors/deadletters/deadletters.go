// Package deadletters is the DeadLetters processor: it stores every message Pub/Sub
// dead-letters to ledgerline-dead-letters, for operators to inspect and replay. It
// connects as the ops database role.
package deadletters

import (
	"context"

	letters "github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.Event("DeadLetters", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := &letters.Service{DB: d.DB, Now: d.Now}
	return func(ctx context.Context, m platform.Message) error {
		dl, created, err := svc.Store(ctx, letters.Incoming{
			MessageID: m.ID, Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey,
		})
		if err != nil {
			// Redelivered: the dead-letter subscription has no dead-letter policy of
			// its own, so a store that keeps failing keeps the message on it.
			return err
		}
		if !created {
			return nil
		}
		lastError := ""
		if dl.LastError != nil {
			lastError = *dl.LastError
		}
		// An error: something could not be processed and someone has to look.
		d.Logger.ErrorContext(ctx, "message dead-lettered", "dead_letter_id", dl.ID.String(),
			"subscription", dl.Subscription, "last_error", lastError)
		return nil
	}
}
