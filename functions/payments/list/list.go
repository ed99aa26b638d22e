// Package list is the PaymentsList function: GET /v1/payments.
package list

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("PaymentsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &payments.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		fields := apperr.Fields{}
		p := page.Parse(q, fields)
		var f payments.ListFilter
		if s := q.Get("direction"); s != "" {
			v := payments.Direction(s)
			if !v.Valid() {
				fields.Add("direction", "must be incoming or outgoing")
			}
			f.Direction = &v
		}
		if s := q.Get("status"); s != "" {
			v := payments.Status(s)
			if !v.Valid() {
				fields.Add("status", "must be posted or reversed")
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
