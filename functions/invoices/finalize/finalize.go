// Package finalize is the InvoicesFinalize function: POST /v1/invoices/{id}/finalize.
package finalize

import (
	"bytes"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesFinalize", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
		if err != nil {
			return err
		}
		// The body may be empty; when sent it must be an object without members.
		if len(bytes.TrimSpace(platform.Body(r))) > 0 {
			var none struct{}
			if err := platform.Decode(r, &none); err != nil {
				return err
			}
		}
		inv, err := svc.Finalize(r.Context(), platform.Actor(r), id)
		if err != nil {
			return err
		}
		httpx.SetETag(w, inv.Version)
		return httpx.JSON(w, http.StatusOK, inv)
	})
}
