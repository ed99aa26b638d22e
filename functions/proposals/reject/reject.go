// Package reject is the ProposalsReject function: POST /v1/proposals/{id}/reject.
package reject

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("ProposalsReject", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, nil, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := proposals.CheckDecider(platform.Principal(r)); err != nil {
			return err
		}
		id, err := platform.PathID(r, "id", "proposal")
		if err != nil {
			return err
		}
		var in proposals.RejectInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		p, err := svc.Reject(r.Context(), platform.Actor(r), id, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusOK, p)
	})
}
