// Package create is the TenantIssuersCreate function: POST /v1/tenant/issuers.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantIssuersCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &issuers.Service{DB: d.DB, Now: d.Now, AllowLoopback: d.Config.IssuerAllowLoopback}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in issuers.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		i, err := svc.Create(r.Context(), platform.Actor(r), platform.Principal(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/tenant/issuers/"+i.ID.String())
		httpx.SetETag(w, i.Version)
		return httpx.JSON(w, http.StatusCreated, i)
	})
}
