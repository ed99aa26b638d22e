// Package approve is the ProposalsApprove function: POST /v1/proposals/{id}/approve.
// Approving carries the proposal out as the approver, through the same domain
// services as their own call would, in the transaction that records the decision.
package approve

import (
	"bytes"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("ProposalsApprove", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, nil, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		// An agent never decides, whatever roles its token also carries: refused
		// before anything is read.
		if err := proposals.CheckDecider(platform.Principal(r)); err != nil {
			return err
		}
		id, err := platform.PathID(r, "id", "proposal")
		if err != nil {
			return err
		}
		// The body, with a note and edits, is optional.
		var in proposals.ApproveInput
		if len(bytes.TrimSpace(platform.Body(r))) > 0 {
			if err := platform.Decode(r, &in); err != nil {
				return err
			}
		}
		p, err := svc.Approve(r.Context(), platform.Actor(r), id, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusOK, p)
	})
}
