package agents

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Cost and budget.
//
// A run's cost is its tokens at its model's price. Prices are in micros (millionths
// of a major unit) per million tokens, and a run's cost_micros in millionths of a
// major unit, rounded up to a whole micro: a call costing a fraction of a cent still
// counts. Prices are read as amounts of each tenant's base currency: the table is the
// deployment's, and is set in the currency its tenants keep their books in (there is
// no conversion between currencies here).
//
// The budget is tenant settings' agent_budget_monthly_minor, in minor units of the
// base currency, per calendar month in UTC. Before every call to a paid provider
// (anything but builtin) the month's spend so far is compared with it; at or over
// budget the run is refused with agent_budget_exhausted (402) and recorded as
// over_budget, and the caller goes on without the agent. A budget of 0 allows no
// spend at all: such a tenant's agents run only on the free built-in provider (and
// the cache). The check is made before each call, not reserved, so concurrent calls
// can overshoot the budget by what they cost together; the next call is refused.

// Price is a model's price per million tokens, in micros of a major unit.
type Price struct {
	InputMicros  int64 // per million input (prompt) tokens
	OutputMicros int64 // per million output tokens, thinking included
}

// Prices are prices by model; the model "*" prices any model not listed.
type Prices map[string]Price

// DefaultPrices are list prices of the Gemini models at the time of writing (USD per
// million tokens, prompts up to 200k tokens). AGENT_PRICES adds to and overrides them.
var DefaultPrices = Prices{
	"gemini-2.5-pro":        {InputMicros: 1_250_000, OutputMicros: 10_000_000},
	"gemini-2.5-flash":      {InputMicros: 300_000, OutputMicros: 2_500_000},
	"gemini-2.5-flash-lite": {InputMicros: 100_000, OutputMicros: 400_000},
	"gemini-2.0-flash":      {InputMicros: 100_000, OutputMicros: 400_000},
	"gemini-2.0-flash-lite": {InputMicros: 75_000, OutputMicros: 300_000},
}

// ParsePrices reads model=input:output pairs separated by commas, the prices in major
// units per million tokens ("gemini-2.5-flash=0.30:2.50,*=1:4"), over DefaultPrices.
func ParsePrices(s string) (Prices, error) {
	p := Prices{}
	for k, v := range DefaultPrices {
		p[k] = v
	}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		model, prices, ok := strings.Cut(pair, "=")
		in, out, ok2 := strings.Cut(prices, ":")
		if !ok || !ok2 || strings.TrimSpace(model) == "" {
			return nil, fmt.Errorf("agents: AGENT_PRICES: %q is not model=input:output", pair)
		}
		inMicros, err := micros(strings.TrimSpace(in))
		if err != nil {
			return nil, fmt.Errorf("agents: AGENT_PRICES: %s input price: %w", model, err)
		}
		outMicros, err := micros(strings.TrimSpace(out))
		if err != nil {
			return nil, fmt.Errorf("agents: AGENT_PRICES: %s output price: %w", model, err)
		}
		p[strings.TrimSpace(model)] = Price{InputMicros: inMicros, OutputMicros: outMicros}
	}
	return p, nil
}

// micros reads a non-negative decimal in major units as micros, exactly.
func micros(s string) (int64, error) {
	d, err := money.ParseDecimal(s)
	if err != nil {
		return 0, err
	}
	if d.Sign() < 0 || d.Scale() > 6 {
		return 0, fmt.Errorf("%s must be at least 0 with at most 6 decimals", s)
	}
	v := new(big.Rat).Mul(d.Rat(), big.NewRat(1_000_000, 1))
	if !v.IsInt() || !v.Num().IsInt64() {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return v.Num().Int64(), nil
}

// price returns model's price and whether the table knows it.
func (p Prices) price(model string) (Price, bool) {
	if pr, ok := p[model]; ok {
		return pr, true
	}
	pr, ok := p["*"]
	return pr, ok
}

// Cost is the cost in micros of tokensIn and tokensOut at model's price, rounded up;
// 0 for a model the table does not know (FromConfig refuses a paid provider whose
// configured model that would be).
func (p Prices) Cost(model string, tokensIn, tokensOut int64) int64 {
	pr, ok := p.price(model)
	if !ok {
		return 0
	}
	num := new(big.Int).Mul(big.NewInt(tokensIn), big.NewInt(pr.InputMicros))
	num.Add(num, new(big.Int).Mul(big.NewInt(tokensOut), big.NewInt(pr.OutputMicros)))
	q, r := new(big.Int).QuoRem(num, big.NewInt(1_000_000), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 1<<63 - 1
	}
	return q.Int64()
}

// monthOf is the calendar month (UTC) t falls in: its first instant and the next
// month's.
func monthOf(t time.Time) (start, end time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// microsPerMinor is how many micros of a major unit one minor unit of currency is.
func microsPerMinor(currency string) int64 {
	exp, ok := money.Exponent(currency)
	if !ok || exp > 6 {
		exp = 2
	}
	n := int64(1_000_000)
	for range exp {
		n /= 10
	}
	return n
}

// budgetMicros is a monthly budget in minor units as micros, saturating.
func budgetMicros(budgetMinor int64, currency string) int64 {
	per := microsPerMinor(currency)
	if budgetMinor > (1<<63-1)/per {
		return 1<<63 - 1
	}
	return budgetMinor * per
}

// checkBudget refuses a paid call when the tenant's month's spend has reached its
// budget.
func (s *Service) checkBudget(ctx context.Context, tenantID uuid.UUID) error {
	v, err := s.tenantSettings().Current(ctx, tenantID)
	if err != nil {
		return err
	}
	budget := budgetMicros(v.AgentBudgetMonthlyMinor, v.BaseCurrency)
	if budget == 0 {
		return apperr.New(apperr.PaymentRequired, CodeBudgetExhausted,
			"the tenant's agent budget is 0, which allows only the built-in agent; raise agent_budget_monthly_minor in the tenant settings")
	}
	start, end := monthOf(s.now())
	spent, err := s.monthSpend(ctx, tenantID, start, end)
	if err != nil {
		return err
	}
	if spent >= budget {
		return apperr.New(apperr.PaymentRequired, CodeBudgetExhausted, fmt.Sprintf(
			"the tenant's agent budget for %s (%d minor units of %s) is spent; agents are paused until next month or a larger budget",
			start.Format("2006-01"), v.AgentBudgetMonthlyMinor, v.BaseCurrency))
	}
	return nil
}

// warnUnpriced logs a paid run whose model has no price: it is recorded at cost 0 and
// the budget cannot stop it.
func (s *Service) warnUnpriced(ctx context.Context, run Run) {
	if run.Provider == Builtin || run.CacheHit || run.Attempts == 0 {
		return
	}
	if _, ok := s.prices().price(run.Model); !ok {
		slog.WarnContext(ctx, "agent model has no price; the run costs 0 against the budget",
			"agent", string(run.Agent), "provider", run.Provider, "model", run.Model)
	}
}
