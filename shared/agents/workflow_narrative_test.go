package agents

import (
	"testing"

	"cloud.google.com/go/civil"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/forecast"
)

func TestNarrativeGrounding(t *testing.T) {
	report := forecast.Report{Object: "cash_forecast", AsOf: civil.Date{Year: 2026, Month: 11, Day: 2}, Weeks: 2,
		Forecasts: []forecast.Forecast{{Currency: "EUR",
			Weeks:  []forecast.Week{{Week: 1, NetMinor: -5000}, {Week: 2, NetMinor: 12000}},
			Totals: forecast.Totals{InflowsMinor: 12000, OutflowsMinor: 5000, NetMinor: 7000}}}}
	figures, err := Figures(report)
	require.NoError(t, err)
	require.Contains(t, figures[-5000], "forecasts[currency=EUR].weeks[week=1].net_minor")
	require.Contains(t, figures[12000], "forecasts[currency=EUR].totals.inflows_minor")
	require.NotContains(t, figures, int64(2), "the number of weeks is not an amount")

	// A magnitude counts (a shortfall of 50.00); a repeat is cited once.
	citations, ungrounded := Ground([]int64{5000, 12000, 12000}, figures)
	require.Empty(t, ungrounded)
	require.Len(t, citations, 2)
	_, ungrounded = Ground([]int64{7000, 7001}, figures)
	require.Equal(t, []int64{7001}, ungrounded)

	// Amounts written with a currency code, either side, in the report's currencies.
	n := ForecastNarrative{Summary: "EUR 120.00 in, 50.00 EUR out; USD 1.00 is not this report's.",
		Risks: []string{"a net of EUR 70.01"}}
	require.ElementsMatch(t, []int64{12000, 5000, 7001}, textAmounts(n, report))
}
