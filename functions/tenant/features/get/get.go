// Package get is the TenantFeaturesGet function: GET /v1/tenant/features.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantFeaturesGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &features.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		f, err := svc.Get(r.Context(), platform.Principal(r).TenantID)
		if err != nil {
			return err
		}
		httpx.SetETag(w, f.Version)
		return httpx.JSON(w, http.StatusOK, f)
	})
}
