// Package create is the ApiClientsCreate function: POST /v1/api-clients.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apiclients"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ApiClientsCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &apiclients.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in apiclients.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		c, err := svc.Create(r.Context(), platform.Actor(r), platform.Principal(r), in)
		if err != nil {
			return err
		}
		// The secret is in this response only: nothing on the way may keep a copy.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", "/v1/api-clients/"+c.ID.String())
		httpx.SetETag(w, c.Version)
		return httpx.JSON(w, http.StatusCreated, c)
	})
}
