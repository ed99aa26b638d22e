// Package list is the InvoicesList function: GET /v1/invoices.
package list

import (
	"net/http"
	"net/url"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("InvoicesList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &invoices.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		fields := apperr.Fields{}
		p := page.Parse(q, fields)
		var f invoices.ListFilter
		if s := q.Get("direction"); s != "" {
			v := invoices.Direction(s)
			if !v.Valid() {
				fields.Add("direction", "must be receivable or payable")
			}
			f.Direction = &v
		}
		if s := q.Get("status"); s != "" {
			v := invoices.Status(s)
			if !v.Valid() {
				fields.Add("status", "must be draft, open, paid, void or uncollectible")
			}
			f.Status = &v
		}
		if s := q.Get("counterparty_id"); s != "" {
			id, err := uuid.Parse(s)
			if err != nil {
				fields.Add("counterparty_id", "must be an id")
			}
			f.CounterpartyID = &id
		}
		if s := q.Get("currency"); s != "" {
			if !money.ValidCurrency(s) {
				fields.Add("currency", "must be an active ISO 4217 code in upper case")
			}
			f.Currency = &s
		}
		f.DueBefore = dateParam(q, "due_before", fields)
		f.DueAfter = dateParam(q, "due_after", fields)
		f.IssuedFrom = dateParam(q, "issued_from", fields)
		f.IssuedTo = dateParam(q, "issued_to", fields)
		switch s := q.Get("overdue"); s {
		case "":
		case "true", "false":
			v := s == "true"
			f.Overdue = &v
		default:
			fields.Add("overdue", "must be true or false")
		}
		f.Sort = invoices.SortCreated
		if s := q.Get("sort"); s != "" {
			f.Sort = invoices.Sort(s)
			if !f.Sort.Valid() {
				fields.Add("sort", "must be created or due_date")
			}
		}
		if err := fields.ParamErr(); err != nil {
			return err
		}
		l, err := svc.List(r.Context(), platform.Principal(r).TenantID, f, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}

func dateParam(q url.Values, name string, fields apperr.Fields) *civil.Date {
	s := q.Get(name)
	if s == "" {
		return nil
	}
	d, err := civil.ParseDate(s)
	if err != nil {
		fields.Add(name, "must be a date (YYYY-MM-DD)")
	}
	return &d
}
