// Package list is the AdminDeadLettersList function: GET /v1/admin/dead-letters.
package list

import (
	"net/http"

	letters "github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AdminDeadLettersList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &letters.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		var f letters.ListFilter
		if s := r.URL.Query().Get("subscription"); s != "" {
			f.Subscription = &s
		}
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.List(r.Context(), f, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
