// Package update is the InvoicesUpdate function: PATCH /v1/invoices/{id}.
package update

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesUpdate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
		if err != nil {
			return err
		}
		version, err := httpx.IfMatch(r)
		if err != nil {
			return err
		}
		var in invoices.UpdateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		inv, err := svc.Update(r.Context(), platform.Actor(r), id, version, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, inv.Version)
		return httpx.JSON(w, http.StatusOK, inv)
	})
}
