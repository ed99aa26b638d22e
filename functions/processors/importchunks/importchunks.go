// Package importchunks is the ImportChunks processor: it applies one chunk of an
// import per message on ledgerline-import-chunks, in one transaction (see
// imports.Service.ApplyChunk). A chunk that fails is redelivered with backoff; at the
// subscription's last attempt it is recorded as dead-lettered on its import before
// Pub/Sub forwards the message to the dead-letter store.
package importchunks

import (
	"context"
	"time"

	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

func init() { platform.Event("ImportChunks", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := &imports.Service{DB: d.DB, Now: d.Now}
	maxAttempts := d.Config.PubSubMaxDeliveryAttempts
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	return func(ctx context.Context, m platform.Message) error {
		cm, err := imports.DecodeChunkMessage(m.Data)
		if err != nil {
			// No redelivery can make it readable, and it names no chunk to record on.
			d.Logger.ErrorContext(ctx, "import chunk message dropped", "error", err.Error())
			return nil
		}
		if t := m.Attributes[events.AttrTenantID]; t != "" && t != cm.TenantID.String() {
			d.Logger.ErrorContext(ctx, "import chunk message dropped: its tenant attribute and body disagree",
				"attribute", t, "body", cm.TenantID.String())
			return nil
		}
		attrs := []any{"tenant_id", cm.TenantID.String(), "import_id", cm.ImportID.String(), "seq", cm.Seq}
		res, err := svc.ApplyChunk(ctx, cm, httpx.RequestID(ctx), tracing.TraceParent(ctx))
		if err != nil {
			// The attempt's transaction rolled back; its failure is recorded in one of
			// its own, on a deadline of its own since the first may have run out.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			dead, rerr := svc.RecordChunkFailure(rctx, cm, m.DeliveryAttempt, maxAttempts, err)
			if rerr != nil {
				d.Logger.WarnContext(ctx, "import chunk failure not recorded", append(attrs, "error", rerr.Error())...)
			}
			if dead {
				d.Logger.ErrorContext(ctx, "import chunk dead-lettered", append(attrs, "error", err.Error())...)
			}
			return err
		}
		switch res.Outcome {
		case imports.ChunkUnknown:
			d.Logger.ErrorContext(ctx, "import chunk message for no chunk; dropped", attrs...)
		case imports.ChunkDuplicate:
			d.Logger.InfoContext(ctx, "import chunk applied before; nothing to do", attrs...)
		default:
			d.Logger.InfoContext(ctx, "import chunk applied", append(attrs, "created", res.Created, "updated", res.Updated,
				"unchanged", res.Unchanged, "rows_failed", res.RowsFailed)...)
		}
		return nil
	}
}
