// Package create is the PaymentsCreate function: POST /v1/payments.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("PaymentsCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &payments.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in payments.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		p, err := svc.Create(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/payments/"+p.ID.String())
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusCreated, p)
	})
}
