// Package usage is the AgentUsageGet function: GET /v1/agents/usage, a month of the
// tenant's AI agent runs, tokens and cost, per agent, against its monthly budget.
package usage

import (
	"net/http"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("AgentUsageGet", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &agents.Service{DB: d.DB, Cache: d.Cache, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		var month *agents.Month
		if s := q.String("month"); s != "" {
			m, err := agents.ParseMonth(s)
			if err != nil {
				q.Invalid("month", err.Error())
			}
			month = &m
		}
		if err := q.Err(); err != nil {
			return err
		}
		u, err := svc.Usage(r.Context(), platform.Principal(r).TenantID, month)
		if err != nil {
			return err
		}
		// The spend changes with every run: no cache may keep a stale copy.
		w.Header().Set("Cache-Control", "no-store")
		return httpx.JSON(w, http.StatusOK, u)
	})
}
