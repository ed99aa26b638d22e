// Package delete is the InvoicesDelete function: DELETE /v1/invoices/{id}.
package delete

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesDelete", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
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
