package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitInterval is how often the application's sessions are sampled.
const waitInterval = 20 * time.Millisecond

// waitSQL classifies each busy session of the application role: waiting on a lock, on
// I/O or the WAL, running (no wait event), or idle inside a transaction, which is the
// time between a function's round trips (its own work and the network).
const waitSQL = `SELECT CASE WHEN state = 'idle in transaction' THEN 'idle in transaction'
            WHEN wait_event IS NULL THEN 'running'
            ELSE wait_event_type || ':' || wait_event END, count(*)
  FROM pg_stat_activity
 WHERE usename = 'ledgerline_app' AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()
 GROUP BY 1`

// Waits is the average number of the application's sessions in each state over a
// window: where a transaction's time goes when the database is the limit.
type Waits map[string]float64

// String lists the states from the most to the least common, omitting rare ones.
func (w Waits) String() string {
	type kv struct {
		k string
		v float64
	}
	var xs []kv
	for k, v := range w {
		if v >= 0.05 {
			xs = append(xs, kv{k, v})
		}
	}
	slices.SortFunc(xs, func(a, b kv) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return strings.Compare(a.k, b.k)
	})
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%s %.1f", x.k, x.v)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// waitSampler samples pg_stat_activity from its own connection until stopped.
type waitSampler struct {
	stop chan struct{}
	done chan Waits
	once sync.Once
}

func sampleWaits(ctx context.Context, adminURL string) *waitSampler {
	s := &waitSampler{stop: make(chan struct{}), done: make(chan Waits, 1)}
	go func() {
		counts := map[string]float64{}
		samples := 0
		defer func() {
			out := Waits{}
			for k, v := range counts {
				out[k] = v / float64(max(samples, 1))
			}
			s.done <- out
		}()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(context.WithoutCancel(ctx))
		t := time.NewTicker(waitInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, waitSQL)
			if err != nil {
				return
			}
			for rows.Next() {
				var k string
				var n int64
				if rows.Scan(&k, &n) == nil {
					counts[k] += float64(n)
				}
			}
			rows.Close()
			samples++
		}
	}()
	return s
}

// result stops sampling and returns the averages.
func (s *waitSampler) result() Waits {
	s.once.Do(func() { close(s.stop) })
	return <-s.done
}
