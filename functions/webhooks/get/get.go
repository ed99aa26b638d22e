// Package get is the WebhookEndpointsGet function: GET /v1/webhook-endpoints/{id}.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

func init() { platform.HTTP("WebhookEndpointsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &webhooks.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "webhook_endpoint")
		if err != nil {
			return err
		}
		e, err := svc.Get(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		httpx.SetETag(w, e.Version)
		return httpx.JSON(w, http.StatusOK, e)
	})
}
