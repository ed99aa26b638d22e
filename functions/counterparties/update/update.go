// Package update is the CounterpartiesUpdate function: PATCH /v1/counterparties/{id}.
package update

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("CounterpartiesUpdate", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &counterparties.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "counterparty")
		if err != nil {
			return err
		}
		version, err := httpx.IfMatch(r)
		if err != nil {
			return err
		}
		var in counterparties.UpdateInput
		if err := platform.Decode(r, &in); err != nil {
			return err
		}
		c, err := svc.Update(r.Context(), platform.Actor(r), id, version, in)
		if err != nil {
			return err
		}
		httpx.SetETag(w, c.Version)
		return httpx.JSON(w, http.StatusOK, c)
	})
}
