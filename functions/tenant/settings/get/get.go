// Package get is the TenantSettingsGet function: GET /v1/tenant/settings.
package get

import (
	"net/http"
	"time"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/settings"
)

func init() { platform.HTTP("TenantSettingsGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &settings.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		var asOf *time.Time
		if s := q.String("as_of"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				q.Invalid("as_of", "must be a date-time (RFC 3339), e.g. 2026-01-31T00:00:00Z")
			}
			asOf = &t
		}
		if err := q.Err(); err != nil {
			return err
		}
		tenant := platform.Principal(r).TenantID
		var v settings.Version
		var err error
		if asOf == nil {
			v, err = svc.Current(r.Context(), tenant)
		} else {
			v, err = svc.At(r.Context(), tenant, *asOf)
		}
		if err != nil {
			return err
		}
		httpx.SetETag(w, v.Version)
		return httpx.JSON(w, http.StatusOK, v)
	})
}
