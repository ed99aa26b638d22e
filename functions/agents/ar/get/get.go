// Package get is the AgentsARCollectionsGet function: GET
// /v1/agents/ar/collections/{id}, an AR run with the outcome of each customer.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("AgentsARCollectionsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, nil, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "collections_run")
		if err != nil {
			return err
		}
		run, err := svc.GetRun(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, run)
	})
}
