// Package get is the ApiClientsGet function: GET /v1/api-clients/{id}.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apiclients"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ApiClientsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &apiclients.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "api_client")
		if err != nil {
			return err
		}
		c, err := svc.Get(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		httpx.SetETag(w, c.Version)
		return httpx.JSON(w, http.StatusOK, c)
	})
}
