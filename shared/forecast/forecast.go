// Package forecast is the cash forecast: when the tenant's open receivables and
// payables are expected to turn into cash, week by week and per currency, each
// counterparty's pay date learned from its own history of days to pay, in three timing
// scenarios (P10, P50, P90). It reads and never writes.
//
// The method, as documented to clients (the ReportsCashForecast operation in the
// OpenAPI document, and Report.Method):
//   - Open items: invoices with status open and an amount due above 0, expected to be
//     paid their amount due in full. Uncollectible invoices are written off and expect
//     no cash; drafts, void and paid invoices owe nothing. Balances are today's: as_of
//     moves the weeks and the history window, it does not reconstruct a past date's
//     balances (the aging report does).
//   - Observations: invoices that are paid and have active (not reversed) allocations,
//     whose pay date (the latest effective date of those allocations) falls in the
//     HistoryDays days ending on as_of. Days to pay = pay date − due date, negative
//     when paid early. Receivables and payables are learned apart, across currencies.
//   - Whose history: a counterparty with at least MinObservations observations in a
//     direction uses its own distribution (counterparty_history); one with fewer uses
//     the tenant's distribution for that direction (tenant_history); with no tenant
//     observation in that direction, invoices are expected on their due date
//     (due_date, a delay of 0).
//   - Percentiles are nearest-rank: of n observations sorted ascending, Pq is the
//     ⌈q·n/100⌉-th, so P10 ≤ P50 ≤ P90 and each is a delay that occurred (computed by
//     PostgreSQL's percentile_disc, see historySQL).
//   - Scenario s ∈ {p10, p50, p90} expects every open item on due date + its Ps days.
//     Week k covers as_of+7(k−1) … as_of+7k−1; an item expected before as_of is late
//     and expected in week 1; one expected after the last week is beyond the horizon.
//     Each scenario's weeks and beyond-horizon add up to the same open totals.
//
// The store (store.go) reads two aggregates in one round trip: the percentiles per
// counterparty and direction, and the open amounts per counterparty and due date.
// Compute, which does no I/O, turns them into the report.
package forecast

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
)

const (
	// DefaultWeeks is a quarter: the 13-week cash forecast treasurers plan with.
	DefaultWeeks = 13
	// MaxWeeks bounds a forecast to a year; further out, open items are few and the
	// history says little.
	MaxWeeks = 52
	// MinObservations is how many paid invoices a counterparty needs in a direction
	// before its own distribution is trusted over the tenant's: with fewer, one odd
	// payment would decide its P10 or P90.
	MinObservations = 5
	// HistoryDays is the history window, ending on as_of: a year, so seasonal habits
	// count and long-past ones fade.
	HistoryDays = 365
)

// Direction is a side of the books: receivables bring cash in, payables take it out.
type Direction string

const (
	Receivable Direction = "receivable"
	Payable    Direction = "payable"
)

// Method names whose days to pay an item's expected date comes from.
type Method string

const (
	CounterpartyHistory Method = "counterparty_history"
	TenantHistory       Method = "tenant_history"
	DueDate             Method = "due_date"
)

// The scenarios, as indexes into a [3] of days or amounts.
const (
	p10 = iota
	p50
	p90
	scenarios
)

// Delays summarises a distribution of days to pay by its nearest-rank percentiles.
type Delays struct {
	Observations  int
	P10, P50, P90 int
}

func (d Delays) days() [scenarios]int { return [scenarios]int{d.P10, d.P50, d.P90} }

// Party is one counterparty on one side of the books.
type Party struct {
	Direction      Direction
	CounterpartyID uuid.UUID
}

// History is what the payments of the window teach: the distribution of each
// counterparty with any observation, per direction, and the tenant's per direction.
type History struct {
	Counterparties map[Party]Delays
	Tenant         map[Direction]Delays
}

// Open is the amount due of one or more open invoices sharing direction, currency,
// counterparty and due date: every invoice of the group is expected on the same day in
// each scenario, so the store sums them.
type Open struct {
	Direction      Direction
	Currency       string
	CounterpartyID uuid.UUID
	DueDate        civil.Date
	AmountMinor    int64
	Invoices       int
}

// Params are what a request may choose; zero values take the defaults.
type Params struct {
	AsOf     *civil.Date // default today (UTC)
	Weeks    int         // default DefaultWeeks
	Currency *string     // one currency only, reported even when nothing is open in it
	Explain  bool        // list the basis of each counterparty's expected dates
}

// Input is everything Compute needs, resolved.
type Input struct {
	AsOf     civil.Date
	Weeks    int
	Currency *string
	Explain  bool
	History  History
	Open     []Open
	Names    map[uuid.UUID]string // counterparty names, for Explain
}

// Report is the response of GET /v1/reports/cash-forecast.
type Report struct {
	Object    string     `json:"object"`
	AsOf      civil.Date `json:"as_of"`
	Weeks     int        `json:"weeks"`
	Method    string     `json:"method"`
	History   Window     `json:"history"`
	Forecasts []Forecast `json:"forecasts"`
	// Only with Explain; then present even when empty (omitzero keeps an empty,
	// non-nil slice).
	Counterparties []Basis `json:"counterparties,omitzero"`
}

// Window describes the history learned from.
type Window struct {
	StartDate       civil.Date `json:"start_date"`
	EndDate         civil.Date `json:"end_date"`
	MinObservations int        `json:"min_observations"`
	Tenant          []Baseline `json:"tenant"`
}

// Baseline is the tenant's distribution in one direction, which counterparties with
// too little history follow; the percentiles are nil without observations.
type Baseline struct {
	Direction    Direction `json:"direction"`
	Observations int       `json:"observations"`
	P10Days      *int      `json:"p10_days"`
	P50Days      *int      `json:"p50_days"`
	P90Days      *int      `json:"p90_days"`
}

// Bands is an amount in each scenario, in minor units.
type Bands struct {
	P10 int64 `json:"p10_minor"`
	P50 int64 `json:"p50_minor"`
	P90 int64 `json:"p90_minor"`
}

func (b *Bands) add(s int, amount int64) {
	switch s {
	case p10:
		b.P10 += amount
	case p50:
		b.P50 += amount
	default:
		b.P90 += amount
	}
}

// Flows are the cash expected in and out over a period.
type Flows struct {
	Inflows  Bands `json:"inflows"`
	Outflows Bands `json:"outflows"`
}

func (f *Flows) add(d Direction, s int, amount int64) {
	if d == Receivable {
		f.Inflows.add(s, amount)
	} else {
		f.Outflows.add(s, amount)
	}
}

// Week is one week of a forecast. The net figures are in the median scenario; the low
// and high cumulative nets bound it with the scenarios that are worst and best for cash
// (customers late and vendors paid early, and the reverse).
type Week struct {
	Week      int        `json:"week"`
	StartDate civil.Date `json:"start_date"`
	EndDate   civil.Date `json:"end_date"`
	Flows
	NetMinor               int64 `json:"net_minor"`
	CumulativeNetMinor     int64 `json:"cumulative_net_minor"`
	CumulativeNetLowMinor  int64 `json:"cumulative_net_low_minor"`
	CumulativeNetHighMinor int64 `json:"cumulative_net_high_minor"`
}

// Forecast is one currency's forecast.
type Forecast struct {
	Currency      string `json:"currency"`
	Weeks         []Week `json:"weeks"`
	BeyondHorizon Flows  `json:"beyond_horizon"`
	Totals        Totals `json:"totals"`
}

// Totals are the open amounts forecast, which every scenario distributes in full.
type Totals struct {
	InflowsMinor       int64 `json:"inflows_minor"`
	OutflowsMinor      int64 `json:"outflows_minor"`
	NetMinor           int64 `json:"net_minor"`
	ReceivableInvoices int   `json:"receivable_invoices"`
	PayableInvoices    int   `json:"payable_invoices"`
}

// Basis explains one counterparty's open items in one direction and currency: the
// method chosen, its own observations, and the days after the due date applied in each
// scenario.
type Basis struct {
	CounterpartyID  uuid.UUID `json:"counterparty_id"`
	Name            string    `json:"name"`
	Direction       Direction `json:"direction"`
	Currency        string    `json:"currency"`
	Method          Method    `json:"method"`
	Observations    int       `json:"observations"`
	P10Days         int       `json:"p10_days"`
	P50Days         int       `json:"p50_days"`
	P90Days         int       `json:"p90_days"`
	OpenAmountMinor int64     `json:"open_amount_minor"`
	OpenInvoices    int       `json:"open_invoices"`
}

// HistoryStart is the first pay date of the window that ends on asOf.
func HistoryStart(asOf civil.Date) civil.Date { return asOf.AddDays(-(HistoryDays - 1)) }

// MethodText is Report.Method: the method in a paragraph, for people.
var MethodText = fmt.Sprintf("Each open invoice (status open, amount due above 0; uncollectible invoices are written off "+
	"and excluded) is expected to be paid its amount due on its due date plus a number of days taken from a "+
	"distribution of days to pay. Observations are the invoices paid (with active allocations) whose pay date, "+
	"the latest allocation effective date, falls in the %d days ending on as_of; days to pay = pay date - due "+
	"date, negative when early; receivables and payables are learned separately. A counterparty with at least "+
	"%d observations in a direction uses its own distribution (counterparty_history), else the tenant's for "+
	"that direction (tenant_history), else the due date itself (due_date). Percentiles are nearest-rank: of n "+
	"sorted observations, Pq is the ceil(q*n/100)-th. Scenario p10 expects every invoice at due date + P10 days "+
	"(early payment), p50 at the median, p90 at P90 (late payment); they are timing scenarios of the same open "+
	"amounts, not confidence intervals of weekly amounts. Week k covers as_of+7(k-1) to as_of+7k-1; an invoice "+
	"expected before as_of is late and counted in week 1, one expected after the last week in beyond_horizon. "+
	"Net figures use the p50 scenario; the low and high cumulative nets pair late inflows with early outflows "+
	"and the reverse. Currencies are never added together. Balances are today's; as_of sets the weeks and the "+
	"history window.", HistoryDays, MinObservations)

// expectation is how one counterparty's items of one direction are expected.
type expectation struct {
	method Method
	own    int // the counterparty's own observations
	days   [scenarios]int
}

// expect chooses the distribution for p: its own with enough observations, else the
// tenant's, else none (the due date).
func (h History) expect(p Party) expectation {
	own := h.Counterparties[p]
	switch {
	case own.Observations >= MinObservations:
		return expectation{method: CounterpartyHistory, own: own.Observations, days: own.days()}
	case h.Tenant[p.Direction].Observations > 0:
		return expectation{method: TenantHistory, own: own.Observations, days: h.Tenant[p.Direction].days()}
	default:
		return expectation{method: DueDate, own: own.Observations}
	}
}

// Compute builds the report. Amounts are only ever added within a currency.
func Compute(in Input) Report {
	r := Report{
		Object: "cash_forecast", AsOf: in.AsOf, Weeks: in.Weeks, Method: MethodText,
		History:   Window{StartDate: HistoryStart(in.AsOf), EndDate: in.AsOf, MinObservations: MinObservations},
		Forecasts: []Forecast{},
	}
	for _, d := range []Direction{Receivable, Payable} {
		r.History.Tenant = append(r.History.Tenant, baseline(d, in.History.Tenant[d]))
	}

	byCurrency := map[string]*Forecast{}
	forecast := func(currency string) *Forecast {
		f, ok := byCurrency[currency]
		if !ok {
			f = &Forecast{Currency: currency, Weeks: make([]Week, in.Weeks)}
			for i := range f.Weeks {
				start := in.AsOf.AddDays(7 * i)
				f.Weeks[i] = Week{Week: i + 1, StartDate: start, EndDate: start.AddDays(6)}
			}
			byCurrency[currency] = f
		}
		return f
	}
	if in.Currency != nil {
		forecast(*in.Currency)
	}

	type basisKey struct {
		Party
		currency string
	}
	bases := map[basisKey]*Basis{}
	expectations := map[Party]expectation{}
	for _, o := range in.Open {
		party := Party{Direction: o.Direction, CounterpartyID: o.CounterpartyID}
		e, ok := expectations[party]
		if !ok {
			e = in.History.expect(party)
			expectations[party] = e
		}
		f := forecast(o.Currency)
		due := o.DueDate.DaysSince(in.AsOf) // day 0 is as_of: date arithmetic once per group
		for s, days := range e.days {
			if w := weekOf(due + days); w < in.Weeks {
				f.Weeks[w].add(o.Direction, s, o.AmountMinor)
			} else {
				f.BeyondHorizon.add(o.Direction, s, o.AmountMinor)
			}
		}
		if o.Direction == Receivable {
			f.Totals.InflowsMinor += o.AmountMinor
			f.Totals.ReceivableInvoices += o.Invoices
		} else {
			f.Totals.OutflowsMinor += o.AmountMinor
			f.Totals.PayableInvoices += o.Invoices
		}
		if in.Explain {
			k := basisKey{party, o.Currency}
			b, ok := bases[k]
			if !ok {
				b = &Basis{CounterpartyID: o.CounterpartyID, Name: in.Names[o.CounterpartyID], Direction: o.Direction,
					Currency: o.Currency, Method: e.method, Observations: e.own,
					P10Days: e.days[p10], P50Days: e.days[p50], P90Days: e.days[p90]}
				bases[k] = b
			}
			b.OpenAmountMinor += o.AmountMinor
			b.OpenInvoices += o.Invoices
		}
	}

	for _, f := range byCurrency {
		f.Totals.NetMinor = f.Totals.InflowsMinor - f.Totals.OutflowsMinor
		var cumIn, cumOut Bands
		for i := range f.Weeks {
			w := &f.Weeks[i]
			w.NetMinor = w.Inflows.P50 - w.Outflows.P50
			cumIn = Bands{cumIn.P10 + w.Inflows.P10, cumIn.P50 + w.Inflows.P50, cumIn.P90 + w.Inflows.P90}
			cumOut = Bands{cumOut.P10 + w.Outflows.P10, cumOut.P50 + w.Outflows.P50, cumOut.P90 + w.Outflows.P90}
			w.CumulativeNetMinor = cumIn.P50 - cumOut.P50
			// By a week's end, early payment (p10) has moved at least as much cash as the
			// median and late payment (p90) at most, item by item (P10 ≤ P50 ≤ P90 days),
			// so these two bound the median's cumulative net.
			w.CumulativeNetLowMinor = cumIn.P90 - cumOut.P10
			w.CumulativeNetHighMinor = cumIn.P10 - cumOut.P90
		}
		r.Forecasts = append(r.Forecasts, *f)
	}
	slices.SortFunc(r.Forecasts, func(a, b Forecast) int { return cmp.Compare(a.Currency, b.Currency) })

	if in.Explain {
		r.Counterparties = make([]Basis, 0, len(bases))
		for _, b := range bases {
			r.Counterparties = append(r.Counterparties, *b)
		}
		slices.SortFunc(r.Counterparties, func(a, b Basis) int {
			return cmp.Or(cmp.Compare(a.Currency, b.Currency), directionOrder(a.Direction)-directionOrder(b.Direction),
				cmp.Compare(b.OpenAmountMinor, a.OpenAmountMinor), bytes.Compare(a.CounterpartyID[:], b.CounterpartyID[:]))
		})
	}
	return r
}

// weekOf is the 0-based week of the forecast that day falls in, counting as_of as day
// 0; late days (before as_of) fall in the first. It may be past the last week: the
// caller checks.
func weekOf(day int) int {
	if day < 0 {
		return 0
	}
	return day / 7
}

func directionOrder(d Direction) int {
	if d == Receivable {
		return 0
	}
	return 1
}

func baseline(d Direction, h Delays) Baseline {
	t := Baseline{Direction: d, Observations: h.Observations}
	if h.Observations > 0 {
		t.P10Days, t.P50Days, t.P90Days = &h.P10, &h.P50, &h.P90
	}
	return t
}
