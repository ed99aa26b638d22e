package agents

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/ledgerline/ledgerline/shared/money"
)

// The built-in forecasting agent reads the cash forecast as GET
// /v1/reports/cash-forecast returns it and says, per currency, what it expects in and
// out, which weeks and counterparties drive that, and what could go wrong. Every
// amount it cites is one the report holds, never one it computed: it picks, it does
// not add. Counterparties come from the report's explanation (explain=true); without
// it the narrative speaks of weeks only.

// forecastDoc is the part of the report the narrative reads.
type forecastDoc struct {
	AsOf      string `json:"as_of"`
	Weeks     int    `json:"weeks"`
	Forecasts []struct {
		Currency string `json:"currency"`
		Weeks    []struct {
			Week      int    `json:"week"`
			StartDate string `json:"start_date"`
			Inflows   struct {
				P50 int64 `json:"p50_minor"`
			} `json:"inflows"`
			Outflows struct {
				P50 int64 `json:"p50_minor"`
			} `json:"outflows"`
			CumulativeNetLowMinor int64 `json:"cumulative_net_low_minor"`
		} `json:"weeks"`
		BeyondHorizon struct {
			Inflows struct {
				P50 int64 `json:"p50_minor"`
			} `json:"inflows"`
			Outflows struct {
				P50 int64 `json:"p50_minor"`
			} `json:"outflows"`
		} `json:"beyond_horizon"`
		Totals struct {
			InflowsMinor  int64 `json:"inflows_minor"`
			OutflowsMinor int64 `json:"outflows_minor"`
			NetMinor      int64 `json:"net_minor"`
		} `json:"totals"`
	} `json:"forecasts"`
	Counterparties []forecastParty `json:"counterparties"`
}

// forecastParty is one counterparty of the report's explanation.
type forecastParty struct {
	Name            string `json:"name"`
	Direction       string `json:"direction"`
	Currency        string `json:"currency"`
	Method          string `json:"method"`
	P50Days         int    `json:"p50_days"`
	P90Days         int    `json:"p90_days"`
	OpenAmountMinor int64  `json:"open_amount_minor"`
}

// latePayerDays is how late (P90 days after the due date) a customer's history must
// be for its open invoices to count as a risk to the forecast.
const latePayerDays = 30

// maxNarratedCurrencies keeps a narrative within the amounts its schema lets it cite.
const maxNarratedCurrencies = 10

// narrate writes the narrative of f.
func narrate(f forecastDoc) ForecastNarrative {
	n := ForecastNarrative{Drivers: []string{}, Risks: []string{}, CitedAmountsMinor: []int64{}}
	cited := map[int64]bool{}
	cite := func(minor int64, currency string) string {
		if !cited[minor] {
			cited[minor] = true
			n.CitedAmountsMinor = append(n.CitedAmountsMinor, minor)
		}
		s, err := money.FormatMinor(minor, currency)
		if err != nil {
			return fmt.Sprintf("%d minor units of %s", minor, currency)
		}
		return currency + " " + s
	}
	weeks := f.Weeks
	if weeks == 0 && len(f.Forecasts) > 0 {
		weeks = len(f.Forecasts[0].Weeks)
	}
	var summary []string
	forecasts, rest := f.Forecasts, ""
	if len(forecasts) > maxNarratedCurrencies {
		// The schema bounds what a narrative cites; the rest are named, not explained.
		var names []string
		for _, fc := range forecasts[maxNarratedCurrencies:] {
			names = append(names, fc.Currency)
		}
		rest = " Not explained here: " + strings.Join(names, ", ") + "."
		forecasts = forecasts[:maxNarratedCurrencies]
	}
	for _, fc := range forecasts {
		c := fc.Currency
		t := fc.Totals
		if t.InflowsMinor == 0 && t.OutflowsMinor == 0 {
			summary = append(summary, fmt.Sprintf("In %s nothing is open.", c))
			continue
		}
		summary = append(summary, fmt.Sprintf("In %s, %s is expected in from customers and %s out to vendors over the open items, a net of %s.",
			c, cite(t.InflowsMinor, c), cite(t.OutflowsMinor, c), cite(t.NetMinor, c)))

		// The weeks with the largest inflow and outflow in the median scenario.
		if i := argmax(len(fc.Weeks), func(i int) int64 { return fc.Weeks[i].Inflows.P50 }); i >= 0 && fc.Weeks[i].Inflows.P50 > 0 {
			w := fc.Weeks[i]
			n.Drivers = append(n.Drivers, fmt.Sprintf("Largest inflow in %s: week %d (from %s), %s expected in.", c, w.Week, w.StartDate, cite(w.Inflows.P50, c)))
		}
		if i := argmax(len(fc.Weeks), func(i int) int64 { return fc.Weeks[i].Outflows.P50 }); i >= 0 && fc.Weeks[i].Outflows.P50 > 0 {
			w := fc.Weeks[i]
			n.Drivers = append(n.Drivers, fmt.Sprintf("Largest outflow in %s: week %d (from %s), %s expected out.", c, w.Week, w.StartDate, cite(w.Outflows.P50, c)))
		}
		if v := fc.BeyondHorizon.Inflows.P50; v > 0 {
			n.Risks = append(n.Risks, fmt.Sprintf("%s of receivables in %s is expected only after week %d.", cite(v, c), c, weeks))
		}
		// The week where cash would be lowest if customers paid late and vendors early.
		if i := argmax(len(fc.Weeks), func(i int) int64 { return -fc.Weeks[i].CumulativeNetLowMinor }); i >= 0 && fc.Weeks[i].CumulativeNetLowMinor < 0 {
			w := fc.Weeks[i]
			n.Risks = append(n.Risks, fmt.Sprintf("If customers pay late and vendors are paid early, cumulative net cash in %s falls to %s by week %d.",
				c, cite(w.CumulativeNetLowMinor, c), w.Week))
		}
	}

	// Counterparties: the largest on each side, and customers whose history is late.
	parties := slices.Clone(f.Counterparties)
	slices.SortStableFunc(parties, func(a, b forecastParty) int {
		return cmp.Or(cmp.Compare(b.OpenAmountMinor, a.OpenAmountMinor), strings.Compare(a.Name, b.Name))
	})
	for _, dir := range []struct{ direction, what string }{{"receivable", "customer"}, {"payable", "vendor"}} {
		for _, p := range parties {
			if p.Direction == dir.direction && p.OpenAmountMinor > 0 {
				n.Drivers = append(n.Drivers, fmt.Sprintf("Largest %s: %s, %s open.", dir.what, p.Name, cite(p.OpenAmountMinor, p.Currency)))
				break
			}
		}
	}
	late := 0
	for _, p := range parties {
		if p.Direction != "receivable" || p.Method != "counterparty_history" || p.P90Days < latePayerDays || late == 5 {
			continue
		}
		late++
		n.Risks = append(n.Risks, fmt.Sprintf("%s pays late: %d days after the due date at the median and %d at P90 in its history; %s is open.",
			p.Name, p.P50Days, p.P90Days, cite(p.OpenAmountMinor, p.Currency)))
	}

	if len(summary) == 0 {
		summary = []string{"Nothing is open: the forecast expects no cash in or out."}
	}
	n.Summary = fmt.Sprintf("Cash forecast for %d weeks from %s. ", weeks, f.AsOf) + strings.Join(summary, " ") + rest
	n.Summary = clip(n.Summary, 4000)
	if len(n.Drivers) > 20 {
		n.Drivers = n.Drivers[:20]
	}
	if len(n.Risks) > 20 {
		n.Risks = n.Risks[:20]
	}
	return n
}

// argmax is the index of the largest value (the first of equals), -1 for none.
func argmax(n int, value func(int) int64) int {
	best := -1
	for i := range n {
		if best < 0 || value(i) > value(best) {
			best = i
		}
	}
	return best
}
