// Package create is the CreditNotesCreate function: POST /v1/invoices/{id}/credit-notes.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("CreditNotesCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
		if err != nil {
			return err
		}
		var in invoices.CreditNoteInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		cn, err := svc.CreateCreditNote(r.Context(), platform.Actor(r), id, in)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusCreated, cn)
	})
}
