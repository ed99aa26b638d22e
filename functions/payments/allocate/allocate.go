// Package allocate is the PaymentsAllocate function: POST /v1/payments/{id}/allocations.
package allocate

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("PaymentsAllocate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &payments.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "payment")
		if err != nil {
			return err
		}
		var in payments.AllocateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		p, err := svc.Allocate(r.Context(), platform.Actor(r), id, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusCreated, p)
	})
}
