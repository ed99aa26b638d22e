// Package delete is the WebhookEndpointsDelete function: DELETE /v1/webhook-endpoints/{id}.
package delete

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

func init() { platform.HTTP("WebhookEndpointsDelete", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &webhooks.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "webhook_endpoint")
		if err != nil {
			return err
		}
		expected, err := httpx.OptionalIfMatch(r)
		if err != nil {
			return err
		}
		if err := svc.Delete(r.Context(), platform.Actor(r), id, expected); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
