// Package inboundinvoices is the InboundInvoices processor: it applies the invoices a
// tenant's upstream systems publish on ledgerline-inbound-invoices (one version of one
// document per message; see invoices.InboundMessage).
package inboundinvoices

import (
	"context"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

func init() { platform.Event(invoices.InboundConsumer, New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return func(ctx context.Context, m platform.Message) error {
		tenantID, ok := invoices.InboundTenant(m.Data)
		if !ok {
			// Without a tenant there is nowhere to record the message; redelivering
			// it would not find one either.
			d.Logger.ErrorContext(ctx, "inbound invoice without a valid tenant_id; dropped", "bytes", len(m.Data))
			return nil
		}
		key := m.Attributes[events.AttrEventID]
		if key == "" {
			key = m.ID
		}
		actor := audit.Actor{TenantID: tenantID, Type: "system", ID: invoices.InboundConsumer, RequestID: httpx.RequestID(ctx),
			TraceParent: tracing.TraceParent(ctx)}
		res, err := svc.ApplyInbound(ctx, actor, key, m.Data)
		if err != nil {
			return err
		}
		attrs := []any{"tenant_id", tenantID.String(), "outcome", string(res.Outcome)}
		if res.InvoiceID != uuid.Nil {
			attrs = append(attrs, "invoice_id", res.InvoiceID.String())
		}
		switch res.Outcome {
		case invoices.InboundUnknownTenant:
			d.Logger.ErrorContext(ctx, "inbound invoice for an unknown tenant; dropped", attrs...)
		case invoices.InboundRejected, invoices.InboundIgnored:
			d.Logger.WarnContext(ctx, "inbound invoice recorded, not applied", append(attrs, "reason", res.Reason)...)
		default:
			d.Logger.InfoContext(ctx, "inbound invoice processed", attrs...)
		}
		return nil
	}
}
