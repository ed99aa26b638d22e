// Package deliveries is the WebhookDeliveriesList function:
// GET /v1/webhook-endpoints/{id}/deliveries.
package deliveries

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

func init() { platform.HTTP("WebhookDeliveriesList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &webhooks.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "webhook_endpoint")
		if err != nil {
			return err
		}
		q := httpx.NewQuery(r)
		p := q.Page()
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.ListDeliveries(r.Context(), platform.Principal(r).TenantID, id, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
