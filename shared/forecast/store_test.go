package forecast_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/forecast"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// books writes one tenant's history through the real services, so the triggers that
// keep amounts and statuses are the ones in production.
type books struct {
	t     *testing.T
	ctx   context.Context
	actor audit.Actor
	cps   *counterparties.Service
	inv   *invoices.Service
	pay   *payments.Service
}

func newBooks(t *testing.T, d *dbtest.Database, name string) *books {
	tenant := d.NewTenant(t, name)
	return &books{t: t, ctx: context.Background(), actor: audit.Actor{TenantID: tenant, Type: "user", ID: "test"},
		cps: &counterparties.Service{DB: d.App, Now: time.Now}, inv: &invoices.Service{DB: d.App, Now: time.Now},
		pay: &payments.Service{DB: d.App, Now: time.Now}}
}

func (b *books) counterparty(name string, kind counterparties.Kind) uuid.UUID {
	b.t.Helper()
	cp, err := b.cps.Create(b.ctx, b.actor, counterparties.CreateInput{Name: name, Kind: kind})
	require.NoError(b.t, err)
	return cp.ID
}

// invoice issues an invoice of amount due on due (open, or a draft).
func (b *books) invoice(d invoices.Direction, cp uuid.UUID, currency string, due civil.Date, amount int64, status invoices.Status) uuid.UUID {
	b.t.Helper()
	inv, err := b.inv.Create(b.ctx, b.actor, invoices.CreateInput{
		Direction: d, CounterpartyID: cp, Currency: currency, IssueDate: due.AddDays(-30), DueDate: &due, Status: &status,
		Lines: []invoices.LineInput{{Description: "work", Quantity: "1", UnitAmountMinor: &amount}},
	})
	require.NoError(b.t, err)
	return inv.ID
}

// settle pays amount of invoice id with a payment effective on date.
func (b *books) settle(d invoices.Direction, cp, id uuid.UUID, currency string, amount int64, date civil.Date) payments.Payment {
	b.t.Helper()
	dir := payments.Incoming
	if d == invoices.Payable {
		dir = payments.Outgoing
	}
	p, err := b.pay.Create(b.ctx, b.actor, payments.CreateInput{Direction: dir, CounterpartyID: cp, AmountMinor: amount,
		Currency: currency, ValueDate: date, Allocations: []payments.AllocationInput{{InvoiceID: id, AmountMinor: amount}}})
	require.NoError(b.t, err)
	return p
}

// paidAfter issues an invoice due on due and pays it in full delay days later.
func (b *books) paidAfter(d invoices.Direction, cp uuid.UUID, due civil.Date, delay int) {
	b.t.Helper()
	id := b.invoice(d, cp, "USD", due, 1000, invoices.Open)
	b.settle(d, cp, id, "USD", 1000, due.AddDays(delay))
}

// nearestRank is the documented percentile: of n sorted observations, the
// ⌈q·n/100⌉-th.
func nearestRank(sample []int, q int) int {
	s := slices.Sorted(slices.Values(sample))
	rank := (q*len(s) + 99) / 100
	return s[rank-1]
}

func TestNearestRankOnKnownSamples(t *testing.T) {
	oneToTen := []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	require.Equal(t, []int{1, 5, 9}, []int{nearestRank(oneToTen, 10), nearestRank(oneToTen, 50), nearestRank(oneToTen, 90)})
	thirty := make([]int, 30)
	for i := range thirty {
		thirty[i] = i + 1
	}
	require.Equal(t, []int{3, 15, 27}, []int{nearestRank(thirty, 10), nearestRank(thirty, 50), nearestRank(thirty, 90)})
	require.Equal(t, []int{7, 7, 7}, []int{nearestRank([]int{7}, 10), nearestRank([]int{7}, 50), nearestRank([]int{7}, 90)})
	require.Equal(t, []int{-2, 0, 50}, []int{nearestRank([]int{50, -2, 0}, 10), nearestRank([]int{50, -2, 0}, 50), nearestRank([]int{50, -2, 0}, 90)})
}

// percentile_disc takes the ⌈f·n⌉-th value, computing f·n in float8 (IEEE doubles, as
// Go's float64); for the fractions the store passes, that must be the documented rank
// ⌈q·n/100⌉, with no product rounding up past a whole number.
func TestPercentileDiscRanks(t *testing.T) {
	for _, q := range []int{10, 50, 90} {
		f := float64(q) / 100
		for n := 1; n <= 10_000_000; n++ {
			if got, want := int(math.Ceil(f*float64(n))), (q*n+99)/100; got != want {
				t.Fatalf("P%d of %d: percentile_disc's rank %d, nearest rank %d", q, n, got, want)
			}
		}
	}
}

func TestHistoryFromThePaymentsOfTheWindow(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	b := newBooks(t, d, "History")
	asOf := civil.Date{Year: 2026, Month: 6, Day: 30}
	rng := rand.New(rand.NewPCG(1, 2))

	// Acme pays 1..30 days late, in no particular order; Bolt three times, -2, 0 and 50
	// days; the vendor is paid 0, 0, 1, 2 and 3 days late.
	acme := b.counterparty("Acme", counterparties.Customer)
	bolt := b.counterparty("Bolt", counterparties.Customer)
	vendor := b.counterparty("Vendor", counterparties.Vendor)
	var acmeDelays, tenantDelays []int
	for i, delay := range rng.Perm(30) {
		b.paidAfter(invoices.Receivable, acme, asOf.AddDays(-200+i), delay+1)
		acmeDelays = append(acmeDelays, delay+1)
	}
	boltDelays := []int{-2, 0, 50}
	for i, delay := range boltDelays {
		b.paidAfter(invoices.Receivable, bolt, asOf.AddDays(-100+i), delay)
	}
	tenantDelays = append(append(tenantDelays, acmeDelays...), boltDelays...)
	vendorDelays := []int{0, 0, 1, 2, 3}
	for i, delay := range vendorDelays {
		b.paidAfter(invoices.Payable, vendor, asOf.AddDays(-50+i), delay)
	}

	// None of these is an observation: paid before the window (the window's first day
	// is asOf-364), paid in full only after asOf, paid in part, and re-opened by a
	// reversal.
	b.paidAfter(invoices.Receivable, bolt, asOf.AddDays(-400), 35) // paid on asOf-365
	late := b.invoice(invoices.Receivable, bolt, "USD", asOf.AddDays(-20), 1000, invoices.Open)
	b.settle(invoices.Receivable, bolt, late, "USD", 400, asOf.AddDays(-10))
	b.settle(invoices.Receivable, bolt, late, "USD", 600, asOf.AddDays(1))
	part := b.invoice(invoices.Receivable, bolt, "USD", asOf.AddDays(-20), 1000, invoices.Open)
	b.settle(invoices.Receivable, bolt, part, "USD", 300, asOf.AddDays(-15))
	bounced := b.invoice(invoices.Receivable, bolt, "USD", asOf.AddDays(-20), 1000, invoices.Open)
	p := b.settle(invoices.Receivable, bolt, bounced, "USD", 1000, asOf.AddDays(-18))
	_, err := b.pay.Reverse(b.ctx, b.actor, p.ID, payments.ReverseInput{Reason: "bounced"})
	require.NoError(t, err)

	// This one is: paid in two parts, the last on the window's first day, after a
	// reversed allocation that would have made it later.
	twice := b.invoice(invoices.Receivable, bolt, "USD", asOf.AddDays(-370), 1000, invoices.Open)
	b.settle(invoices.Receivable, bolt, twice, "USD", 500, asOf.AddDays(-380))
	q := b.settle(invoices.Receivable, bolt, twice, "USD", 500, asOf.AddDays(-300))
	_, err = b.pay.Reverse(b.ctx, b.actor, q.ID, payments.ReverseInput{Reason: "wrong"})
	require.NoError(t, err)
	b.settle(invoices.Receivable, bolt, twice, "USD", 500, asOf.AddDays(-364))
	boltDelays = append(boltDelays, 6)
	tenantDelays = append(tenantDelays, 6)

	// Open: Acme's and the vendor's one each, for the explanation.
	b.invoice(invoices.Receivable, acme, "USD", asOf, 1, invoices.Open)
	b.invoice(invoices.Payable, vendor, "USD", asOf, 1, invoices.Open)

	// Another tenant's history would move the tenant's percentiles, if it were seen.
	other := newBooks(t, d, "Other")
	stranger := other.counterparty("Stranger", counterparties.Customer)
	for i := range 10 {
		other.paidAfter(invoices.Receivable, stranger, asOf.AddDays(-120+i), 90)
	}

	svc := &forecast.Service{DB: d.App, Now: time.Now}
	r, err := svc.Report(b.ctx, b.actor.TenantID, forecast.Params{AsOf: &asOf, Explain: true})
	require.NoError(t, err)

	pct := func(sample []int) [3]int {
		return [3]int{nearestRank(sample, 10), nearestRank(sample, 50), nearestRank(sample, 90)}
	}
	require.Equal(t, [3]int{3, 15, 27}, pct(acmeDelays))
	tenant := r.History.Tenant
	require.Equal(t, forecast.Receivable, tenant[0].Direction)
	require.Equal(t, len(tenantDelays), tenant[0].Observations)
	require.Equal(t, pct(tenantDelays), [3]int{*tenant[0].P10Days, *tenant[0].P50Days, *tenant[0].P90Days})
	require.Equal(t, forecast.Payable, tenant[1].Direction)
	require.Equal(t, 5, tenant[1].Observations)
	require.Equal(t, [3]int{0, 1, 3}, [3]int{*tenant[1].P10Days, *tenant[1].P50Days, *tenant[1].P90Days})

	byName := map[string]forecast.Basis{}
	for _, c := range r.Counterparties {
		byName[c.Name] = c
	}
	require.Len(t, byName, 3, "Acme, Bolt (its part-paid and re-opened invoices) and the vendor")
	a := byName["Acme"]
	require.Equal(t, forecast.CounterpartyHistory, a.Method)
	require.Equal(t, 30, a.Observations)
	require.Equal(t, [3]int{3, 15, 27}, [3]int{a.P10Days, a.P50Days, a.P90Days})
	bo := byName["Bolt"]
	require.Equal(t, forecast.TenantHistory, bo.Method, "4 observations are too few")
	require.Equal(t, len(boltDelays), bo.Observations)
	require.Equal(t, pct(tenantDelays), [3]int{bo.P10Days, bo.P50Days, bo.P90Days})
	require.Equal(t, int64(700+1000), bo.OpenAmountMinor, "what is due today on part and bounced (late is paid by now)")
	require.Equal(t, 2, bo.OpenInvoices)
	v := byName["Vendor"]
	require.Equal(t, forecast.CounterpartyHistory, v.Method)
	require.Equal(t, [3]int{0, 1, 3}, [3]int{v.P10Days, v.P50Days, v.P90Days})
}

func TestOpenItems(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	b := newBooks(t, d, "Open")
	asOf := civil.Date{Year: 2026, Month: 6, Day: 29}
	acme := b.counterparty("Acme", counterparties.Customer)
	vendor := b.counterparty("Vendor", counterparties.Vendor)

	b.invoice(invoices.Receivable, acme, "USD", asOf.AddDays(3), 1000, invoices.Open)
	b.invoice(invoices.Receivable, acme, "USD", asOf.AddDays(3), 2000, invoices.Open)
	b.invoice(invoices.Receivable, acme, "USD", asOf.AddDays(3), 5000, invoices.Draft)
	written := b.invoice(invoices.Receivable, acme, "USD", asOf.AddDays(3), 7000, invoices.Open)
	controller := b.actor // separation of duties: not whoever raised the invoice
	controller.ID = "controller"
	_, err := b.inv.MarkUncollectible(b.ctx, controller, written, invoices.ReasonInput{})
	require.NoError(t, err)
	b.invoice(invoices.Payable, vendor, "USD", asOf.AddDays(10), 400, invoices.Open)
	b.invoice(invoices.Receivable, acme, "EUR", asOf.AddDays(-5), 90, invoices.Open)

	svc := &forecast.Service{DB: d.App, Now: func() time.Time { return asOf.In(time.UTC).Add(13 * time.Hour) }}
	r, err := svc.Report(b.ctx, b.actor.TenantID, forecast.Params{Weeks: 2})
	require.NoError(t, err)
	require.Equal(t, asOf, r.AsOf, "today (UTC) by default")
	require.Len(t, r.Forecasts, 2)
	eur, usd := r.Forecasts[0], r.Forecasts[1]
	require.Equal(t, forecast.Totals{InflowsMinor: 3000, OutflowsMinor: 400, NetMinor: 2600, ReceivableInvoices: 2, PayableInvoices: 1}, usd.Totals,
		"neither the draft nor the written-off invoice")
	require.Equal(t, forecast.Bands{P10: 3000, P50: 3000, P90: 3000}, usd.Weeks[0].Inflows, "no history: on the due date")
	require.Equal(t, forecast.Bands{P10: 400, P50: 400, P90: 400}, usd.Weeks[1].Outflows)
	require.Equal(t, forecast.Bands{P10: 90, P50: 90, P90: 90}, eur.Weeks[0].Inflows, "overdue: expected now")
	require.Nil(t, r.Counterparties)

	r, err = svc.Report(b.ctx, b.actor.TenantID, forecast.Params{Currency: new("EUR"), Explain: true})
	require.NoError(t, err)
	require.Len(t, r.Forecasts, 1)
	require.Equal(t, "EUR", r.Forecasts[0].Currency)
	require.Equal(t, []forecast.Basis{{CounterpartyID: acme, Name: "Acme", Direction: forecast.Receivable, Currency: "EUR",
		Method: forecast.DueDate, OpenAmountMinor: 90, OpenInvoices: 1}}, r.Counterparties)

	r, err = svc.Report(b.ctx, b.actor.TenantID, forecast.Params{Currency: new("GBP"), Explain: true})
	require.NoError(t, err)
	require.Len(t, r.Forecasts, 1)
	require.Zero(t, r.Forecasts[0].Totals)
	require.Empty(t, r.Counterparties)

	// Another tenant sees none of it.
	other := newBooks(t, d, "Other")
	r, err = svc.Report(b.ctx, other.actor.TenantID, forecast.Params{Explain: true})
	require.NoError(t, err)
	require.Empty(t, r.Forecasts)
	require.Empty(t, r.Counterparties)
}

func TestParamsAreValidated(t *testing.T) {
	svc := &forecast.Service{Now: time.Now} // refused before any read
	for name, p := range map[string]forecast.Params{
		"weeks":    {Weeks: forecast.MaxWeeks + 1},
		"as_of":    {AsOf: &civil.Date{Year: 9999, Month: 12, Day: 1}},
		"currency": {Currency: new("XYZ")},
	} {
		_, err := svc.Report(context.Background(), uuid.New(), p)
		e := apperr.From(err)
		require.Equal(t, "invalid_parameter", e.Code, name)
		require.Contains(t, e.Fields, name)
	}
}
