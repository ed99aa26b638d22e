// Package aging is the ReportsAging function: GET /v1/reports/aging.
package aging

import (
	"net/http"

	"cloud.google.com/go/civil"

	"github.com/ledgerline/ledgerline/shared/aging"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

func init() { platform.HTTP("ReportsAging", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &aging.Service{DB: d.DB}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := aging.Params{
			Direction:      aging.Receivable,
			AsOf:           civil.DateOf(d.Now().UTC()),
			Basis:          aging.DueDate,
			CounterpartyID: q.UUID("counterparty_id"),
			Currency:       q.Currency("currency"),
		}
		if v := httpx.Enum(q, "direction", aging.Direction.Valid, "must be receivable or payable"); v != nil {
			p.Direction = *v
		}
		if v := httpx.Enum(q, "basis", aging.Basis.Valid, "must be due_date or issue_date"); v != nil {
			p.Basis = *v
		}
		if v := q.Date("as_of"); v != nil {
			p.AsOf = *v
		}
		if s := q.String("buckets"); s != "" {
			edges, problem := aging.ParseEdges(s)
			if problem != "" {
				q.Invalid("buckets", problem)
			}
			p.Edges = edges
		}
		format := "json"
		if s := q.String("format"); s != "" && s != "json" {
			f, ok := tabular.ParseFormat(s)
			if !ok {
				q.Invalid("format", "must be json, csv or xlsx")
			}
			format = string(f)
		}
		if err := q.Err(); err != nil {
			return err
		}
		rep, err := svc.Report(r.Context(), platform.Principal(r).TenantID, p)
		if err != nil {
			return err
		}
		if format == "json" {
			// Streamed: a 20,000-line report is 5 MB, never held whole.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			// A write error means the client went away; there is no one to tell.
			_ = rep.WriteJSON(w)
			return nil
		}
		return aging.WriteTable(w, tabular.Format(format), rep)
	})
}
