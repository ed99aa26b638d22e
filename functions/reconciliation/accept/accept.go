// Package accept is the ReconciliationSuggestionsAccept function: POST /v1/reconciliation/suggestions/{id}/accept.
package accept

import (
	"bytes"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/reconciliation"
)

func init() { platform.HTTP("ReconciliationSuggestionsAccept", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := reconciliation.NewService(d.DB, d.Now)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "suggestion")
		if err != nil {
			return err
		}
		// The body may be empty; when sent it must be an object without members.
		if len(bytes.TrimSpace(platform.Body(r))) > 0 {
			var none struct{}
			if err := platform.Decode(r, &none); err != nil {
				return err
			}
		}
		sg, err := svc.Accept(r.Context(), platform.Actor(r), id)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, sg)
	})
}
