// Package list is the InvoicesList function: GET /v1/invoices.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		f := invoices.ListFilter{
			Direction:      httpx.Enum(q, "direction", invoices.Direction.Valid, "must be receivable or payable"),
			Status:         httpx.Enum(q, "status", invoices.Status.Valid, "must be draft, open, paid, void or uncollectible"),
			CounterpartyID: q.UUID("counterparty_id"),
			Currency:       q.Currency("currency"),
			DueBefore:      q.Date("due_before"),
			DueAfter:       q.Date("due_after"),
			IssuedFrom:     q.Date("issued_from"),
			IssuedTo:       q.Date("issued_to"),
			Overdue:        q.Bool("overdue"),
			Sort:           invoices.SortCreated,
		}
		if s := httpx.Enum(q, "sort", invoices.Sort.Valid, "must be created or due_date"); s != nil {
			f.Sort = *s
		}
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.List(r.Context(), platform.Principal(r).TenantID, f, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
