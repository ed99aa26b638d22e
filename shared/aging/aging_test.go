package aging

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func ptr[T any](v T) *T { return &v }

// TestReportMatchesFirstPrinciplesOnRandomLedgers ages random ledgers for many dates,
// bases and bucket sets and compares every line with a computation from the raw
// documents; every tie-out must show no difference.
func TestReportMatchesFirstPrinciplesOnRandomLedgers(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	svc := &Service{DB: d.App}
	today := civil.Date{Year: 2026, Month: 11, Day: 22}
	for seed := uint64(1); seed <= 3; seed++ {
		tenant := d.NewTenant(t, "random")
		l := newLedger(t, d.Admin, tenant)
		rng := rand.New(rand.NewPCG(seed, 99))
		randomLedger(t, l, rng, today, 250)

		dates := []civil.Date{today, today.AddDays(-1), today.AddDays(-45), today.AddDays(-130), today.AddDays(-400), today.AddDays(20)}
		edgeSets := [][]int{{30, 60, 90}, {7, 14, 30, 60, 90, 120}, {1}}
		for _, asOf := range dates {
			for _, basis := range []Basis{DueDate, IssueDate} {
				for _, dir := range []Direction{Receivable, Payable} {
					edges := edgeSets[rng.IntN(len(edgeSets))]
					p := Params{Direction: dir, AsOf: asOf, Basis: basis, Edges: edges}
					r, err := svc.Report(ctx, tenant, p)
					require.NoError(t, err)
					require.Equal(t, l.expected(p, edges), got(r), "seed %d as of %s %s %s", seed, asOf, basis, dir)
					require.True(t, slices.IsSortedFunc(r.Lines, func(a, b Line) int {
						return cmp.Or(strings.Compare(a.CounterpartyName, b.CounterpartyName),
							bytes.Compare(a.CounterpartyID[:], b.CounterpartyID[:]), strings.Compare(a.Currency, b.Currency))
					}), "lines by name, id and currency")
					for _, tie := range r.TieOut {
						require.Zero(t, tie.DifferenceMinor, "tie-out %+v", tie)
						require.True(t, tie.TiesOut)
					}
					requireTotalsAddUp(t, r)
				}
			}
		}
		// Filters give the same lines as filtering the full report.
		cp := l.invoices[0].counterparty
		p := Params{Direction: Receivable, AsOf: today.AddDays(-45), Basis: DueDate, Edges: DefaultEdges, CounterpartyID: &cp, Currency: ptr("USD")}
		r, err := svc.Report(ctx, tenant, p)
		require.NoError(t, err)
		require.Equal(t, l.expected(p, DefaultEdges), got(r))
		for _, line := range r.Lines {
			require.Equal(t, cp, line.CounterpartyID)
			require.Equal(t, "USD", line.Currency)
		}
	}
}

// requireTotalsAddUp checks each currency's totals are the sums of its lines.
func requireTotalsAddUp(t *testing.T, r Report) {
	t.Helper()
	sums := map[string][]int64{}
	for _, l := range r.Lines {
		row := sums[l.Currency]
		if row == nil {
			row = make([]int64, len(l.Buckets)+3)
		}
		row[0] += l.CurrentMinor
		for i, b := range l.Buckets {
			row[i+1] += b
		}
		row[len(l.Buckets)+1] += l.OlderMinor
		row[len(l.Buckets)+2] += l.TotalMinor
		sums[l.Currency] = row
	}
	require.Len(t, r.Totals, len(sums))
	for _, tot := range r.Totals {
		row := append([]int64{tot.CurrentMinor}, tot.Buckets...)
		row = append(row, tot.OlderMinor, tot.TotalMinor)
		require.Equal(t, sums[tot.Currency], row, tot.Currency)
	}
}

// TestBucketEdges pins which bucket each age lands in: day 0 is current, day 1 starts
// the first bucket, an edge day belongs to the bucket it closes.
func TestBucketEdges(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "edges")
	l := newLedger(t, d.Admin, tenant)
	cp := l.counterparty("Edge Co")
	asOf := civil.Date{Year: 2026, Month: 6, Day: 30}
	// One invoice per age, each with a distinct amount so the buckets identify them.
	ages := map[int]int64{-5: 1, 0: 2, 1: 4, 30: 8, 31: 16, 60: 32, 61: 64, 90: 128, 91: 256, 400: 512}
	for age, amt := range ages {
		due := asOf.AddDays(-age)
		issue := due.AddDays(-10)
		l.invoice(Receivable, cp, "EUR", issue, due, amt, false)
	}
	svc := &Service{DB: d.App}
	r, err := svc.Report(ctx, tenant, Params{Direction: Receivable, AsOf: asOf, Basis: DueDate, Edges: []int{30, 60, 90}})
	require.NoError(t, err)
	require.Len(t, r.Lines, 1)
	line := r.Lines[0]
	require.Equal(t, int64(1+2), line.CurrentMinor, "not yet due, and due on the as-of date")
	require.Equal(t, []int64{4 + 8, 16 + 32, 64 + 128}, line.Buckets, "1–30, 31–60, 61–90")
	require.Equal(t, int64(256+512), line.OlderMinor, "91 days and beyond")
	require.Equal(t, int64(1023), line.TotalMinor)
	require.Equal(t, int64(10), line.InvoiceCount)
	require.Equal(t, []Range{{1, ptr(30)}, {31, ptr(60)}, {61, ptr(90)}}, r.Buckets)
	require.Equal(t, 91, r.OlderFromDays)
	require.Equal(t, []Range{{1, ptr(30)}, {31, ptr(60)}, {61, ptr(90)}, {91, nil}}, Ranges(r.Edges))

	// By issue date every invoice is 10 days older than by due date.
	r, err = svc.Report(ctx, tenant, Params{Direction: Receivable, AsOf: asOf, Basis: IssueDate, Edges: []int{30, 60, 90}})
	require.NoError(t, err)
	line = r.Lines[0]
	require.Zero(t, line.CurrentMinor, "even the invoice due in 5 days was issued 5 days ago")
	require.Equal(t, int64(1+2+4), line.Buckets[0], "ages 5, 10 and 11")
	require.Equal(t, int64(8+16), line.Buckets[1], "ages 40 and 41")

	// Nothing is aged before it was issued.
	r, err = svc.Report(ctx, tenant, Params{Direction: Receivable, AsOf: asOf.AddDays(-500), Basis: DueDate, Edges: []int{30}})
	require.NoError(t, err)
	require.Empty(t, r.Lines)
	require.Empty(t, r.Totals)
	require.Empty(t, r.TieOut)
}

// TestAsOfPastDate walks one invoice through its life and ages it on each day that
// matters: before issue, issued, partly paid, credited, reversal, voided.
func TestAsOfPastDate(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "history")
	l := newLedger(t, d.Admin, tenant)
	cp := l.counterparty("History Ltd")
	day := func(n int) civil.Date { return civil.Date{Year: 2026, Month: 3, Day: 1}.AddDays(n) }
	at := func(n int, hour int) time.Time { return day(n).In(time.UTC).Add(time.Duration(hour) * time.Hour) }

	inv := l.invoice(Receivable, cp, "USD", day(0), day(30), 10000, false)
	alloc := l.allocate(inv, 3000, day(10))
	l.credit(inv, 1000, day(20))
	l.reverseLast(inv, alloc, at(40, 15)) // the payment bounced on day 40, 15:00 UTC
	paid := l.invoice(Receivable, cp, "USD", day(0), day(30), 500, false)
	l.allocate(paid, 500, day(50))
	voided := l.invoice(Receivable, cp, "USD", day(0), day(30), 700, false)
	l.void(voided, at(60, 23))

	svc := &Service{DB: d.App}
	total := func(n int) int64 {
		t.Helper()
		r, err := svc.Report(ctx, tenant, Params{Direction: Receivable, AsOf: day(n), Basis: DueDate, Edges: DefaultEdges})
		require.NoError(t, err)
		var sum int64
		for _, line := range r.Lines {
			sum += line.TotalMinor
		}
		for _, tie := range r.TieOut {
			require.True(t, tie.TiesOut, "%+v", tie)
		}
		return sum
	}
	require.Zero(t, total(-1), "nothing issued yet")
	require.Equal(t, int64(10000+500+700), total(0))
	require.Equal(t, int64(7000+500+700), total(10), "allocation effective on day 10")
	require.Equal(t, int64(6000+500+700), total(20), "credit note effective on day 20")
	require.Equal(t, int64(6000+500+700), total(39))
	require.Equal(t, int64(9000+500+700), total(40), "reversed during day 40: from that day on it pays nothing")
	require.Equal(t, int64(9000+700), total(50), "the other invoice paid on day 50")
	require.Equal(t, int64(9000+700), total(59))
	require.Equal(t, int64(9000), total(60), "voided during day 60")
	require.Equal(t, int64(9000), total(400))
}

func TestTenantEdges(t *testing.T) {
	require.Equal(t, DefaultEdges, TenantEdges(nil))
	require.Equal(t, DefaultEdges, TenantEdges([]byte(`{"aging_buckets": [30, 30]}`)))
	require.Equal(t, DefaultEdges, TenantEdges([]byte(`{"aging_buckets": [-1]}`)))
	require.Equal(t, DefaultEdges, TenantEdges([]byte(`{"aging_buckets": "30,60"}`)))
	require.Equal(t, []int{15, 45}, TenantEdges([]byte(`{"aging_buckets": [45, 15]}`)))
}

func TestParseEdges(t *testing.T) {
	for in, want := range map[string][]int{"30": {30}, "30,60,90,120": {30, 60, 90, 120}, " 7, 14": {7, 14}, "3650": {3650}} {
		got, problem := ParseEdges(in)
		require.Empty(t, problem, in)
		require.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{
		"":                              "must be comma-separated whole days between 1 and 3650",
		"0":                             "must be comma-separated whole days between 1 and 3650",
		"3651":                          "must be comma-separated whole days between 1 and 3650",
		"30,x":                          "must be comma-separated whole days between 1 and 3650",
		"60,30":                         "bucket edges must be strictly ascending",
		"30,30":                         "bucket edges must be strictly ascending",
		"1,2,3,4,5,6,7,8,9,10,11,12,13": "at most 12 bucket edges",
	} {
		_, problem := ParseEdges(in)
		require.Equal(t, want, problem, in)
	}
}

// A balance the buckets lost shows in the tie-out; a sum past int64 is an error.
func TestAssembleTieOutAndOverflow(t *testing.T) {
	p := Params{Direction: Receivable, AsOf: civil.Date{Year: 2026, Month: 1, Day: 1}, Basis: DueDate}
	id := uuid.New()
	r, err := assemble(p, []int{30}, []row{
		{counterpartyID: id, name: "A", currency: "USD", buckets: []int64{1, 2, 3}, control: 6, count: 2},
		{counterpartyID: id, name: "A", currency: "USD", buckets: []int64{0, 0, 4}, control: 9, count: 1},
	})
	require.NoError(t, err)
	require.Len(t, r.Lines, 1, "stored and correction rows of one key add up")
	require.Equal(t, Line{CounterpartyID: id, CounterpartyName: "A", Currency: "USD", CurrentMinor: 1, Buckets: []int64{2},
		OlderMinor: 7, TotalMinor: 10, InvoiceCount: 3}, r.Lines[0])
	require.Equal(t, []TieOut{{Currency: "USD", AgedTotalMinor: 10, OpenBalanceMinor: 15, DifferenceMinor: -5, InvoiceCount: 3}}, r.TieOut)

	_, err = assemble(p, []int{30}, []row{{counterpartyID: id, currency: "USD", buckets: []int64{math.MaxInt64, 1, 0}, count: 1}})
	require.Error(t, err)
	_, err = assemble(p, []int{30}, []row{{counterpartyID: id, currency: "USD", buckets: []int64{1}, count: 1}})
	require.Error(t, err, "a row with the wrong number of buckets")
}
