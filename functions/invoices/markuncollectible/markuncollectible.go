// Package markuncollectible is the InvoicesMarkUncollectible function: POST /v1/invoices/{id}/mark-uncollectible.
package markuncollectible

import (
	"bytes"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesMarkUncollectible", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
		if err != nil {
			return err
		}
		// The body, with its reason, is optional.
		var in invoices.ReasonInput
		if len(bytes.TrimSpace(platform.Body(r))) > 0 {
			if err := platform.Decode(r, &in); err != nil {
				return err
			}
		}
		inv, err := svc.MarkUncollectible(r.Context(), platform.Actor(r), id, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, inv.Version)
		return httpx.JSON(w, http.StatusOK, inv)
	})
}
