// Package list is the ReconciliationSuggestionsList function: GET /v1/reconciliation/suggestions.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/reconciliation"
)

func init() { platform.HTTP("ReconciliationSuggestionsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := reconciliation.NewService(d.DB, d.Now)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		f := reconciliation.ListFilter{
			Status:    httpx.Enum(q, "status", reconciliation.Status.Valid, "must be pending, accepted, rejected or superseded"),
			PaymentID: q.UUID("payment_id"),
		}
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
