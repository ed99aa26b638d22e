// Package get is the TenantIssuersGet function: GET /v1/tenant/issuers/{id}.
package get

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantIssuersGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &issuers.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "trusted_issuer")
		if err != nil {
			return err
		}
		i, err := svc.Get(r.Context(), platform.Principal(r).TenantID, id)
		if err != nil {
			return err
		}
		httpx.SetETag(w, i.Version)
		return httpx.JSON(w, http.StatusOK, i)
	})
}
