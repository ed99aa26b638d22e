// Package create is the InvoicesCreate function: POST /v1/invoices.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in invoices.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		inv, err := svc.Create(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/invoices/"+inv.ID.String())
		httpx.SetETag(w, inv.Version)
		return httpx.JSON(w, http.StatusCreated, inv)
	})
}
