// Package cashforecast is the ReportsCashForecast function: GET /v1/reports/cash-forecast.
package cashforecast

import (
	"net/http"
	"strconv"

	"github.com/ledgerline/ledgerline/shared/forecast"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ReportsCashForecast", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &forecast.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := forecast.Params{AsOf: q.Date("as_of"), Currency: q.Currency("currency")}
		if s := q.String("weeks"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > forecast.MaxWeeks {
				q.Invalid("weeks", forecast.WeeksMessage)
			}
			p.Weeks = n
		}
		if e := q.Bool("explain"); e != nil {
			p.Explain = *e
		}
		if err := q.Err(); err != nil {
			return err
		}
		rep, err := svc.Report(r.Context(), platform.Principal(r).TenantID, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, rep)
	})
}
