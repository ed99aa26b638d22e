// Package bench is Ledgerline's load and capacity benchmark: it runs the functions as
// production does (each its own process over a durable PostgreSQL holding a realistic
// seed), drives them with an open-model load generator, compares their throughput with
// pgbench running the same transactions, times cold starts, and reports against the
// latency and capacity targets.
package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Config is one benchmark run.
type Config struct {
	Sizes Sizes
	// Scale multiplies the counterparties and invoices (not the tenants).
	Scale float64

	Rates       []float64     // open-model arrival rates, requests per second
	Duration    time.Duration // counted window of each open-model step
	Warmup      time.Duration // sent before each step's window, not counted
	MaxInFlight int           // open-model bound; a request due beyond it is dropped (an error)

	DBMaxConns      int           // each function's pool (DB_MAX_CONNS)
	Concurrency     int           // pgbench clients and closed-model workers; 0 means DBMaxConns
	CompareDuration time.Duration // each pgbench and closed-model run
	CompareWarmup   time.Duration // closed-model requests before its window
	Slots           int           // rows the comparison spreads over

	Repeat     int // runs of each step; tables show the median
	ColdStarts int

	Endpoints []string // entry points to run; empty means all
	Out       string   // JSON results file; empty for none
	Seed      uint64
	Binary    string    // a built ledgerline to run; empty builds one
	Progress  io.Writer // progress bars and phase lines; nil discards them
	Smoke     bool
	// NoReports skips the reports' seed and measurements.
	NoReports bool
	// ReportsOnly runs only the reports' part (after the load seed, which it builds on).
	ReportsOnly bool
	// NoImports skips the bulk import; ImportsOnly runs only it.
	NoImports   bool
	ImportsOnly bool
}

// DefaultConfig is the full run.
func DefaultConfig() Config {
	return Config{
		Sizes: Sizes{Tenants: 20, Counterparties: 5_000, Invoices: 200_000, HeavyWeight: DefaultHeavyWeight}, Scale: 1,
		Rates: []float64{100, 300, 600}, Duration: 10 * time.Second, Warmup: 2 * time.Second, MaxInFlight: 512,
		DBMaxConns: 8, CompareWarmup: 2 * time.Second, Slots: 256,
		Repeat: 3, ColdStarts: 10, Out: "bench-results.json", Seed: 1,
	}
}

// AsSmoke shrinks c to a run of well under a minute that still exercises every part:
// the harness is tested by running it.
func (c Config) AsSmoke() Config {
	c.Smoke = true
	c.Sizes = Sizes{Tenants: 2, Counterparties: 50, Invoices: 500, HeavyWeight: c.Sizes.HeavyWeight}
	c.Scale = 1
	c.Rates = []float64{50}
	c.Duration, c.Warmup = 2*time.Second, 500*time.Millisecond
	c.CompareDuration, c.CompareWarmup = 2*time.Second, 0
	c.Slots = 16
	c.Repeat, c.ColdStarts = 1, 3
	return c
}

func (c Config) concurrency() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	return c.DBMaxConns
}

func (c Config) compareDuration() time.Duration {
	if c.CompareDuration > 0 {
		return c.CompareDuration
	}
	return c.Duration
}

func (c Config) sizes() Sizes {
	s := c.Sizes
	if c.Scale > 0 && c.Scale != 1 {
		s.Counterparties = max(2*s.Tenants, int(math.Round(float64(s.Counterparties)*c.Scale)))
		s.Invoices = max(s.Tenants, int(math.Round(float64(s.Invoices)*c.Scale)))
	}
	return s
}

func (c Config) endpoints() ([]Endpoint, error) {
	if len(c.Endpoints) == 0 {
		return Endpoints, nil
	}
	var out []Endpoint
	for _, name := range c.Endpoints {
		i := slices.IndexFunc(Endpoints, func(e Endpoint) bool { return e.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown endpoint %q", name)
		}
		out = append(out, Endpoints[i])
	}
	return out, nil
}

func (c Config) validate() error {
	s := c.sizes()
	switch {
	case s.Tenants < 1:
		return fmt.Errorf("at least one tenant")
	case s.Counterparties < 2*s.Tenants:
		return fmt.Errorf("at least two counterparties per tenant (a customer and a vendor)")
	case s.Invoices < 1:
		return fmt.Errorf("at least one invoice")
	case len(c.Rates) == 0:
		return fmt.Errorf("at least one rate")
	case c.Duration <= 0 || c.Repeat < 1 || c.MaxInFlight < 1 || c.DBMaxConns < 1 || c.Slots < 1:
		return fmt.Errorf("duration, repeat, max in flight, pool size and slots must be positive")
	}
	for _, r := range c.Rates {
		if r <= 0 {
			return fmt.Errorf("rates must be positive")
		}
	}
	return nil
}
