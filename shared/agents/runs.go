package agents

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// The record of the gateway's work, as GET /v1/agents/runs and GET /v1/agents/usage
// show it.

// Filter narrows a list of runs.
type Filter struct {
	Agent   *Name
	Outcome *string
}

// ValidName reports whether n is an agent.
func ValidName(n Name) bool { return slices.Contains(Names(), n) }

// ValidOutcome reports whether o is an outcome.
func ValidOutcome(o string) bool { return slices.Contains(Outcomes(), o) }

// Runs returns a page of the tenant's runs, newest first.
func (s *Service) Runs(ctx context.Context, tenantID uuid.UUID, f Filter, p page.Params) (page.List[Run], error) {
	var rows []Run
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Run]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Month is a calendar month in UTC.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads YYYY-MM.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Year() < 2000 {
		return Month{}, fmt.Errorf("must be a month (YYYY-MM) from 2000-01")
	}
	return Month{Year: t.Year(), Month: t.Month()}, nil
}

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

func (m Month) bounds() (start, end time.Time) {
	start = time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// Usage is a tenant's agent activity in one month and where it stands against the
// budget.
type Usage struct {
	Object string `json:"object"` // "agent_usage"
	Month  string `json:"month"`
	// Currency and BudgetMinor are the base currency and monthly budget of the
	// settings in effect at the month's end (now, for the current month).
	Currency    string `json:"currency"`
	BudgetMinor int64  `json:"budget_minor"`
	// SpentMicros is the month's cost in millionths of a major unit; SpentMinor the
	// same rounded up to a minor unit, and RemainingMinor what is left of the budget
	// (never below 0). BudgetExhausted says paid providers are refused.
	SpentMicros     int64        `json:"spent_micros"`
	SpentMinor      int64        `json:"spent_minor"`
	RemainingMinor  int64        `json:"remaining_minor"`
	BudgetExhausted bool         `json:"budget_exhausted"`
	Totals          UsageCounts  `json:"totals"`
	Agents          []AgentUsage `json:"agents"`
}

// UsageCounts are counts over a month's runs. Runs includes cache hits, which cost
// nothing; Outcomes has every outcome, 0 included.
type UsageCounts struct {
	Runs       int64            `json:"runs"`
	CacheHits  int64            `json:"cache_hits"`
	TokensIn   int64            `json:"tokens_in"`
	TokensOut  int64            `json:"tokens_out"`
	CostMicros int64            `json:"cost_micros"`
	Outcomes   map[string]int64 `json:"outcomes"`
}

// AgentUsage is one agent's counts.
type AgentUsage struct {
	Agent Name `json:"agent"`
	UsageCounts
}

func newCounts() UsageCounts {
	c := UsageCounts{Outcomes: map[string]int64{}}
	for _, o := range Outcomes() {
		c.Outcomes[o] = 0
	}
	return c
}

func (c *UsageCounts) add(r usageRow) {
	c.Runs += r.runs
	c.CacheHits += r.cacheHits
	c.TokensIn += r.tokensIn
	c.TokensOut += r.tokensOut
	c.CostMicros += r.costMicros
	c.Outcomes[r.outcome] += r.runs
}

// Usage returns the tenant's usage in month (the current month when nil).
func (s *Service) Usage(ctx context.Context, tenantID uuid.UUID, month *Month) (Usage, error) {
	now := s.now()
	m := Month{Year: now.Year(), Month: now.Month()}
	if month != nil {
		m = *month
	}
	start, end := m.bounds()
	var rows []usageRow
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueUsage(b, tenantID, start, end, &rows) }); err != nil {
		return Usage{}, err
	}
	// The budget that applied at the month's end, or applies now.
	at := now
	if end.Before(now) {
		at = end.Add(-time.Microsecond)
	}
	v, err := s.tenantSettings().At(ctx, tenantID, at)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Object: "agent_usage", Month: m.String(), Currency: v.BaseCurrency, BudgetMinor: v.AgentBudgetMonthlyMinor,
		Totals: newCounts(), Agents: []AgentUsage{}}
	byAgent := map[Name]*AgentUsage{}
	for _, n := range Names() {
		u.Agents = append(u.Agents, AgentUsage{Agent: n, UsageCounts: newCounts()})
	}
	for i := range u.Agents {
		byAgent[u.Agents[i].Agent] = &u.Agents[i]
	}
	for _, r := range rows {
		u.Totals.add(r)
		if a := byAgent[Name(r.agent)]; a != nil {
			a.add(r)
		}
	}
	per := microsPerMinor(v.BaseCurrency)
	u.SpentMicros = u.Totals.CostMicros
	u.SpentMinor = (u.SpentMicros + per - 1) / per
	u.RemainingMinor = max(0, u.BudgetMinor-u.SpentMinor)
	u.BudgetExhausted = u.SpentMicros >= budgetMicros(u.BudgetMinor, v.BaseCurrency)
	return u, nil
}
