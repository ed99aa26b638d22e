// Package narrative is the AgentsForecastNarrative function: GET
// /v1/agents/forecast/narrative, the 13-week cash forecast with the forecasting
// agent's explanation of it. The explanation is shown only when every amount it cites
// is a figure of the forecast; when the agent cannot run (budget, feature off,
// provider down) or cites anything else, the forecast comes alone, with
// narrative: null and the reason.
package narrative

import (
	"net/http"
	"strconv"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/forecast"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AgentsForecastNarrative", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &forecast.Service{DB: d.DB, Now: d.Now}
	gw := d.Agents
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := forecast.Params{AsOf: q.Date("as_of"), Currency: q.Currency("currency"), Explain: true}
		if s := q.String("weeks"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > forecast.MaxWeeks {
				q.Invalid("weeks", forecast.WeeksMessage)
			}
			p.Weeks = n
		}
		if err := q.Err(); err != nil {
			return err
		}
		tenant := platform.Principal(r).TenantID
		rep, err := svc.Report(r.Context(), tenant, p)
		if err != nil {
			return err
		}
		n, err := agents.Narrate(r.Context(), gw, tenant, rep)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, n)
	})
}
