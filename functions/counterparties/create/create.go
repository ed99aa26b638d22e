// Package create is the CounterpartiesCreate function: POST /v1/counterparties.
package create

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("CounterpartiesCreate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &counterparties.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var in counterparties.CreateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		c, err := svc.Create(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/counterparties/"+c.ID.String())
		httpx.SetETag(w, c.Version)
		return httpx.JSON(w, http.StatusCreated, c)
	})
}
