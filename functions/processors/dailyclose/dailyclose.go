// Package dailyclose is the DailyClose processor: on its daily schedule it asks every
// tenant's close, one message per tenant, so tenants close independently and in
// parallel, and one tenant's failure is retried without redoing the others. It connects
// as the relay role, which may list tenant ids and nothing more.
package dailyclose

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/civil"

	"github.com/ledgerline/ledgerline/shared/closing"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.Event("DailyClose", New) }

// Topic is where tenant closes are requested (the TenantClose processor's trigger).
const Topic = "ledgerline-tenant-close"

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := &closing.Service{DB: d.DB, Now: d.Now}
	return func(ctx context.Context, m platform.Message) error {
		if d.RawPublisher == nil {
			d.Logger.ErrorContext(ctx, "daily close has no publisher: set GOOGLE_CLOUD_PROJECT")
			return nil
		}
		// The close date is the tick's, not the processing time's, so a redelivered tick
		// asks for the same closes (which then run once).
		at := m.PublishTime
		if at.IsZero() {
			at = d.Now()
		}
		date := civil.DateOf(at.UTC())
		tenants, err := svc.Tenants(ctx)
		if err != nil {
			return err
		}
		for _, id := range tenants {
			body, _ := json.Marshal(closing.Request{TenantID: id, CloseDate: date})
			if _, err := d.RawPublisher.PublishRaw(ctx, Topic, events.RawMessage{
				Data: body, Attributes: map[string]string{"tenant_id": id.String(), "close_date": date.String()},
			}); err != nil {
				return fmt.Errorf("daily close: request for tenant %s: %w", id, err)
			}
		}
		d.Logger.InfoContext(ctx, "daily close requested", "tenants", len(tenants), "close_date", date.String())
		return nil
	}
}
