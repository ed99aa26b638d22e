// Package delete is the ApiClientsDelete function: DELETE /v1/api-clients/{id}.
package delete

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apiclients"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ApiClientsDelete", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &apiclients.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "api_client")
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
