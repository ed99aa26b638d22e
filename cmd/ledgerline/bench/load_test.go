package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", durations(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100 is 50", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100 is 95", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100 is 99", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		// ceil(0.5 × 4) = 2: the second value, never an interpolation between values.
		{"p50 of four", durations(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four is the max", durations(1, 2, 3, 4), 99, 4 * time.Millisecond},
		// ceil(0.95 × 10) = 10: with ten samples p95 is the slowest one.
		{"p95 of ten", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, time.Millisecond},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Percentile(c.sorted, c.p), c.name)
	}
}

func TestSummarizeSortsAndReportsMax(t *testing.T) {
	t.Parallel()
	ls := durations(9, 1, 5, 3, 7, 2, 8, 4, 6, 10)
	s := Summarize(ls)
	require.Equal(t, Latencies{P50: 5 * time.Millisecond, P95: 10 * time.Millisecond, P99: 10 * time.Millisecond,
		Max: 10 * time.Millisecond}, s)
	require.IsNonDecreasing(t, ls)
	require.Equal(t, Latencies{}, Summarize(nil))
}

func TestMedian(t *testing.T) {
	t.Parallel()
	require.Zero(t, Median(nil))
	require.Equal(t, 3.0, Median([]float64{5, 3, 1}))
	require.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	xs := []float64{3, 1, 2}
	Median(xs)
	require.Equal(t, []float64{3, 1, 2}, xs, "the input is left as it was")
}

func TestOffsetIsExactAndDoesNotDrift(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Duration(0), Offset(0, 300))
	require.Equal(t, 10*time.Millisecond, Offset(1, 100))
	// 1/300 s is not a whole number of nanoseconds; adding it up would drift, computing
	// each offset from i does not.
	require.Equal(t, 10*time.Second, Offset(3000, 300))
	require.Equal(t, time.Second, Offset(600, 600))
	for i := 1; i < 10_000; i++ {
		require.Greater(t, Offset(i, 600), Offset(i-1, 600))
	}
}

func TestDistributeSumsToTotal(t *testing.T) {
	t.Parallel()
	require.Equal(t, []int{1724, 173, 173, 173, 173, 173, 173, 173, 173, 172, 172, 172, 172, 172, 172, 172, 172, 172, 172, 172},
		distribute(5000, append([]int{10}, repeat(1, 19)...)))
	require.Equal(t, []int{9, 1}, distribute(10, []int{10, 1}))
	require.Equal(t, []int{0, 3}, distribute(3, []int{0, 1}))
	for total := range 50 {
		got := distribute(total, []int{10, 1, 1, 1})
		sum := 0
		for _, n := range got {
			sum += n
		}
		require.Equal(t, total, sum)
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// instant answers at once.
func instant(context.Context, Request) Outcome { return Outcome{Status: 200} }

func TestRunOpenSendsExactlyTheScheduleAndCountsOnlyTheWindow(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	var windowEdges []bool
	st := RunOpen(context.Background(), OpenLoad{
		Rate: 200, Warmup: 100 * time.Millisecond, Duration: 250 * time.Millisecond, MaxInFlight: 100,
		Next: func(*rand.Rand) Request { return Request{} },
		Do: func(ctx context.Context, r Request) Outcome {
			sent.Add(1)
			return instant(ctx, r)
		},
		OnWindow: func(start bool) { windowEdges = append(windowEdges, start) },
	})
	// 350 ms at 200/s: offsets 0, 5, ... 345 ms are 70 requests; the 20 due in the first
	// 100 ms are warm-up.
	require.EqualValues(t, 70, sent.Load())
	require.Equal(t, 50, st.Scheduled)
	require.Equal(t, 50, st.Succeeded)
	require.Zero(t, st.Errors())
	require.Equal(t, map[int]int{200: 50}, st.Statuses)
	require.Equal(t, []bool{true, false}, windowEdges)
	require.InDelta(t, 200, st.Achieved, 20)
}

// TestRunOpenMeasuresFromTheScheduledTime: a server that handles one request at a
// time, 10 ms each, gets 200 requests/s. A closed-loop client would report ~10 ms per
// request; the open model must report the queue that builds up behind it.
func TestRunOpenMeasuresFromTheScheduledTime(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	serial := func(context.Context, Request) Outcome {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return Outcome{Status: 200}
	}
	st := RunOpen(context.Background(), OpenLoad{
		Rate: 200, Duration: 300 * time.Millisecond, MaxInFlight: 1000,
		Next: func(*rand.Rand) Request { return Request{} }, Do: serial,
	})
	require.Equal(t, 60, st.Scheduled)
	require.Equal(t, 60, st.Succeeded)
	// The last of 60 requests is due at 295 ms and served after 60 × 10 ms = 600 ms:
	// about 300 ms late. Service time alone would be 10 ms.
	require.Greater(t, st.Latencies.Max, 200*time.Millisecond)
	require.Greater(t, st.Latencies.P95, 150*time.Millisecond)
	// The backlog drains after the window, so fewer than 200/s were achieved.
	require.Less(t, st.Achieved, 130.0)
	require.Greater(t, st.Elapsed, 450*time.Millisecond)
}

func TestRunOpenDropsBeyondTheInFlightBound(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	stuck := func(ctx context.Context, _ Request) Outcome {
		<-release
		return Outcome{Status: 200}
	}
	time.AfterFunc(400*time.Millisecond, func() { close(release) })
	st := RunOpen(context.Background(), OpenLoad{
		Rate: 100, Duration: 200 * time.Millisecond, MaxInFlight: 3,
		Next: func(*rand.Rand) Request { return Request{} }, Do: stuck,
	})
	require.Equal(t, 20, st.Scheduled)
	require.Equal(t, 3, st.Succeeded)
	require.Equal(t, 17, st.Dropped)
	require.Equal(t, 17, st.Errors())
	require.Contains(t, st.ErrorSamples[0], "dropped")
	require.Len(t, st.ErrorSamples, maxErrorSamples)
}

func TestRunOpenCountsFailures(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	flaky := func(context.Context, Request) Outcome {
		switch n.Add(1) % 3 {
		case 0:
			return Outcome{Status: 422, Body: []byte(`{"code":"validation_failed"}`)}
		case 1:
			return Outcome{Err: errors.New("connection reset")}
		}
		return Outcome{Status: 201}
	}
	st := RunOpen(context.Background(), OpenLoad{
		Rate: 300, Duration: 100 * time.Millisecond, MaxInFlight: 100,
		Next: func(*rand.Rand) Request { return Request{} }, Do: flaky,
	})
	require.Equal(t, 30, st.Scheduled)
	require.Equal(t, 10, st.Succeeded)
	require.Equal(t, 20, st.Failed)
	require.Equal(t, map[int]int{201: 10, 422: 10}, st.Statuses)
	require.Len(t, st.ErrorSamples, maxErrorSamples)
	joined := ""
	for _, s := range st.ErrorSamples {
		joined += s + "\n"
	}
	require.Contains(t, joined, "422: {\"code\":\"validation_failed\"}")
	require.Contains(t, joined, "transport: connection reset")
}

func TestRunClosedKeepsWorkersBusy(t *testing.T) {
	t.Parallel()
	var active, peak atomic.Int64
	slow := func(context.Context, Request) Outcome {
		n := active.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		active.Add(-1)
		return Outcome{Status: 200}
	}
	st := RunClosed(context.Background(), ClosedLoad{
		Workers: 4, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond,
		Next: func(*rand.Rand) Request { return Request{} }, Do: slow,
	})
	require.EqualValues(t, 4, peak.Load())
	// Four workers at 5 ms each: at most 800/s, and a loaded machine still gets a good
	// share of it.
	require.Greater(t, st.Achieved, 200.0)
	require.LessOrEqual(t, st.Achieved, 800.0*1.05)
	require.Zero(t, st.Errors())
	require.GreaterOrEqual(t, st.Latencies.P50, 5*time.Millisecond)
}

func TestParsePgbench(t *testing.T) {
	t.Parallel()
	ok := `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/create_invoice.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 4321
number of failed transactions: 0 (0.000%)
latency average = 18.512 ms
initial connection time = 12.000 ms
tps = 432.156789 (without initial connection time)
`
	r, err := parsePgbench(ok)
	require.NoError(t, err)
	require.Equal(t, int64(4321), r.Processed)
	require.Equal(t, 432.156789, r.TPS)
	require.Equal(t, 18.512, r.LatencyMs)

	failed := `number of transactions actually processed: 100
number of failed transactions: 3 (2.913%)
tps = 10.0 (without initial connection time)
`
	_, err = parsePgbench(failed)
	require.ErrorContains(t, err, "3 transactions failed")

	aborted := `pgbench: error: client 0 script 0 aborted in command 4 query 0: ERROR:  permission denied for table bench_slots
number of transactions actually processed: 0/8
number of failed transactions: 0 (NaN%)
pgbench: error: Run was aborted; the above results are incomplete.
`
	_, err = parsePgbench(aborted)
	require.ErrorContains(t, err, "aborted")

	_, err = parsePgbench("connection to server failed")
	require.ErrorContains(t, err, "no summary")
}

func TestGeneratedDataIsConsistent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ts := generate(Sizes{Tenants: 3, Counterparties: 60, Invoices: 1200, HeavyWeight: DefaultHeavyWeight}, 7, now)
	require.Len(t, ts, 3)
	require.Equal(t, DefaultHeavyWeight, ts[0].Weight)
	require.Len(t, ts[0].invoices, 1000, "10:1:1 of 1200")
	seen := map[[16]byte]bool{}
	for _, tn := range ts {
		require.NotEmpty(t, tn.Customers)
		require.NotEmpty(t, tn.Vendors)
		last := map[string]int64{}
		for _, inv := range tn.invoices {
			require.False(t, seen[inv.id], "ids are unique")
			seen[inv.id] = true
			lines := genLines(inv.lineSeed, linesPerInvoice, inv.currency, inv.created)
			sub, tax, total := totals(lines)
			require.Equal(t, [3]int64{sub, tax, total}, [3]int64{inv.subtotal, inv.tax, inv.total})
			require.Positive(t, inv.total)
			require.LessOrEqual(t, inv.paid, inv.total)
			if inv.number > 0 {
				last[string(inv.direction)]++
				require.Equal(t, last[string(inv.direction)], inv.number, "numbers are gapless in issue order")
			} else {
				require.Zero(t, inv.paid, "nothing is paid on a draft")
			}
			require.Equal(t, inv.created.UnixMilli(), int64(uuidMillis(inv.id)), "the id carries the creation time")
		}
		for _, o := range tn.Open {
			require.GreaterOrEqual(t, o.Due, int64(openDueFloor))
		}
		for _, p := range tn.payments {
			require.True(t, p.created.After(p.inv.created))
			require.False(t, p.created.After(now))
			require.GreaterOrEqual(t, p.amount, p.allocated)
		}
	}
	// Same seed, same data.
	again := generate(Sizes{Tenants: 3, Counterparties: 60, Invoices: 1200, HeavyWeight: DefaultHeavyWeight}, 7, now)
	require.Equal(t, ts[1].Invoices, again[1].Invoices)
}

func uuidMillis(u [16]byte) uint64 {
	var ms uint64
	for i := range 6 {
		ms = ms<<8 | uint64(u[i])
	}
	return ms
}

func TestSlotsFollowTheWeights(t *testing.T) {
	t.Parallel()
	ts := generate(Sizes{Tenants: 5, Counterparties: 100, Invoices: 5000, HeavyWeight: DefaultHeavyWeight}, 3, time.Now())
	slots := makeSlots(ts, 140, rand.New(rand.NewPCG(1, 2)))
	require.Len(t, slots, 140)
	per := map[*Tenant]int{}
	for _, s := range slots {
		per[s.Tenant]++
		require.Contains(t, s.Tenant.Open, OpenInvoice{ID: s.Invoice, Counterparty: s.Counterparty, Currency: s.Currency,
			Due: dueOf(s.Tenant, s.Invoice)})
	}
	require.Equal(t, 100, per[ts[0]])
	require.Equal(t, 10, per[ts[4]])
}

func dueOf(t *Tenant, id [16]byte) int64 {
	for _, o := range t.Open {
		if o.ID == id {
			return o.Due
		}
	}
	return -1
}
