// Package runs is the AgentRunsList function: GET /v1/agents/runs, the record of the
// tenant's AI agent runs, newest first, filtered by agent and outcome.
package runs

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AgentRunsList", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &agents.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		p := q.Page()
		f := agents.Filter{
			Agent:   httpx.Enum(q, "agent", agents.ValidName, "must be ap_extract, ar_collections or forecast_narrative"),
			Outcome: httpx.Enum(q, "outcome", agents.ValidOutcome, "must be succeeded, repaired, invalid_output, failed, over_budget or disabled"),
		}
		if err := q.Err(); err != nil {
			return err
		}
		l, err := svc.Runs(r.Context(), platform.Principal(r).TenantID, f, p)
		if err != nil {
			return err
		}
		return httpx.JSON(w, http.StatusOK, l)
	})
}
