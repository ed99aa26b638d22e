// Package reverse is the AllocationsReverse function:
// POST /v1/payments/{id}/allocations/{allocation_id}/reverse.
package reverse

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AllocationsReverse", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &payments.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		paymentID, err := platform.PathID(r, "id", "payment")
		if err != nil {
			return err
		}
		allocationID, err := platform.PathID(r, "allocation_id", "allocation")
		if err != nil {
			return err
		}
		var in payments.ReverseInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		p, err := svc.ReverseAllocation(r.Context(), platform.Actor(r), paymentID, allocationID, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusOK, p)
	})
}
