// Package list is the ImportsList function: GET /v1/imports, the tenant's imports,
// newest first.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ImportsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &imports.Service{DB: d.DB, Now: d.Now}
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
