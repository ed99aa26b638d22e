// Package list is the CreditNotesList function: GET /v1/invoices/{id}/credit-notes.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("CreditNotesList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "invoice")
		if err != nil {
			return err
		}
		q := httpx.NewQuery(r)
		p := q.Page()
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.ListCreditNotes(r.Context(), platform.Principal(r).TenantID, id, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
