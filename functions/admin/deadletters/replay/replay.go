// Package replay is the AdminDeadLettersReplay function:
// POST /v1/admin/dead-letters/{id}/replay.
package replay

import (
	"bytes"
	"net/http"

	letters "github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AdminDeadLettersReplay", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &letters.Service{DB: d.DB, Publisher: d.RawPublisher, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "dead_letter")
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
		dl, err := svc.Replay(r.Context(), id)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, dl)
	})
}
