package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one HTTP request of a load.
type Request struct {
	Method string
	Path   string
	Body   []byte
	Token  string
}

// Outcome is how a request ended: a status, or a transport error.
type Outcome struct {
	Status int
	Err    error
	Body   []byte // kept for failures only, to show what went wrong
}

func (o Outcome) ok() bool { return o.Err == nil && o.Status >= 200 && o.Status <= 299 }

// Doer sends one request.
type Doer func(ctx context.Context, r Request) Outcome

// StepStats is what one load step measured in its counted window.
type StepStats struct {
	Scheduled    int         `json:"scheduled"`
	Succeeded    int         `json:"succeeded"`
	Failed       int         `json:"failed"`  // answered non-2xx, or a transport error
	Dropped      int         `json:"dropped"` // never sent: the in-flight bound was reached
	Statuses     map[int]int `json:"statuses"`
	Latencies    Latencies   `json:"-"`
	Achieved     float64     `json:"achieved_rps"`
	Elapsed      time.Duration
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// Errors counts every request that did not succeed, dropped ones included.
func (s StepStats) Errors() int { return s.Failed + s.Dropped }

// maxErrorSamples bounds the failure bodies kept per step: the first few say what is
// wrong, the rest repeat it.
const maxErrorSamples = 5

// recorder collects the outcomes of the counted requests of a step.
type recorder struct {
	mu        sync.Mutex
	stats     StepStats
	latencies []time.Duration
	last      time.Time
}

func newRecorder() *recorder { return &recorder{stats: StepStats{Statuses: map[int]int{}}} }

func (r *recorder) dropped() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Scheduled++
	r.stats.Dropped++
	if len(r.stats.ErrorSamples) < maxErrorSamples {
		r.stats.ErrorSamples = append(r.stats.ErrorSamples, "dropped: too many requests in flight")
	}
}

func (r *recorder) done(o Outcome, latency time.Duration, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Scheduled++
	r.latencies = append(r.latencies, latency)
	if at.After(r.last) {
		r.last = at
	}
	if o.Err == nil {
		r.stats.Statuses[o.Status]++
	}
	if o.ok() {
		r.stats.Succeeded++
		return
	}
	r.stats.Failed++
	if len(r.stats.ErrorSamples) < maxErrorSamples {
		if o.Err != nil {
			r.stats.ErrorSamples = append(r.stats.ErrorSamples, "transport: "+o.Err.Error())
		} else {
			r.stats.ErrorSamples = append(r.stats.ErrorSamples, fmt.Sprintf("%d: %s", o.Status, bytes.TrimSpace(o.Body)))
		}
	}
}

// finish computes the rates over the window that started at from and was meant to
// last window. A backlog that drains after the window lengthens it, so a server that
// falls behind shows a lower achieved rate rather than the offered one.
func (r *recorder) finish(from time.Time, window time.Duration) StepStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Latencies = Summarize(r.latencies)
	s.Elapsed = window
	if d := r.last.Sub(from); d > s.Elapsed {
		s.Elapsed = d
	}
	if s.Elapsed > 0 {
		s.Achieved = float64(s.Succeeded) / s.Elapsed.Seconds()
	}
	return s
}

// Offset is when request i of a constant-rate schedule is due, from the step's start.
// Each offset is computed from i rather than by adding intervals, so rounding never
// accumulates into a drift of the rate.
func Offset(i int, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// OpenLoad is an open-model step: requests arrive at a constant rate whatever the
// server does, as independent clients do. Latency runs from the time a request was
// due, not from when it could be sent, so a server that stalls is charged for every
// request that waited (no coordinated omission).
type OpenLoad struct {
	Rate        float64
	Warmup      time.Duration // requests due before this are sent but not counted
	Duration    time.Duration // the counted window
	MaxInFlight int           // beyond this a due request is dropped and counted as an error
	Seed        uint64
	Next        func(r *rand.Rand) Request // called from the scheduling goroutine only
	Do          Doer
	// OnWindow is called when the counted window starts and when its last response
	// has arrived, to sample the processes' resource use over exactly that span.
	OnWindow func(start bool)
}

// RunOpen runs l and returns what its counted window measured.
func RunOpen(ctx context.Context, l OpenLoad) StepStats {
	rng := rand.New(rand.NewPCG(l.Seed, 0x6f70656e))
	rec := newRecorder()
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	start := time.Now()
	windowStart := start.Add(l.Warmup)
	total := l.Warmup + l.Duration
	inWindow := false
schedule:
	for i := 0; ; i++ {
		off := Offset(i, l.Rate)
		if off >= total {
			break
		}
		due := start.Add(off)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break schedule
			case <-timer.C:
			}
		}
		counted := off >= l.Warmup
		if counted && !inWindow {
			inWindow = true
			if l.OnWindow != nil {
				l.OnWindow(true)
			}
		}
		req := l.Next(rng)
		if inFlight.Load() >= int64(l.MaxInFlight) {
			if counted {
				rec.dropped()
			}
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			o := l.Do(ctx, req)
			end := time.Now()
			if counted {
				rec.done(o, end.Sub(due), end)
			}
		}()
	}
	wg.Wait()
	if l.OnWindow != nil && inWindow {
		l.OnWindow(false)
	}
	return rec.finish(windowStart, l.Duration)
}

// ClosedLoad is a closed-model step: Workers clients each send their next request as
// soon as the previous one is answered. It finds the maximum throughput at that
// concurrency, the way pgbench does.
type ClosedLoad struct {
	Workers  int
	Warmup   time.Duration
	Duration time.Duration
	Seed     uint64
	Next     func(r *rand.Rand) Request // called concurrently, each worker with its own r
	Do       Doer
}

// RunClosed runs l. Requests started in the counted window are counted.
func RunClosed(ctx context.Context, l ClosedLoad) StepStats {
	rec := newRecorder()
	start := time.Now()
	windowStart := start.Add(l.Warmup)
	end := windowStart.Add(l.Duration)
	var wg sync.WaitGroup
	for w := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(l.Seed, uint64(w)))
			for ctx.Err() == nil {
				req := l.Next(rng)
				sent := time.Now()
				if !sent.Before(end) {
					return
				}
				o := l.Do(ctx, req)
				done := time.Now()
				if !sent.Before(windowStart) {
					rec.done(o, done.Sub(sent), done)
				}
			}
		}()
	}
	wg.Wait()
	return rec.finish(windowStart, l.Duration)
}

// NewClient returns an HTTP client for a load against one host: keep-alive, and as
// many idle connections kept as requests may be in flight, so a burst does not end in
// a storm of new connections.
func NewClient(maxInFlight int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        maxInFlight + 16,
			MaxIdleConnsPerHost: maxInFlight + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// HTTPDoer sends requests to base with client.
func HTTPDoer(client *http.Client, base string) Doer {
	return func(ctx context.Context, r Request) Outcome {
		var body io.Reader
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
		if err != nil {
			return Outcome{Err: err}
		}
		if r.Token != "" {
			req.Header.Set("Authorization", "Bearer "+r.Token)
		}
		if r.Body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return Outcome{Err: err}
		}
		defer resp.Body.Close()
		o := Outcome{Status: resp.StatusCode}
		if o.ok() {
			// Read to the end so the connection is reused.
			_, _ = io.Copy(io.Discard, resp.Body)
			return o
		}
		o.Body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		_, _ = io.Copy(io.Discard, resp.Body)
		return o
	}
}
