package functions_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/settings"
)

type agentRun struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Agent         string  `json:"agent"`
	Provider      string  `json:"provider"`
	Model         string  `json:"model"`
	PromptVersion string  `json:"prompt_version"`
	CacheHit      bool    `json:"cache_hit"`
	Outcome       string  `json:"outcome"`
	Error         *string `json:"error"`
	Attempts      int     `json:"attempts"`
	TokensIn      int64   `json:"tokens_in"`
	CostMicros    int64   `json:"cost_micros"`
	CreatedAt     string  `json:"created_at"`
}

type agentRunList struct {
	Object  string     `json:"object"`
	Data    []agentRun `json:"data"`
	HasMore bool       `json:"has_more"`
}

type agentUsageCounts struct {
	Agent     string           `json:"agent"`
	Runs      int64            `json:"runs"`
	CacheHits int64            `json:"cache_hits"`
	Outcomes  map[string]int64 `json:"outcomes"`
}

type agentUsage struct {
	Object          string             `json:"object"`
	Month           string             `json:"month"`
	Currency        string             `json:"currency"`
	BudgetMinor     int64              `json:"budget_minor"`
	SpentMicros     int64              `json:"spent_micros"`
	RemainingMinor  int64              `json:"remaining_minor"`
	BudgetExhausted bool               `json:"budget_exhausted"`
	Totals          agentUsageCounts   `json:"totals"`
	Agents          []agentUsageCounts `json:"agents"`
}

// agentsAtWork gives a tenant a record of agent runs, made through the gateway as the
// workflows make them: three AR messages (one a repeat, served from the cache), a
// bill extraction, one refused for the budget (a paid provider with a budget of 0),
// and one refused with the agents feature off.
func agentsAtWork(t *testing.T, s *apitest.Server, tenant uuid.UUID, admin string) {
	t.Helper()
	ctx := context.Background()
	putFeatures(t, s, admin, map[string]bool{"agents": true})
	// Outputs are cached; flags and settings are read from the database, as the
	// functions here write them without a cache.
	gw := &agents.Service{DB: s.DB.App, Cache: cache.NewMemory(100), CacheTTL: time.Hour, Now: time.Now,
		Features: &features.Service{DB: s.DB.App, Now: time.Now}, Settings: &settings.Service{DB: s.DB.App, Now: time.Now},
		Providers: map[agents.Name]agents.Provider{
			// Never called: the tenant's budget is 0.
			agents.ForecastNarrator: agents.NewGemini(agents.GeminiOptions{Model: "gemini-2.5-flash", APIKey: "k", BaseURL: "http://127.0.0.1:1"}),
		}}
	message := func(number string) agents.ARCollectionsInput {
		return agents.ARCollectionsInput{CounterpartyID: uuid.New(), CounterpartyName: "Umbrella Retail", Currency: "USD",
			OverdueMinor: 500000, OldestDaysLate: 9, Stage: agents.StageReminder,
			Invoices: []agents.OverdueInvoice{{ID: uuid.New(), Number: number, DueDate: civil.Date{Year: 2026, Month: 3, Day: 31}, AmountDueMinor: 500000}}}
	}
	first := message("INV-1")
	for _, in := range []agents.ARCollectionsInput{first, message("INV-2"), first} {
		_, err := gw.Run(ctx, tenant, agents.ARCollections, in, new(agents.CollectionMessage))
		require.NoError(t, err)
	}
	_, err := gw.Run(ctx, tenant, agents.APExtract, agents.APExtractInput{Text: "Acme Ltd\nInvoice No: A-1\nDate: 2026-05-02\nTotal due 120.00 USD"}, new(agents.APExtraction))
	require.NoError(t, err)
	_, err = gw.Run(ctx, tenant, agents.ForecastNarrator, agents.ForecastNarrativeInput{Forecast: map[string]any{"forecasts": []any{}}}, new(agents.ForecastNarrative))
	require.True(t, agents.IsUnavailable(err))
	putFeatures(t, s, admin, map[string]bool{"agents": false})
	_, err = gw.Run(ctx, tenant, agents.APExtract, agents.APExtractInput{Text: "Acme Ltd"}, new(agents.APExtraction))
	require.True(t, agents.IsUnavailable(err))
}

func listAgentRuns(t *testing.T, s *apitest.Server, token, query string) agentRunList {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/runs" + query, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l agentRunList
	resp.JSON(t, &l)
	return l
}

func TestAgentRunsList(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, admin := s.Tenant(t, "Agents")
	agentsAtWork(t, s, tenant, admin)
	accountant := s.Token(t, tenant, auth.RoleAccountant)

	all := listAgentRuns(t, s, accountant, "")
	require.Equal(t, "list", all.Object)
	require.Len(t, all.Data, 6)
	require.False(t, all.HasMore)
	newest := all.Data[0]
	require.Equal(t, "agent_run", newest.Object)
	require.Equal(t, "ap_extract", newest.Agent)
	require.Equal(t, "disabled", newest.Outcome)
	require.Contains(t, *newest.Error, "agents_disabled")
	require.Equal(t, "over_budget", all.Data[1].Outcome)
	require.Equal(t, "gemini", all.Data[1].Provider)
	require.Zero(t, all.Data[1].Attempts)
	require.True(t, all.Data[3].CacheHit, "the repeated message")
	require.Equal(t, "succeeded", all.Data[3].Outcome)
	require.Equal(t, agents.BuiltinModel, all.Data[3].Model)
	require.Equal(t, "ar_collections.v1", all.Data[3].PromptVersion)
	for i := 1; i < len(all.Data); i++ {
		require.Greater(t, all.Data[i-1].ID, all.Data[i].ID, "newest first")
	}

	ar := listAgentRuns(t, s, accountant, "?agent=ar_collections")
	require.Len(t, ar.Data, 3)
	for _, r := range ar.Data {
		require.Equal(t, "ar_collections", r.Agent)
	}
	refused := listAgentRuns(t, s, accountant, "?outcome=over_budget")
	require.Len(t, refused.Data, 1)
	require.Equal(t, "forecast_narrative", refused.Data[0].Agent)

	// Pages follow the cursor without gaps or repeats.
	var seen []string
	query := "?limit=4"
	for {
		p := listAgentRuns(t, s, accountant, query)
		for _, r := range p.Data {
			seen = append(seen, r.ID)
		}
		if !p.HasMore {
			break
		}
		query = "?limit=4&starting_after=" + p.Data[len(p.Data)-1].ID
	}
	require.Len(t, seen, 6)
	for i, r := range all.Data {
		require.Equal(t, r.ID, seen[i])
	}

	// Invalid filters name themselves.
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/runs?agent=cfo&outcome=great&limit=0", Token: accountant})
	require.Equal(t, http.StatusBadRequest, resp.Status)
	p := resp.Problem(t)
	require.Equal(t, "invalid_parameter", p.Code)
	require.Contains(t, p.Errors, "agent")
	require.Contains(t, p.Errors, "outcome")
	require.Contains(t, p.Errors, "limit")

	// Who may read the record: not viewers, not agents; and only the tenant's own.
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAgent} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/runs", Token: s.Token(t, tenant, role)})
		require.Equal(t, http.StatusForbidden, resp.Status, role)
	}
	for _, role := range []auth.Role{auth.RoleApprover, auth.RoleAuditor, auth.RoleOwner} {
		require.Len(t, listAgentRuns(t, s, s.Token(t, tenant, role), "").Data, 6, role)
	}
	_, otherAdmin := s.Tenant(t, "Other")
	require.Empty(t, listAgentRuns(t, s, otherAdmin, "").Data)
	require.Empty(t, listAgentRuns(t, s, otherAdmin, "?starting_after="+all.Data[0].ID).Data)
}

func TestAgentUsageGet(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, admin := s.Tenant(t, "Agents")
	agentsAtWork(t, s, tenant, admin)
	approver := s.Token(t, tenant, auth.RoleApprover)

	get := func(token, query string) agentUsage {
		t.Helper()
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/usage" + query, Token: token})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		var u agentUsage
		resp.JSON(t, &u)
		return u
	}
	u := get(approver, "")
	require.Equal(t, "agent_usage", u.Object)
	require.Equal(t, time.Now().UTC().Format("2006-01"), u.Month)
	require.Equal(t, "USD", u.Currency)
	require.Zero(t, u.BudgetMinor, "no budget: only the built-in agent")
	require.True(t, u.BudgetExhausted)
	require.Zero(t, u.SpentMicros)
	require.Equal(t, int64(6), u.Totals.Runs)
	require.Equal(t, int64(1), u.Totals.CacheHits)
	require.Equal(t, int64(4), u.Totals.Outcomes["succeeded"])
	require.Equal(t, int64(1), u.Totals.Outcomes["over_budget"])
	require.Equal(t, int64(1), u.Totals.Outcomes["disabled"])
	require.Zero(t, u.Totals.Outcomes["failed"], "every outcome is listed")
	require.Len(t, u.Agents, 3)
	require.Equal(t, "ap_extract", u.Agents[0].Agent)
	require.Equal(t, int64(2), u.Agents[0].Runs)
	require.Equal(t, "ar_collections", u.Agents[1].Agent)
	require.Equal(t, int64(3), u.Agents[1].Runs)
	require.Equal(t, int64(1), u.Agents[1].CacheHits)
	require.Equal(t, int64(1), u.Agents[2].Runs)

	// A budget set in the settings shows with what remains of it.
	current := getSettings(t, s, admin, "")
	resp := patchSettings(s, t, admin, etag(current.Version), map[string]any{"agent_budget_monthly_minor": 5000})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	u = get(approver, "")
	require.Equal(t, int64(5000), u.BudgetMinor)
	require.Equal(t, int64(5000), u.RemainingMinor)
	require.False(t, u.BudgetExhausted)

	past := get(approver, "?month=2001-01")
	require.Equal(t, "2001-01", past.Month)
	require.Zero(t, past.Totals.Runs)

	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/usage?month=2026-13", Token: approver})
	require.Equal(t, http.StatusBadRequest, resp.Status)
	require.Contains(t, resp.Problem(t).Errors, "month")

	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/usage", Token: s.Token(t, tenant, auth.RoleViewer)})
	require.Equal(t, http.StatusForbidden, resp.Status)

	_, otherAdmin := s.Tenant(t, "Other")
	require.Zero(t, get(otherAdmin, "").Totals.Runs, "another tenant's usage is its own")
}
