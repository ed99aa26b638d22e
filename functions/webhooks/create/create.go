// Package create is the WebhookEndpointsCreate function: POST /v1/webhook-endpoints.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/webhooks"
)

func init() { platform.HTTP("WebhookEndpointsCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &webhooks.Service{
		DB: d.DB, Now: d.Now,
		Secrets:             webhooks.NewSealer(d.Config.WebhookSecretKey),
		AllowPrivateTargets: d.Config.WebhookAllowPrivateTargets,
	}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in webhooks.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		e, err := svc.Create(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/webhook-endpoints/"+e.ID.String())
		httpx.SetETag(w, e.Version)
		return httpx.JSON(w, http.StatusCreated, e)
	})
}
