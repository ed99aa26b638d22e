package functions_test

import (
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

type forecastBands struct {
	P10 int64 `json:"p10_minor"`
	P50 int64 `json:"p50_minor"`
	P90 int64 `json:"p90_minor"`
}

type forecastWeek struct {
	Week               int           `json:"week"`
	StartDate          string        `json:"start_date"`
	EndDate            string        `json:"end_date"`
	Inflows            forecastBands `json:"inflows"`
	Outflows           forecastBands `json:"outflows"`
	NetMinor           int64         `json:"net_minor"`
	CumulativeNetMinor int64         `json:"cumulative_net_minor"`
}

type forecastCurrency struct {
	Currency      string         `json:"currency"`
	Weeks         []forecastWeek `json:"weeks"`
	BeyondHorizon struct {
		Inflows  forecastBands `json:"inflows"`
		Outflows forecastBands `json:"outflows"`
	} `json:"beyond_horizon"`
	Totals struct {
		InflowsMinor       int64 `json:"inflows_minor"`
		OutflowsMinor      int64 `json:"outflows_minor"`
		NetMinor           int64 `json:"net_minor"`
		ReceivableInvoices int   `json:"receivable_invoices"`
		PayableInvoices    int   `json:"payable_invoices"`
	} `json:"totals"`
}

type forecastBasis struct {
	CounterpartyID  string `json:"counterparty_id"`
	Name            string `json:"name"`
	Direction       string `json:"direction"`
	Currency        string `json:"currency"`
	Method          string `json:"method"`
	Observations    int    `json:"observations"`
	P10Days         int    `json:"p10_days"`
	P50Days         int    `json:"p50_days"`
	P90Days         int    `json:"p90_days"`
	OpenAmountMinor int64  `json:"open_amount_minor"`
	OpenInvoices    int    `json:"open_invoices"`
}

type cashForecast struct {
	Object  string `json:"object"`
	AsOf    string `json:"as_of"`
	Weeks   int    `json:"weeks"`
	Method  string `json:"method"`
	History struct {
		StartDate       string `json:"start_date"`
		EndDate         string `json:"end_date"`
		MinObservations int    `json:"min_observations"`
		Tenant          []struct {
			Direction    string `json:"direction"`
			Observations int    `json:"observations"`
			P10Days      *int   `json:"p10_days"`
			P50Days      *int   `json:"p50_days"`
			P90Days      *int   `json:"p90_days"`
		} `json:"tenant"`
	} `json:"history"`
	Forecasts      []forecastCurrency `json:"forecasts"`
	Counterparties []forecastBasis    `json:"counterparties"`
}

// forecastAsOf is the Monday the tests forecast from.
var forecastAsOf = civil.Date{Year: 2026, Month: 11, Day: 23}

func forecastDay(n int) string { return forecastAsOf.AddDays(n).String() }

func (f fixture) cashForecast(t *testing.T, query string) cashForecast {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/cash-forecast" + query, Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var r cashForecast
	resp.JSON(t, &r)
	return r
}

// forecastInvoice opens an invoice of 45000 (USD unless extra says otherwise) due on
// day due of the forecast.
func (f fixture) forecastInvoice(t *testing.T, due int, extra map[string]any) invoice {
	t.Helper()
	body := map[string]any{"issue_date": forecastDay(due - 30), "due_date": forecastDay(due)}
	for k, v := range extra {
		body[k] = v
	}
	return f.openInvoice(t, body)
}

// paidLate opens an invoice due on day due and pays it in full delay days later, with
// the allocation effective then.
func (f fixture) paidLate(t *testing.T, counterparty string, due, delay int) {
	t.Helper()
	inv := f.forecastInvoice(t, due, map[string]any{"counterparty_id": counterparty})
	resp, _ := f.pay(t, map[string]any{"counterparty_id": counterparty, "amount_minor": inv.AmountDueMinor,
		"value_date": forecastDay(due - 60), // the money arrived; the allocation's date is what counts
		"allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": inv.AmountDueMinor,
			"effective_date": forecastDay(due + delay)}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
}

// weekOf is the week each scenario's inflows (or outflows) fell in, 0 for none.
func weekOf(weeks []forecastWeek, outflows bool) [3]int {
	var got [3]int
	for _, w := range weeks {
		b := w.Inflows
		if outflows {
			b = w.Outflows
		}
		for s, amount := range []int64{b.P10, b.P50, b.P90} {
			if amount != 0 {
				got[s] = w.Week
			}
		}
	}
	return got
}

func TestCashForecastLearnsEachCounterpartysDaysToPay(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Forecast")
	prompt := f.customer // always exactly 10 days late
	rare := f.counterparty(t, map[string]any{"name": "Rare customer", "kind": "customer"})
	for i := range 5 {
		f.paidLate(t, prompt, -100+7*i, 10)
	}
	f.paidLate(t, rare, -50, 0)
	f.paidLate(t, rare, -40, 40)
	// Not an observation: its payment bounced (the allocation is reversed) and it was
	// settled by a credit note instead, so no payment tells when it was paid.
	inv := f.forecastInvoice(t, -30, map[string]any{"counterparty_id": rare})
	resp, p := f.pay(t, map[string]any{"counterparty_id": rare, "value_date": forecastDay(-10),
		"allocations": []any{alloc(inv.ID, inv.AmountDueMinor)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	resp, _ = f.post(t, "/v1/payments/"+p.ID+"/reverse", map[string]any{"reason": "bounced"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	f.mustCredit(t, inv.ID, map[string]any{"reason": "Settled otherwise", "amount_minor": inv.AmountDueMinor})
	require.Equal(t, "paid", f.getInvoice(t, inv.ID).Status)

	// The tenant's receivables: 0, 10, 10, 10, 10, 10, 40 days; nearest-rank P10 is the
	// 1st, P50 the 4th, P90 the 7th: 0, 10 and 40. Nothing was ever paid to the vendor.
	f.forecastInvoice(t, 2, nil)                                                                  // Prompt: day 12, week 2
	f.forecastInvoice(t, -30, nil)                                                                // Prompt: day -20, late: week 1
	f.forecastInvoice(t, 2, map[string]any{"counterparty_id": rare})                              // days 2, 12, 42: weeks 1, 2, 7
	f.forecastInvoice(t, 20, map[string]any{"direction": "payable", "counterparty_id": f.vendor}) // day 20: week 3
	f.forecastInvoice(t, 2, map[string]any{"currency": "EUR"})                                    // Prompt in EUR: week 2

	r := f.cashForecast(t, "?as_of="+forecastAsOf.String()+"&explain=true")
	require.Equal(t, "cash_forecast", r.Object)
	require.Equal(t, forecastAsOf.String(), r.AsOf)
	require.Equal(t, 13, r.Weeks)
	require.NotEmpty(t, r.Method)
	require.Equal(t, forecastDay(-364), r.History.StartDate)
	require.Equal(t, forecastAsOf.String(), r.History.EndDate)
	require.Equal(t, 5, r.History.MinObservations)
	require.Len(t, r.History.Tenant, 2)
	recv, pay := r.History.Tenant[0], r.History.Tenant[1]
	require.Equal(t, "receivable", recv.Direction)
	require.Equal(t, 7, recv.Observations)
	require.Equal(t, [3]int{0, 10, 40}, [3]int{*recv.P10Days, *recv.P50Days, *recv.P90Days})
	require.Equal(t, "payable", pay.Direction)
	require.Zero(t, pay.Observations)
	require.Nil(t, pay.P50Days)

	require.Len(t, r.Forecasts, 2)
	eur, usd := r.Forecasts[0], r.Forecasts[1]
	require.Equal(t, "EUR", eur.Currency)
	require.Equal(t, [3]int{2, 2, 2}, weekOf(eur.Weeks, false))
	require.Equal(t, int64(45000), eur.Totals.InflowsMinor)

	require.Equal(t, "USD", usd.Currency)
	require.Len(t, usd.Weeks, 13)
	require.Equal(t, forecastWeek{Week: 1, StartDate: forecastDay(0), EndDate: forecastDay(6),
		Inflows:  forecastBands{P10: 90000, P50: 45000, P90: 45000}, // Prompt's late one; Rare's early
		NetMinor: 45000, CumulativeNetMinor: 45000}, usd.Weeks[0])
	require.Equal(t, forecastBands{P10: 45000, P50: 90000, P90: 45000}, usd.Weeks[1].Inflows)
	require.Equal(t, forecastBands{P90: 45000}, usd.Weeks[6].Inflows)
	require.Equal(t, [3]int{3, 3, 3}, weekOf(usd.Weeks, true), "no history to pay the vendor by: the due date")
	require.Equal(t, int64(135000-45000), usd.Weeks[12].CumulativeNetMinor)
	require.Equal(t, forecastBands{}, usd.BeyondHorizon.Inflows)
	require.Equal(t, int64(135000), usd.Totals.InflowsMinor)
	require.Equal(t, int64(45000), usd.Totals.OutflowsMinor)
	require.Equal(t, 3, usd.Totals.ReceivableInvoices)
	require.Equal(t, 1, usd.Totals.PayableInvoices)

	require.Equal(t, []forecastBasis{
		{CounterpartyID: prompt, Name: "Forecast customer", Direction: "receivable", Currency: "EUR",
			Method: "counterparty_history", Observations: 5, P10Days: 10, P50Days: 10, P90Days: 10, OpenAmountMinor: 45000, OpenInvoices: 1},
		{CounterpartyID: prompt, Name: "Forecast customer", Direction: "receivable", Currency: "USD",
			Method: "counterparty_history", Observations: 5, P10Days: 10, P50Days: 10, P90Days: 10, OpenAmountMinor: 90000, OpenInvoices: 2},
		{CounterpartyID: rare, Name: "Rare customer", Direction: "receivable", Currency: "USD",
			Method: "tenant_history", Observations: 2, P10Days: 0, P50Days: 10, P90Days: 40, OpenAmountMinor: 45000, OpenInvoices: 1},
		{CounterpartyID: f.vendor, Name: "Forecast vendor", Direction: "payable", Currency: "USD",
			Method: "due_date", Observations: 0, OpenAmountMinor: 45000, OpenInvoices: 1},
	}, r.Counterparties)

	t.Run("one currency, fewer weeks, no explanation", func(t *testing.T) {
		r := f.cashForecast(t, "?as_of="+forecastAsOf.String()+"&currency=USD&weeks=2")
		require.Len(t, r.Forecasts, 1)
		require.Equal(t, "USD", r.Forecasts[0].Currency)
		require.Len(t, r.Forecasts[0].Weeks, 2)
		require.Equal(t, forecastBands{P90: 45000}, r.Forecasts[0].BeyondHorizon.Inflows, "Rare paying late, on day 42")
		require.Equal(t, forecastBands{P10: 45000, P50: 45000, P90: 45000}, r.Forecasts[0].BeyondHorizon.Outflows)
		require.Nil(t, r.Counterparties)
	})

	t.Run("a currency with nothing open", func(t *testing.T) {
		r := f.cashForecast(t, "?currency=GBP&explain=true")
		require.Len(t, r.Forecasts, 1)
		require.Equal(t, "GBP", r.Forecasts[0].Currency)
		require.Zero(t, r.Forecasts[0].Totals.InflowsMinor)
		require.NotNil(t, r.Counterparties)
		require.Empty(t, r.Counterparties)
	})

	t.Run("as of today by default", func(t *testing.T) {
		before := civil.DateOf(time.Now().UTC())
		r := f.cashForecast(t, "")
		require.Contains(t, []string{before.String(), civil.DateOf(time.Now().UTC()).String()}, r.AsOf)
		require.Equal(t, 13, r.Weeks)
	})

	t.Run("another tenant sees none of it", func(t *testing.T) {
		other := newFixture(t, s, "Elsewhere")
		other.forecastInvoice(t, 5, nil)
		r := other.cashForecast(t, "?as_of="+forecastAsOf.String()+"&explain=true")
		require.Zero(t, r.History.Tenant[0].Observations)
		require.Len(t, r.Forecasts, 1)
		require.Equal(t, int64(45000), r.Forecasts[0].Totals.InflowsMinor)
		require.Len(t, r.Counterparties, 1)
		require.Equal(t, other.customer, r.Counterparties[0].CounterpartyID)
		require.Equal(t, int64(135000), f.cashForecast(t, "?as_of="+forecastAsOf.String()+"&currency=USD").Forecasts[0].Totals.InflowsMinor)
	})

	t.Run("every reading role may see it", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/cash-forecast", Token: s.Token(t, f.tenant, auth.RoleViewer)})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/cash-forecast"})
		require.Equal(t, http.StatusUnauthorized, resp.Status)
	})
}

func TestCashForecastValidation(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Forecast validation")
	for _, c := range []struct{ query, field string }{
		{"weeks=0", "weeks"},
		{"weeks=53", "weeks"},
		{"weeks=four", "weeks"},
		{"weeks=1.5", "weeks"},
		{"currency=usd", "currency"},
		{"currency=XYZ", "currency"},
		{"as_of=2026-13-01", "as_of"},
		{"as_of=23.11.2026", "as_of"},
		{"as_of=9999-12-31", "as_of"},
		{"explain=yes", "explain"},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/cash-forecast?" + c.query, Token: f.token})
			p := requireProblem(t, resp, http.StatusBadRequest, "invalid_parameter")
			require.Contains(t, p.Errors, c.field)
			require.Len(t, p.Errors, 1)
		})
	}
	for _, q := range []string{"weeks=1", "weeks=52", "as_of=2024-02-29&weeks=52", "explain=false"} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/cash-forecast?" + q, Token: f.token})
		require.Equal(t, http.StatusOK, resp.Status, q)
	}
}
