// Package export is the InvoicesExport function: GET /v1/exports/invoices, every
// invoice an InvoicesList filter selects as one CSV or XLSX download.
package export

import (
	"net/http"

	"cloud.google.com/go/civil"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

func init() { platform.HTTP("InvoicesExport", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		// CSV unless asked otherwise: the format every consumer reads.
		format := tabular.CSV
		if f := httpx.Enum(q, "format", tabular.Format.Valid, "must be csv or xlsx"); f != nil {
			format = *f
		}
		filter := invoices.ParseListFilter(q)
		if err := q.Err(); err != nil {
			return err
		}
		name := "invoices-" + civil.DateOf(d.Now().UTC()).String()
		out, err := tabular.NewWriter(w, format, name, invoices.ExportColumns)
		if err != nil {
			return err
		}
		err = svc.Export(r.Context(), platform.Principal(r).TenantID, filter, func(row invoices.ExportRow) error {
			return out.WriteRow(invoices.ExportCells(row)...)
		})
		if err == nil {
			err = out.Close()
		}
		if err != nil {
			// A problem response while nothing was sent; a broken transfer after.
			return out.Abort(r.Context(), err)
		}
		return nil
	})
}
