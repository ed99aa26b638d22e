// Package get is the ProposalsGet function: GET /v1/proposals/{id}.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("ProposalsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, nil, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "proposal")
		if err != nil {
			return err
		}
		p, err := svc.Get(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusOK, p)
	})
}
