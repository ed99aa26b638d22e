// Package list is the TenantIssuersList function: GET /v1/tenant/issuers.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantIssuersList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &issuers.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.List(r.Context(), platform.Principal(r).TenantID, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
