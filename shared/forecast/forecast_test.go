package forecast_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ledgerline/ledgerline/shared/forecast"
)

// asOf is a Monday; week k of its forecast runs asOf+7(k-1) .. asOf+7k-1.
var asOf = civil.Date{Year: 2026, Month: 11, Day: 23}

func day(n int) civil.Date { return asOf.AddDays(n) }

var (
	acme   = uuid.MustParse("00000000-0000-7000-8000-000000000001")
	globex = uuid.MustParse("00000000-0000-7000-8000-000000000002")
	vendor = uuid.MustParse("00000000-0000-7000-8000-000000000003")
)

func open(d forecast.Direction, cp uuid.UUID, currency string, due civil.Date, amount int64) forecast.Open {
	return forecast.Open{Direction: d, Currency: currency, CounterpartyID: cp, DueDate: due, AmountMinor: amount, Invoices: 1}
}

func history(tenant map[forecast.Direction]forecast.Delays, own map[forecast.Party]forecast.Delays) forecast.History {
	if own == nil {
		own = map[forecast.Party]forecast.Delays{}
	}
	if tenant == nil {
		tenant = map[forecast.Direction]forecast.Delays{}
	}
	return forecast.History{Counterparties: own, Tenant: tenant}
}

func receivable(cp uuid.UUID) forecast.Party {
	return forecast.Party{Direction: forecast.Receivable, CounterpartyID: cp}
}

func run(in forecast.Input) forecast.Report {
	if in.Weeks == 0 {
		in.Weeks = forecast.DefaultWeeks
	}
	in.AsOf = asOf
	return forecast.Compute(in)
}

// placed lists, per scenario, the 1-based week each band's inflows landed in (0:
// beyond the horizon), for a forecast with amounts in one week per band.
func placed(t *testing.T, f forecast.Forecast) [3]int {
	t.Helper()
	var got [3]int
	for _, w := range f.Weeks {
		for s, amount := range []int64{w.Inflows.P10, w.Inflows.P50, w.Inflows.P90} {
			if amount != 0 {
				require.Zero(t, got[s], "scenario %d landed in two weeks", s)
				got[s] = w.Week
			}
		}
	}
	return got
}

func TestWeeksAreSevenDaysFromAsOf(t *testing.T) {
	r := run(forecast.Input{Weeks: 3, Currency: new("USD")})
	require.Equal(t, "cash_forecast", r.Object)
	require.Equal(t, asOf, r.AsOf)
	require.Equal(t, 3, r.Weeks)
	require.Len(t, r.Forecasts, 1, "the currency asked for is reported even with nothing open")
	f := r.Forecasts[0]
	require.Equal(t, "USD", f.Currency)
	require.Len(t, f.Weeks, 3)
	for i, w := range f.Weeks {
		require.Equal(t, i+1, w.Week)
		require.Equal(t, day(7*i), w.StartDate)
		require.Equal(t, day(7*i+6), w.EndDate)
	}
	require.Zero(t, f.Totals)
	require.Nil(t, r.Counterparties, "no explanation unless asked")
	require.Equal(t, forecast.Window{StartDate: day(-364), EndDate: asOf, MinObservations: 5, Tenant: []forecast.Baseline{
		{Direction: forecast.Receivable}, {Direction: forecast.Payable}}}, r.History)
}

func TestCounterpartyThatAlwaysPaysTenDaysLate(t *testing.T) {
	h := history(nil, map[forecast.Party]forecast.Delays{receivable(acme): {Observations: 6, P10: 10, P50: 10, P90: 10}})
	for due := -3; due <= 30; due++ {
		r := run(forecast.Input{History: h, Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(due), 1000)}})
		want := (due+10)/7 + 1
		require.Equal(t, [3]int{want, want, want}, placed(t, r.Forecasts[0]), "due on day %d", due)
	}
}

func TestBandsPlaceEarlyMedianAndLatePayment(t *testing.T) {
	h := history(nil, map[forecast.Party]forecast.Delays{receivable(acme): {Observations: 20, P10: -5, P50: 3, P90: 30}})
	r := run(forecast.Input{History: h, Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(10), 5000)}})
	// Expected on day 5 (week 1), day 13 (week 2) and day 40 (week 6).
	require.Equal(t, [3]int{1, 2, 6}, placed(t, r.Forecasts[0]))
}

func TestTooLittleHistoryFallsBackToTheTenant(t *testing.T) {
	h := history(
		map[forecast.Direction]forecast.Delays{forecast.Receivable: {Observations: 40, P10: 0, P50: 14, P90: 28}},
		map[forecast.Party]forecast.Delays{receivable(acme): {Observations: 2, P10: 60, P50: 60, P90: 60}},
	)
	r := run(forecast.Input{History: h, Explain: true, Names: map[uuid.UUID]string{acme: "Acme"},
		Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(0), 700)}})
	require.Equal(t, [3]int{1, 3, 5}, placed(t, r.Forecasts[0]), "the tenant's 0/14/28 days, not Acme's 60")
	require.Equal(t, []forecast.Basis{{CounterpartyID: acme, Name: "Acme", Direction: forecast.Receivable, Currency: "USD",
		Method: forecast.TenantHistory, Observations: 2, P10Days: 0, P50Days: 14, P90Days: 28,
		OpenAmountMinor: 700, OpenInvoices: 1}}, r.Counterparties)
	require.Equal(t, forecast.Baseline{Direction: forecast.Receivable, Observations: 40, P10Days: new(0), P50Days: new(14), P90Days: new(28)},
		r.History.Tenant[0])
}

func TestFiveObservationsAreEnough(t *testing.T) {
	h := history(
		map[forecast.Direction]forecast.Delays{forecast.Receivable: {Observations: 40, P10: 0, P50: 0, P90: 0}},
		map[forecast.Party]forecast.Delays{receivable(acme): {Observations: forecast.MinObservations, P10: 7, P50: 7, P90: 7}},
	)
	r := run(forecast.Input{History: h, Explain: true, Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(0), 1)}})
	require.Equal(t, [3]int{2, 2, 2}, placed(t, r.Forecasts[0]))
	require.Equal(t, forecast.CounterpartyHistory, r.Counterparties[0].Method)
}

func TestNoHistoryExpectsTheDueDate(t *testing.T) {
	// A payables history says nothing about receivables.
	h := history(map[forecast.Direction]forecast.Delays{forecast.Payable: {Observations: 9, P10: 30, P50: 30, P90: 30}}, nil)
	r := run(forecast.Input{History: h, Explain: true, Open: []forecast.Open{open(forecast.Receivable, globex, "USD", day(20), 100)}})
	require.Equal(t, [3]int{3, 3, 3}, placed(t, r.Forecasts[0]))
	b := r.Counterparties[0]
	require.Equal(t, forecast.DueDate, b.Method)
	require.Zero(t, b.Observations)
	require.Equal(t, [3]int{0, 0, 0}, [3]int{b.P10Days, b.P50Days, b.P90Days})
}

func TestLateItemsAreExpectedInWeekOne(t *testing.T) {
	h := history(nil, map[forecast.Party]forecast.Delays{receivable(acme): {Observations: 8, P10: 0, P50: 5, P90: 40}})
	r := run(forecast.Input{History: h, Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(-60), 900)}})
	// Days -60, -55 and -20 have all passed: the cash is expected now.
	require.Equal(t, [3]int{1, 1, 1}, placed(t, r.Forecasts[0]))
	require.Equal(t, forecast.Bands{P10: 900, P50: 900, P90: 900}, r.Forecasts[0].Weeks[0].Inflows)
}

func TestBeyondTheHorizon(t *testing.T) {
	h := history(nil, map[forecast.Party]forecast.Delays{receivable(acme): {Observations: 8, P10: 0, P50: 1, P90: 2}})
	r := run(forecast.Input{Weeks: 2, History: h, Open: []forecast.Open{open(forecast.Receivable, acme, "USD", day(12), 300)}})
	f := r.Forecasts[0]
	// Day 12 and 13 are in week 2, day 14 is past it.
	require.Equal(t, forecast.Bands{P10: 300, P50: 300}, f.Weeks[1].Inflows)
	require.Equal(t, forecast.Bands{P90: 300}, f.BeyondHorizon.Inflows)
	require.Zero(t, f.BeyondHorizon.Outflows)
}

func TestCurrenciesAreNeverAdded(t *testing.T) {
	pay := forecast.Party{Direction: forecast.Payable, CounterpartyID: vendor}
	h := history(nil, map[forecast.Party]forecast.Delays{pay: {Observations: 5, P10: 0, P50: 0, P90: 0}})
	items := []forecast.Open{
		open(forecast.Receivable, acme, "USD", day(1), 1000),
		{Direction: forecast.Receivable, Currency: "USD", CounterpartyID: globex, DueDate: day(2), AmountMinor: 500, Invoices: 2},
		open(forecast.Receivable, acme, "EUR", day(1), 70),
		open(forecast.Payable, vendor, "EUR", day(8), 30),
		open(forecast.Payable, vendor, "JPY", day(100), 9),
	}
	r := run(forecast.Input{History: h, Open: items})
	require.Len(t, r.Forecasts, 3)
	eur, jpy, usd := r.Forecasts[0], r.Forecasts[1], r.Forecasts[2]
	require.Equal(t, []string{"EUR", "JPY", "USD"}, []string{eur.Currency, jpy.Currency, usd.Currency})

	require.Equal(t, forecast.Totals{InflowsMinor: 1500, NetMinor: 1500, ReceivableInvoices: 3}, usd.Totals)
	require.Equal(t, forecast.Bands{P10: 1500, P50: 1500, P90: 1500}, usd.Weeks[0].Inflows)

	require.Equal(t, forecast.Totals{InflowsMinor: 70, OutflowsMinor: 30, NetMinor: 40, ReceivableInvoices: 1, PayableInvoices: 1}, eur.Totals)
	require.Equal(t, forecast.Bands{P10: 70, P50: 70, P90: 70}, eur.Weeks[0].Inflows)
	require.Equal(t, forecast.Bands{P10: 30, P50: 30, P90: 30}, eur.Weeks[1].Outflows)
	require.Equal(t, []int64{70, -30}, []int64{eur.Weeks[0].NetMinor, eur.Weeks[1].NetMinor})
	require.Equal(t, []int64{70, 40, 40}, []int64{eur.Weeks[0].CumulativeNetMinor, eur.Weeks[1].CumulativeNetMinor, eur.Weeks[2].CumulativeNetMinor})

	require.Equal(t, forecast.Bands{P10: 9, P50: 9, P90: 9}, jpy.BeyondHorizon.Outflows)
	require.Equal(t, int64(-9), jpy.Totals.NetMinor)
}

func TestCumulativeNetRange(t *testing.T) {
	h := history(nil, map[forecast.Party]forecast.Delays{
		receivable(acme): {Observations: 9, P10: 0, P50: 7, P90: 14},
		{Direction: forecast.Payable, CounterpartyID: vendor}: {Observations: 9, P10: 0, P50: 7, P90: 14},
	})
	r := run(forecast.Input{Weeks: 3, History: h, Open: []forecast.Open{
		open(forecast.Receivable, acme, "USD", day(0), 100),
		open(forecast.Payable, vendor, "USD", day(0), 40),
	}})
	w := r.Forecasts[0].Weeks
	// Week 1: early in 100 / median 0 / late 0, out likewise 40 / 0 / 0.
	require.Equal(t, [3]int64{0, 100 - 0, 0 - 40}, [3]int64{w[0].CumulativeNetMinor, w[0].CumulativeNetHighMinor, w[0].CumulativeNetLowMinor})
	// Week 2: the median has moved both; late payment has moved neither.
	require.Equal(t, [3]int64{60, 100 - 0, 0 - 40}, [3]int64{w[1].CumulativeNetMinor, w[1].CumulativeNetHighMinor, w[1].CumulativeNetLowMinor})
	// Week 3: everything has moved in every scenario.
	require.Equal(t, [3]int64{60, 60, 60}, [3]int64{w[2].CumulativeNetMinor, w[2].CumulativeNetHighMinor, w[2].CumulativeNetLowMinor})
}

func TestExplainOrderAndTotals(t *testing.T) {
	pay := forecast.Party{Direction: forecast.Payable, CounterpartyID: vendor}
	h := history(map[forecast.Direction]forecast.Delays{forecast.Receivable: {Observations: 3, P10: 1, P50: 2, P90: 3}},
		map[forecast.Party]forecast.Delays{pay: {Observations: 11, P10: -1, P50: 0, P90: 4}, receivable(globex): {Observations: 1}})
	names := map[uuid.UUID]string{acme: "Acme", globex: "Globex", vendor: "Vendor"}
	r := run(forecast.Input{History: h, Explain: true, Names: names, Open: []forecast.Open{
		open(forecast.Payable, vendor, "USD", day(3), 10),
		open(forecast.Receivable, acme, "USD", day(3), 10),
		open(forecast.Receivable, globex, "USD", day(1), 15),
		open(forecast.Receivable, acme, "USD", day(9), 10),
		open(forecast.Receivable, acme, "EUR", day(9), 1),
	}})
	type row struct {
		name, currency string
		d              forecast.Direction
		m              forecast.Method
		amount         int64
		n              int
	}
	var got []row
	for _, b := range r.Counterparties {
		got = append(got, row{b.Name, b.Currency, b.Direction, b.Method, b.OpenAmountMinor, b.OpenInvoices})
	}
	require.Equal(t, []row{
		{"Acme", "EUR", forecast.Receivable, forecast.TenantHistory, 1, 1},
		{"Acme", "USD", forecast.Receivable, forecast.TenantHistory, 20, 2},
		{"Globex", "USD", forecast.Receivable, forecast.TenantHistory, 15, 1},
		{"Vendor", "USD", forecast.Payable, forecast.CounterpartyHistory, 10, 1},
	}, got)
	require.Equal(t, 11, r.Counterparties[3].Observations)
	require.Equal(t, 1, r.Counterparties[2].Observations, "its own count, though the tenant's distribution applies")

	// The JSON carries the explanation only when asked, and then even when empty.
	b, err := json.Marshal(run(forecast.Input{Explain: true}))
	require.NoError(t, err)
	require.Contains(t, string(b), `"counterparties":[]`)
	b, err = json.Marshal(run(forecast.Input{}))
	require.NoError(t, err)
	require.NotContains(t, string(b), `"counterparties"`)
	require.Contains(t, string(b), `"forecasts":[]`)
}

// Whatever the history and the open items, every scenario distributes every open
// amount exactly once, within its currency; P10 ≤ P50 ≤ P90 days make early payment
// move cash no later than the median, and the cumulative range bound the median.
func TestEveryScenarioDistributesTheOpenAmounts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		parties := []uuid.UUID{acme, globex, vendor}
		directions := []forecast.Direction{forecast.Receivable, forecast.Payable}
		currencies := []string{"USD", "EUR", "JPY"}
		delays := func(label string) forecast.Delays {
			a := rapid.IntRange(-60, 120).Draw(t, label+"a")
			b := rapid.IntRange(a, 150).Draw(t, label+"b")
			c := rapid.IntRange(b, 400).Draw(t, label+"c")
			return forecast.Delays{Observations: rapid.IntRange(0, 12).Draw(t, label+"n"), P10: a, P50: b, P90: c}
		}
		h := history(nil, nil)
		for _, d := range directions {
			if rapid.Bool().Draw(t, "tenant "+string(d)) {
				h.Tenant[d] = delays(string(d))
			}
			for _, cp := range parties {
				if rapid.Bool().Draw(t, "own") {
					h.Counterparties[forecast.Party{Direction: d, CounterpartyID: cp}] = delays(cp.String())
				}
			}
		}
		items := rapid.SliceOf(rapid.Custom(func(t *rapid.T) forecast.Open {
			return forecast.Open{
				Direction:      rapid.SampledFrom(directions).Draw(t, "direction"),
				Currency:       rapid.SampledFrom(currencies).Draw(t, "currency"),
				CounterpartyID: rapid.SampledFrom(parties).Draw(t, "counterparty"),
				DueDate:        day(rapid.IntRange(-400, 500).Draw(t, "due")),
				AmountMinor:    rapid.Int64Range(1, 1e12).Draw(t, "amount"),
				Invoices:       rapid.IntRange(1, 50).Draw(t, "invoices"),
			}
		})).Draw(t, "open")
		weeks := rapid.IntRange(1, forecast.MaxWeeks).Draw(t, "weeks")
		r := run(forecast.Input{Weeks: weeks, History: h, Open: items, Explain: true})

		want := map[string]forecast.Totals{}
		for _, o := range items {
			tot := want[o.Currency]
			if o.Direction == forecast.Receivable {
				tot.InflowsMinor += o.AmountMinor
				tot.ReceivableInvoices += o.Invoices
			} else {
				tot.OutflowsMinor += o.AmountMinor
				tot.PayableInvoices += o.Invoices
			}
			tot.NetMinor = tot.InflowsMinor - tot.OutflowsMinor
			want[o.Currency] = tot
		}
		require.Len(t, r.Forecasts, len(want))
		var explained int64
		for _, b := range r.Counterparties {
			explained += b.OpenAmountMinor
		}
		var total int64
		for _, f := range r.Forecasts {
			require.Equal(t, want[f.Currency], f.Totals, f.Currency)
			total += f.Totals.InflowsMinor + f.Totals.OutflowsMinor
			require.Len(t, f.Weeks, weeks)
			in, out := f.BeyondHorizon.Inflows, f.BeyondHorizon.Outflows
			var cumIn, cumOut forecast.Bands
			for _, w := range f.Weeks {
				in = forecast.Bands{P10: in.P10 + w.Inflows.P10, P50: in.P50 + w.Inflows.P50, P90: in.P90 + w.Inflows.P90}
				out = forecast.Bands{P10: out.P10 + w.Outflows.P10, P50: out.P50 + w.Outflows.P50, P90: out.P90 + w.Outflows.P90}
				cumIn = forecast.Bands{P10: cumIn.P10 + w.Inflows.P10, P50: cumIn.P50 + w.Inflows.P50, P90: cumIn.P90 + w.Inflows.P90}
				cumOut = forecast.Bands{P10: cumOut.P10 + w.Outflows.P10, P50: cumOut.P50 + w.Outflows.P50, P90: cumOut.P90 + w.Outflows.P90}
				require.True(t, cumIn.P10 >= cumIn.P50 && cumIn.P50 >= cumIn.P90, "week %d: early inflows come first: %+v", w.Week, cumIn)
				require.True(t, cumOut.P10 >= cumOut.P50 && cumOut.P50 >= cumOut.P90, "week %d: early outflows come first: %+v", w.Week, cumOut)
				require.Equal(t, cumIn.P50-cumOut.P50, w.CumulativeNetMinor)
				require.LessOrEqual(t, w.CumulativeNetLowMinor, w.CumulativeNetMinor)
				require.GreaterOrEqual(t, w.CumulativeNetHighMinor, w.CumulativeNetMinor)
			}
			tin, tout := f.Totals.InflowsMinor, f.Totals.OutflowsMinor
			require.Equal(t, forecast.Bands{P10: tin, P50: tin, P90: tin}, in, fmt.Sprintf("%s inflows", f.Currency))
			require.Equal(t, forecast.Bands{P10: tout, P50: tout, P90: tout}, out, fmt.Sprintf("%s outflows", f.Currency))
		}
		require.Equal(t, total, explained, "the explanation covers every open amount")
	})
}

// BenchmarkCompute is the large tenant of the store's comment: 68,000 open invoices
// over 20,000 customers with histories of their own.
func BenchmarkCompute(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := history(map[forecast.Direction]forecast.Delays{forecast.Receivable: {Observations: 200_000, P10: -3, P50: 8, P90: 30},
		forecast.Payable: {Observations: 20_000, P10: 0, P50: 2, P90: 9}}, nil)
	ids := make([]uuid.UUID, 20_000)
	for i := range ids {
		ids[i] = uuid.New()
		h.Counterparties[receivable(ids[i])] = forecast.Delays{Observations: rng.IntN(12), P10: -2, P50: rng.IntN(30), P90: 40}
	}
	in := forecast.Input{AsOf: asOf, Weeks: 13, Explain: true, History: h, Names: map[uuid.UUID]string{}}
	for i := range 68_000 {
		d, currency := forecast.Receivable, "USD"
		if i%10 == 0 {
			d = forecast.Payable
		}
		if i%7 == 0 {
			currency = "EUR"
		}
		in.Open = append(in.Open, forecast.Open{Direction: d, Currency: currency, CounterpartyID: ids[rng.IntN(len(ids))],
			DueDate: day(rng.IntN(400) - 300), AmountMinor: rng.Int64N(500_000), Invoices: 1})
	}
	b.ResetTimer()
	for b.Loop() {
		forecast.Compute(in)
	}
}
