// Package versions is the TenantSettingsVersions function: GET /v1/tenant/settings/versions.
package versions

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/settings"
)

func init() { platform.HTTP("TenantSettingsVersions", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &settings.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.Versions(r.Context(), platform.Principal(r).TenantID, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
