// Package agentruns is the AgentRunsProcessor: it drafts one customer's collection
// message of an AR run per message on ledgerline-agent-runs (see
// proposals.Service.DraftItem). A redelivered message finds its item done and does
// nothing; an agent that stays unavailable is retried with backoff, and at the
// subscription's last attempt the customer is skipped with the reason rather than left
// pending.
package agentruns

import (
	"context"

	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

func init() { platform.Event("AgentRunsProcessor", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := proposals.New(d.DB, d.Now, d.Agents, d.Cache)
	maxAttempts := d.Config.PubSubMaxDeliveryAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	return func(ctx context.Context, m platform.Message) error {
		rm, err := proposals.DecodeRunMessage(m.Data)
		if err != nil {
			// No redelivery can make it readable, and it names no item to record on.
			d.Logger.ErrorContext(ctx, "agent run message dropped", "error", err.Error())
			return nil
		}
		if t := m.Attributes[events.AttrTenantID]; t != "" && t != rm.TenantID.String() {
			d.Logger.ErrorContext(ctx, "agent run message dropped: its tenant attribute and body disagree",
				"attribute", t, "body", rm.TenantID.String())
			return nil
		}
		attrs := []any{"tenant_id", rm.TenantID.String(), "run_id", rm.RunID.String(), "seq", rm.Seq}
		attempt := m.DeliveryAttempt
		if attempt < 1 {
			attempt = 1
		}
		outcome, err := svc.DraftItem(ctx, rm, attempt, maxAttempts, httpx.RequestID(ctx), tracing.TraceParent(ctx))
		if err != nil {
			return err
		}
		switch outcome {
		case proposals.OutcomeUnknown:
			d.Logger.ErrorContext(ctx, "agent run message for no item; dropped", attrs...)
		case proposals.OutcomeDuplicate:
			d.Logger.InfoContext(ctx, "agent run item done before; nothing to do", attrs...)
		default:
			d.Logger.InfoContext(ctx, "agent run item drafted", attrs...)
		}
		return nil
	}
}
