// Package put is the TenantFeaturesPut function: PUT /v1/tenant/features.
package put

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantFeaturesPut", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &features.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in features.PutInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		f, err := svc.Put(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, f.Version)
		return httpx.JSON(w, http.StatusOK, f)
	})
}
