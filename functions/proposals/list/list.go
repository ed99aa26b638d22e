// Package list is the ProposalsList function: GET /v1/proposals, what the agents
// proposed, newest first, filtered by kind, status or AR run.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("ProposalsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, nil, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		f := proposals.ListFilter{
			Kind:            httpx.Enum(q, "kind", proposals.Kind.Valid, "must be bill, collection_message, allocation or write_off"),
			Status:          httpx.Enum(q, "status", proposals.Status.Valid, "must be pending, approved, rejected or failed"),
			CollectionRunID: q.UUID("collection_run_id"),
		}
		p := q.Page()
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.List(r.Context(), platform.Principal(r).TenantID, f, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
