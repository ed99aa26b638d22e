// Package collections is the AgentsARCollections function: POST
// /v1/agents/ar/collections, a run of the AR agent that drafts a collection message
// for each overdue customer. It answers 202 with the run: completed already when it
// had few enough customers to draft within the request, else running, drafted by the
// AgentRunsProcessor; GET /v1/agents/ar/collections/{id} follows it.
package collections

import (
	"bytes"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("AgentsARCollections", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, d.Agents, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		// The body, limiting the run to some customers, is optional.
		var in proposals.CollectionsInput
		if len(bytes.TrimSpace(platform.Body(r))) > 0 {
			if err := platform.Decode(r, &in); err != nil {
				return err
			}
		}
		run, err := svc.StartCollections(r.Context(), platform.Actor(r), in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/agents/ar/collections/"+run.ID.String())
		return httpx.JSON(w, http.StatusAccepted, run)
	})
}
