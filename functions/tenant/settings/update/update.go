// Package update is the TenantSettingsUpdate function: PATCH /v1/tenant/settings.
package update

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/settings"
)

func init() { platform.HTTP("TenantSettingsUpdate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &settings.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		version, err := httpx.IfMatch(r)
		if err != nil {
			return err
		}
		var in settings.UpdateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		v, err := svc.Update(r.Context(), platform.Actor(r), version, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, v.Version)
		return httpx.JSON(w, http.StatusOK, v)
	})
}
