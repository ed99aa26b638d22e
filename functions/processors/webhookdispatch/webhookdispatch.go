// Package webhookdispatch is the WebhookDispatch processor: every domain event on the
// events topic is POSTed, signed, to the tenant's enabled endpoints subscribed to its
// type. An endpoint that fails makes the processor nack the event, so Pub/Sub
// redelivers it with backoff until the endpoint succeeds or the dead-letter policy
// gives up; endpoints already reached are not sent it again.
package webhookdispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

func init() { platform.Event("WebhookDispatch", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	dispatcher := &webhooks.Dispatcher{
		DB: d.DB, Now: d.Now,
		Secrets:  webhooks.NewSealer(d.Config.WebhookSecretKey),
		Client:   webhooks.NewClient(d.Config.WebhookAllowPrivateTargets),
		Features: &features.Service{DB: d.DB, Cache: d.Cache, Now: d.Now},
	}
	return func(ctx context.Context, m platform.Message) error {
		e, err := decode(m)
		if err != nil {
			// No redelivery can make the message readable.
			d.Logger.ErrorContext(ctx, "event acknowledged without webhook delivery", "error", err.Error())
			return nil
		}
		out, err := dispatcher.Dispatch(ctx, e)
		if errors.Is(err, webhooks.ErrUnknownTenant) {
			d.Logger.ErrorContext(ctx, "event acknowledged without webhook delivery", "error", err.Error(),
				"tenant_id", e.TenantID.String())
			return nil
		}
		if err != nil {
			return err
		}
		if out.Disabled {
			d.Logger.InfoContext(ctx, "webhooks off for the tenant; event not delivered", "event_type", e.Type,
				"tenant_id", e.TenantID.String())
		}
		if out.Endpoints > 0 {
			d.Logger.InfoContext(ctx, "webhooks delivered", "event_type", e.Type, "delivered", out.Delivered,
				"already_delivered", out.Skipped)
		}
		return nil
	}
}

// decode reads the published event. The tenant must be named the same way by the
// attributes and the body, so a message cannot borrow another tenant's endpoints.
func decode(m platform.Message) (events.Event, error) {
	var e events.Event
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return events.Event{}, fmt.Errorf("undecodable event body: %w", err)
	}
	tenant, err := uuid.Parse(m.Attributes[events.AttrTenantID])
	if err != nil {
		return events.Event{}, fmt.Errorf("the %s attribute %q is not an id", events.AttrTenantID, m.Attributes[events.AttrTenantID])
	}
	if e.TenantID != tenant {
		return events.Event{}, fmt.Errorf("the body's tenant %s is not the attribute's %s", e.TenantID, tenant)
	}
	if id := m.Attributes[events.AttrEventID]; id != "" && id != e.ID.String() {
		return events.Event{}, fmt.Errorf("the body's event id %s is not the attribute's %s", e.ID, id)
	}
	if e.ID == uuid.Nil || e.Type == "" {
		return events.Event{}, errors.New("the event has no id or no type")
	}
	return e, nil
}
