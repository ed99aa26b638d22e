// Package list is the PaymentsList function: GET /v1/payments.
package list

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("PaymentsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &payments.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		f := payments.ListFilter{
			Direction:      httpx.Enum(q, "direction", payments.Direction.Valid, "must be incoming or outgoing"),
			Status:         httpx.Enum(q, "status", payments.Status.Valid, "must be posted or reversed"),
			CounterpartyID: q.UUID("counterparty_id"),
			Currency:       q.Currency("currency"),
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
