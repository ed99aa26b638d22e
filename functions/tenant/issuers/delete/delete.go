// Package delete is the TenantIssuersDelete function: DELETE /v1/tenant/issuers/{id}.
package delete

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("TenantIssuersDelete", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &issuers.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "trusted_issuer")
		if err != nil {
			return err
		}
		expected, err := httpx.OptionalIfMatch(r)
		if err != nil {
			return err
		}
		if err := svc.Delete(r.Context(), platform.Actor(r), id, expected); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
