// Package get is the ImportsGet function: GET /v1/imports/{id}, an import's status,
// progress and counts.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ImportsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &imports.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "import")
		if err != nil {
			return err
		}
		imp, err := svc.Get(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		// Progress changes while the import runs: no cache may keep a stale copy.
		w.Header().Set("Cache-Control", "no-store")
		return httpx.JSON(w, http.StatusOK, imp)
	})
}
