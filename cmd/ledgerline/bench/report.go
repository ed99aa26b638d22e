package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is everything a run measured; Markdown renders it, and it is written as JSON.
type Report struct {
	Header    Header         `json:"header"`
	Seed      SeedReport     `json:"seed"`
	Load      []LoadRow      `json:"load"`
	Compare   []CompareRow   `json:"compare"`
	ColdStart ColdStarts     `json:"cold_start"`
	Reports   *ReportsReport `json:"reports,omitempty"`
	Imports   *ImportReport  `json:"imports,omitempty"`
	Targets   []Target       `json:"targets"`
}

// Header says when, where and how the run was made.
type Header struct {
	Started    string            `json:"started"`
	Source     string            `json:"source"`
	Finished   string            `json:"finished"`
	Machine    Machine           `json:"machine"`
	PostgreSQL string            `json:"postgresql"`
	Settings   map[string]string `json:"postgresql_settings"`
	Functions  string            `json:"functions"`
	Load       string            `json:"load"`
	Repeat     int               `json:"repeat"`
	Slots      int               `json:"comparison_slots"`
	Smoke      bool              `json:"smoke"`
}

// Machine describes the host.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model"`
	MemoryGiB float64 `json:"memory_gib"`
	Kernel    string  `json:"kernel"`
	Go        string  `json:"go"`
	LoadAvg   string  `json:"load_average_at_start"`
}

// SeedReport is what was seeded.
type SeedReport struct {
	Sizes    Sizes            `json:"sizes"`
	Rows     map[string]int64 `json:"rows"`
	Phases   []Phase          `json:"phases"`
	Seconds  float64          `json:"seconds"`
	Verified string           `json:"verified"`
}

// LoadRun is one step's measurements.
type LoadRun struct {
	AchievedRPS  float64     `json:"achieved_rps"`
	P50Ms        float64     `json:"p50_ms"`
	P95Ms        float64     `json:"p95_ms"`
	P99Ms        float64     `json:"p99_ms"`
	MaxMs        float64     `json:"max_ms"`
	Scheduled    int         `json:"scheduled"`
	Succeeded    int         `json:"succeeded"`
	Failed       int         `json:"failed"`
	Dropped      int         `json:"dropped"`
	Statuses     map[int]int `json:"statuses"`
	PeakRSSMiB   float64     `json:"peak_rss_mib"`
	CPUCores     float64     `json:"cpu_cores"`
	PGCores      float64     `json:"postgres_cores"`
	ErrorSamples []string    `json:"error_samples,omitempty"`
	// Waits is what the application's database sessions were doing, on average.
	Waits Waits `json:"postgres_sessions,omitempty"`
}

func (r LoadRun) errors() int { return r.Failed + r.Dropped }

func newLoadRun(st StepStats, peakMiB, cores, pg float64) LoadRun {
	return LoadRun{
		AchievedRPS: st.Achieved, P50Ms: ms(st.Latencies.P50), P95Ms: ms(st.Latencies.P95), P99Ms: ms(st.Latencies.P99),
		MaxMs: ms(st.Latencies.Max), Scheduled: st.Scheduled, Succeeded: st.Succeeded, Failed: st.Failed,
		Dropped: st.Dropped, Statuses: st.Statuses, PeakRSSMiB: peakMiB, CPUCores: cores, PGCores: pg,
		ErrorSamples: st.ErrorSamples,
	}
}

// LoadRow is one endpoint at one rate: the median of its runs (errors summed, peak
// memory the largest).
type LoadRow struct {
	Endpoint string    `json:"endpoint"`
	Rate     float64   `json:"rate"`
	Runs     []LoadRun `json:"runs"`
	Median   LoadRun   `json:"median"`
	Errors   int       `json:"errors"`
}

func medianRun(runs []LoadRun) LoadRun {
	col := func(f func(LoadRun) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return Median(xs)
	}
	m := LoadRun{
		AchievedRPS: col(func(r LoadRun) float64 { return r.AchievedRPS }),
		P50Ms:       col(func(r LoadRun) float64 { return r.P50Ms }),
		P95Ms:       col(func(r LoadRun) float64 { return r.P95Ms }),
		P99Ms:       col(func(r LoadRun) float64 { return r.P99Ms }),
		MaxMs:       col(func(r LoadRun) float64 { return r.MaxMs }),
		CPUCores:    col(func(r LoadRun) float64 { return r.CPUCores }),
		PGCores:     col(func(r LoadRun) float64 { return r.PGCores }),
		Statuses:    map[int]int{},
	}
	m.Waits = meanWaits(runs, func(r LoadRun) Waits { return r.Waits })
	for _, r := range runs {
		m.Scheduled += r.Scheduled
		m.Succeeded += r.Succeeded
		m.Failed += r.Failed
		m.Dropped += r.Dropped
		m.PeakRSSMiB = max(m.PeakRSSMiB, r.PeakRSSMiB)
		for k, v := range r.Statuses {
			m.Statuses[k] += v
		}
		for _, e := range r.ErrorSamples {
			if len(m.ErrorSamples) < maxErrorSamples {
				m.ErrorSamples = append(m.ErrorSamples, e)
			}
		}
	}
	return m
}

// meanWaits averages the session states of runs.
func meanWaits[T any](runs []T, of func(T) Waits) Waits {
	out := Waits{}
	for _, r := range runs {
		for k, v := range of(r) {
			out[k] += v / float64(len(runs))
		}
	}
	return out
}

func (r *LoadRow) summarize() {
	r.Median = medianRun(r.Runs)
	r.Errors = r.Median.errors()
}

// CompareRun is one pgbench run beside one closed-model run of the function.
type CompareRun struct {
	Pgbench        PgbenchResult `json:"pgbench"`
	PgbenchPGCores float64       `json:"pgbench_postgres_cores"`
	PgbenchWaits   Waits         `json:"pgbench_postgres_sessions"`
	Ours           LoadRun       `json:"ledgerline"`
}

// CompareRow compares the function with PostgreSQL running the same transaction at
// the same concurrency.
type CompareRow struct {
	Endpoint    string       `json:"endpoint"`
	Script      string       `json:"script"`
	Concurrency int          `json:"concurrency"`
	Runs        []CompareRun `json:"runs"`
	PgbenchTPS  float64      `json:"pgbench_tps"`
	PgbenchPG   float64      `json:"pgbench_postgres_cores"`
	PgbenchWait Waits        `json:"pgbench_postgres_sessions"`
	Ours        LoadRun      `json:"ledgerline"`
	Ratio       float64      `json:"ratio"` // median ledgerline rps / median pgbench tps
	Errors      int          `json:"errors"`
}

func (c *CompareRow) summarize() {
	var tps, pg []float64
	var ours []LoadRun
	for _, r := range c.Runs {
		tps = append(tps, r.Pgbench.TPS)
		pg = append(pg, r.PgbenchPGCores)
		ours = append(ours, r.Ours)
	}
	c.PgbenchTPS, c.PgbenchPG, c.Ours = Median(tps), Median(pg), medianRun(ours)
	c.PgbenchWait = meanWaits(c.Runs, func(r CompareRun) Waits { return r.PgbenchWaits })
	if c.PgbenchTPS > 0 {
		c.Ratio = c.Ours.AchievedRPS / c.PgbenchTPS
	}
	c.Errors = c.Ours.errors()
}

// Target is one goal and whether the run met it.
type Target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

const (
	targetRate   = 300
	targetP95Ms  = 10
	targetP99Ms  = 25
	targetRatio  = 0.5
	targetColdMs = 150
)

func targets(rep *Report, cfg Config) []Target {
	var out []Target
	// The latency targets are set at 300/s; a run without that rate is judged at its
	// highest rate below it, and says so.
	rate := 0.0
	for _, r := range cfg.Rates {
		if r <= targetRate && r > rate {
			rate = r
		}
	}
	for _, ep := range Endpoints {
		if !ep.SingleResource {
			continue
		}
		for _, row := range rep.Load {
			if row.Endpoint != ep.Name || row.Rate != rate {
				continue
			}
			m := row.Median
			out = append(out, Target{
				Name:     fmt.Sprintf("%s at %g/s: p95 ≤ %d ms and p99 ≤ %d ms", ep.Name, rate, targetP95Ms, targetP99Ms),
				Measured: fmt.Sprintf("p95 %.2f ms, p99 %.2f ms", m.P95Ms, m.P99Ms),
				Met:      m.P95Ms <= targetP95Ms && m.P99Ms <= targetP99Ms,
			})
		}
	}
	for _, c := range rep.Compare {
		if c.Endpoint == "InvoicesCreate" {
			out = append(out, Target{
				Name:     fmt.Sprintf("InvoicesCreate ≥ %.0f%% of pgbench at %d", 100*targetRatio, c.Concurrency),
				Measured: fmt.Sprintf("%.0f%% (%.0f/s against %.0f/s)", 100*c.Ratio, c.Ours.AchievedRPS, c.PgbenchTPS),
				Met:      c.Ratio >= targetRatio,
			})
		}
	}
	if len(rep.ColdStart.Samples) > 0 {
		out = append(out, Target{
			Name:     fmt.Sprintf("cold start (median) ≤ %d ms", targetColdMs),
			Measured: fmt.Sprintf("%.1f ms", rep.ColdStart.MedianMs),
			Met:      rep.ColdStart.MedianMs <= targetColdMs,
		})
	}
	if rep.Reports != nil {
		out = append(out, reportTargets(rep.Reports)...)
	}
	if rep.Imports != nil {
		out = append(out, importTargets(rep.Imports)...)
	}
	// Errors count at and below the target rate: above it the open model measures
	// capacity, where a saturated endpoint drops requests by design (the load table and
	// "First errors" still show them).
	errs, failed := 0, int64(0)
	for _, r := range rep.Load {
		if r.Rate <= targetRate {
			errs += r.Errors
		}
	}
	for _, c := range rep.Compare {
		errs += c.Errors
		for _, r := range c.Runs {
			failed += r.Pgbench.Failed
		}
	}
	out = append(out, Target{
		Name:     fmt.Sprintf("no errors (open model up to %d/s, closed-model comparison, pgbench)", targetRate),
		Measured: fmt.Sprintf("%d failed or dropped requests, %d failed pgbench transactions", errs, failed),
		Met:      errs == 0 && failed == 0,
	})
	return out
}

func newHeader(cfg Config) Header {
	h := Header{Started: time.Now().UTC().Format(time.RFC3339), Source: source(), Machine: machine(), Repeat: cfg.Repeat,
		Smoke: cfg.Smoke}
	h.Functions = fmt.Sprintf("each function under test ran as its own process of the built binary, as Cloud Run runs it: "+
		"`ledgerline serve` with FUNCTION_TARGET=<entry point>, PORT, DATABASE_URL (role ledgerline_app), "+
		"AUTH_ISSUER and AUTH_DEV_KEY_FILE (the development issuer; tokens of role accountant), DB_MAX_CONNS=%d and "+
		"LOG_LEVEL=%s, because at info every request writes a log line whose cost would be measured with the "+
		"request; no GOOGLE_CLOUD_PROJECT, so no post-commit event publishing (the outbox rows are written, "+
		"the sweeper would relay them)", cfg.DBMaxConns, logLevel)
	h.Load = fmt.Sprintf("open model from the benchmark process on the same machine: constant arrival rate, latency "+
		"from each request's scheduled time (no coordinated omission), at most %d requests in flight (a request "+
		"due beyond that is dropped and counted as an error), HTTP/1.1 keep-alive; each step %s of warm-up, "+
		"then %s counted; CPU is utime+stime over the counted window in cores, peak RSS is VmHWM (reset per "+
		"step); tables show the median of %d runs (errors summed, peak RSS the largest)",
		cfg.MaxInFlight, cfg.Warmup, cfg.Duration, cfg.Repeat)
	return h
}

// source names the code measured: the commit, and whether the tree had changes on top.
func source() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	s := "commit " + strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		s += " with uncommitted changes"
	}
	return s
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if k := statusLine("/proc/meminfo", "MemTotal"); k > 0 {
		m.MemoryGiB = float64(k) / (1 << 20)
	}
	return m
}

func statusLine(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			var n int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &n)
			return n
		}
	}
	return 0
}

func (h *Header) readPostgres(ctx context.Context, s *stack) error {
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&h.PostgreSQL); err != nil {
		return err
	}
	h.Settings = map[string]string{}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level",
		"max_wal_size", "checkpoint_timeout", "max_connections"} {
		var v string
		if err := conn.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return err
		}
		h.Settings[name] = v
	}
	return nil
}

// Markdown writes the report as Markdown tables.
func (r *Report) Markdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	h := r.Header
	m := h.Machine
	title := "Ledgerline benchmark"
	if h.Smoke {
		title += " (smoke run: tiny seed, figures not meaningful)"
	}
	p("# %s\n\n", title)
	p("- Date: %s to %s; code: %s\n", h.Started, h.Finished, h.Source)
	p("- Machine: %d CPUs (%s), %.1f GiB memory, Linux %s, %s; load average at start %s\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.Kernel, m.Go, m.LoadAvg)
	var settings []string
	for k, v := range h.Settings {
		settings = append(settings, k+"="+v)
	}
	slices.Sort(settings)
	p("- PostgreSQL %s, a throwaway cluster on the same machine: %s\n", h.PostgreSQL, strings.Join(settings, ", "))
	sr := r.Seed
	p("- Seed: %d tenants (one weighted %d against 1 for each other, in data and traffic), %d counterparties, "+
		"%d invoices with %d lines (%d draft, %d open, %d paid), %d payments each allocated to one invoice, "+
		"%d audit records and %d outbox events; written with COPY through the schema's constraints and triggers "+
		"in %.0f s; %s\n",
		sr.Rows["tenants"], sr.Sizes.HeavyWeight, sr.Rows["counterparties"], sr.Rows["invoices"], sr.Rows["invoice_lines"],
		sr.Rows["invoices draft"], sr.Rows["invoices open"], sr.Rows["invoices paid"], sr.Rows["payments"],
		sr.Rows["audit_events"], sr.Rows["outbox_events"], sr.Seconds, sr.Verified)
	p("- Functions: %s\n", h.Functions)
	p("- Load: %s\n\n", h.Load)

	p("## Load (open model)\n\n")
	p("| endpoint | rate /s | achieved /s | p50 ms | p95 ms | p99 ms | max ms | errors | peak RSS MiB | CPU cores | PostgreSQL cores |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Load {
		x := row.Median
		p("| %s | %g | %.1f | %.2f | %.2f | %.2f | %.2f | %d | %.1f | %.2f | %.2f |\n", row.Endpoint, row.Rate,
			x.AchievedRPS, x.P50Ms, x.P95Ms, x.P99Ms, x.MaxMs, row.Errors, x.PeakRSSMiB, x.CPUCores, x.PGCores)
	}
	p("\n")

	if len(r.Compare) > 0 {
		n := r.Compare[0].Concurrency
		p("## PostgreSQL's limit (closed model, %d clients)\n\n", n)
		p("pgbench runs the transaction each function runs (same statements, same round trips, as ledgerline_app, "+
			"prepared statements) with %d clients; the function gets %d workers sending back to back through HTTP. "+
			"Both pick uniformly from the same %d (tenant, customer, open invoice) slots, spread over tenants by weight.\n\n",
			n, n, r.Header.Slots)
		p("| operation | pgbench tps | ledgerline /s | ledgerline / pgbench | ledgerline p50 ms | p99 ms | function cores | PostgreSQL cores (ledgerline) | PostgreSQL cores (pgbench) | errors |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range r.Compare {
			o := c.Ours
			p("| %s | %.0f | %.0f | %.0f%% | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", c.Endpoint, c.PgbenchTPS,
				o.AchievedRPS, 100*c.Ratio, o.P50Ms, o.P99Ms, o.CPUCores, o.PGCores, c.PgbenchPG, c.Errors)
		}
		p("\n")
	}

	if cs := r.ColdStart; len(cs.Samples) > 0 {
		p("## Cold start (%s, %d starts)\n\n", cs.Function, len(cs.Samples))
		p("From exec of the process to the first 200 to a GET with a valid token, polled every millisecond; " +
			"includes building the dependencies and the first database connection.\n\n")
		p("| median ms | min ms | max ms | RSS after the first response MiB (median) |\n|---:|---:|---:|---:|\n")
		p("| %.1f | %.1f | %.1f | %.1f |\n\n", cs.MedianMs, cs.MinMs, cs.MaxMs, cs.MedianRSSMiB)
	}

	if r.Reports != nil {
		r.Reports.markdown(p)
	}
	if r.Imports != nil {
		r.Imports.markdown(p)
	}

	p("## PostgreSQL sessions\n\n")
	p("The application role's sessions sampled every %s during each counted window: the average number running, "+
		"waiting (on a lock, on the WAL or I/O), or idle inside a transaction (waiting for the function's next round "+
		"trip). Row-lock waits (Lock:transactionid, Lock:tuple) are transactions queued behind another holding the "+
		"same row until it commits.\n\n", waitInterval)
	p("| step | average sessions by state |\n|---|---|\n")
	for _, row := range r.Load {
		p("| %s at %g/s | %s |\n", row.Endpoint, row.Rate, row.Median.Waits)
	}
	for _, c := range r.Compare {
		p("| %s, closed model at %d | %s |\n", c.Endpoint, c.Concurrency, c.Ours.Waits)
		p("| pgbench %s at %d | %s |\n", c.Script, c.Concurrency, c.PgbenchWait)
	}
	p("\n")

	p("## Targets\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Met {
			verdict = "**missed**"
		}
		p("| %s | %s | %s |\n", t.Name, t.Measured, verdict)
	}
	p("\n")

	var samples []string
	for _, row := range r.Load {
		for _, e := range row.Median.ErrorSamples {
			samples = append(samples, fmt.Sprintf("%s at %g/s: %s", row.Endpoint, row.Rate, e))
		}
	}
	for _, c := range r.Compare {
		for _, e := range c.Ours.ErrorSamples {
			samples = append(samples, fmt.Sprintf("%s closed model: %s", c.Endpoint, e))
		}
	}
	if len(samples) > 0 {
		p("## First errors\n\n")
		for _, s := range samples {
			p("- %s\n", strings.ReplaceAll(s, "\n", " "))
		}
		p("\n")
	}
	return bw.Flush()
}
