// Package tenantclose is the TenantClose processor: one tenant's daily close (overdue
// marking and dunning proposals), run once per tenant and date.
package tenantclose

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/closing"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

func init() { platform.Event("TenantClose", New) }

// New builds the processor over the instance's dependencies.
func New(d *platform.Deps) platform.EventHandler {
	svc := &closing.Service{DB: d.DB, Now: d.Now}
	return func(ctx context.Context, m platform.Message) error {
		var req closing.Request
		if err := json.Unmarshal(m.Data, &req); err != nil || req.TenantID == uuid.Nil || req.CloseDate.IsZero() {
			d.Logger.ErrorContext(ctx, "undecodable close request; acknowledged", "data", string(m.Data))
			return nil
		}
		actor := audit.Actor{TenantID: req.TenantID, Type: "system", ID: closing.Consumer,
			RequestID: httpx.RequestID(ctx), TraceParent: tracing.TraceParent(ctx)}
		res, err := svc.Close(ctx, actor, req.CloseDate)
		if err != nil {
			return err
		}
		d.Logger.InfoContext(ctx, "tenant closed", "tenant_id", req.TenantID.String(), "close_date", req.CloseDate.String(),
			"already_closed", res.AlreadyClosed, "overdue", res.Overdue, "proposals", res.Proposals, "aging_snapshots", res.Snapshots)
		return nil
	}
}
