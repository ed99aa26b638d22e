// Package inboundpayments is the InboundPayments processor: banks and payment
// providers publish the payments they see to ledgerline-inbound-payments (the message
// schema is reconciliation.InboundPayment); each is recorded once and matched to open
// invoices.
package inboundpayments

import (
	"context"

	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/reconciliation"
)

func init() { platform.Event("InboundPayments", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := reconciliation.NewService(d.DB, d.Now)
	svc.Features = &features.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return func(ctx context.Context, m platform.Message) error {
		// A publisher that retries its publish sends the same event id under a new
		// message id.
		id := m.Attributes["event_id"]
		if id == "" {
			id = m.ID
		}
		out, err := svc.Receive(ctx, id, m.Data)
		if err != nil {
			return err
		}
		attrs := []any{"result", string(out.Result), "tenant_id", out.TenantID.String()}
		switch out.Result {
		case reconciliation.NoTenant:
			// Nothing can hold it under row-level security: this log line is its only record.
			d.Logger.ErrorContext(ctx, "inbound payment without a valid tenant dropped", append(attrs,
				"reason", out.Reason, "bytes", len(m.Data))...)
		case reconciliation.Refused:
			d.Logger.WarnContext(ctx, "inbound payment refused", append(attrs, "reason", out.Reason)...)
		default:
			d.Logger.InfoContext(ctx, "inbound payment processed", append(attrs, "payment_id", out.PaymentID.String())...)
		}
		return nil
	}
}
