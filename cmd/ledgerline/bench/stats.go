package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the nearest-rank percentile p (0 < p <= 100) of sorted, which
// must be in ascending order: the smallest value such that at least p% of the values
// are less than or equal to it. Nearest rank never interpolates, so every reported
// latency is one a request actually had. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Latencies summarises a set of request latencies.
type Latencies struct {
	P50, P95, P99, Max time.Duration
}

// Summarize sorts ls in place and returns its percentiles.
func Summarize(ls []time.Duration) Latencies {
	slices.Sort(ls)
	if len(ls) == 0 {
		return Latencies{}
	}
	return Latencies{
		P50: Percentile(ls, 50), P95: Percentile(ls, 95), P99: Percentile(ls, 99), Max: ls[len(ls)-1],
	}
}

// Median returns the median of xs (the mean of the middle two for an even count), 0
// for none. Repeated runs on a shared machine are summarised by their median so one
// disturbed run does not move the figure.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
