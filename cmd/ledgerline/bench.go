package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/cmd/ledgerline/bench"
)

func runBench(ctx context.Context, args []string) error {
	_, err := benchMain(ctx, args, os.Stdout, os.Stderr)
	return err
}

// benchMain parses the flags and runs the benchmark: the report goes to stdout, the
// progress to stderr.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) (*bench.Report, error) {
	d := bench.DefaultConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	smoke := fs.Bool("smoke", false, "a run of well under a minute on a tiny seed (other flags still apply on top)")
	tenants := fs.Int("tenants", d.Sizes.Tenants, "tenants to seed (the first weighted 10 against 1 for each other)")
	cps := fs.Int("counterparties", d.Sizes.Counterparties, "counterparties to seed")
	invs := fs.Int("invoices", d.Sizes.Invoices, "invoices to seed, 3 lines each")
	heavy := fs.Int("heavy-weight", d.Sizes.HeavyWeight, "the first tenant's weight in data and traffic against 1 for each other")
	scale := fs.Float64("scale", d.Scale, "multiplier of counterparties and invoices, e.g. 0.1 for a quick run")
	rates := fs.String("rates", joinRates(d.Rates), "open-model arrival rates per second, comma-separated")
	duration := fs.Duration("duration", d.Duration, "counted window of each open-model step")
	warmup := fs.Duration("warmup", d.Warmup, "uncounted warm-up before each step")
	inFlight := fs.Int("max-inflight", d.MaxInFlight, "requests in flight beyond which a due request is dropped (an error)")
	maxConns := fs.Int("db-max-conns", d.DBMaxConns, "DB_MAX_CONNS of each function process")
	conc := fs.Int("concurrency", 0, "pgbench clients and closed-model workers (default: --db-max-conns)")
	cmpDur := fs.Duration("compare-duration", 0, "each pgbench and closed-model run (default: --duration)")
	repeat := fs.Int("repeat", d.Repeat, "runs of each step; the tables show medians")
	cold := fs.Int("cold-starts", d.ColdStarts, "cold starts of InvoicesGet")
	endpoints := fs.String("endpoints", "", "comma-separated entry points to run (default: all)")
	out := fs.String("out", d.Out, "JSON results file (empty: none)")
	seed := fs.Uint64("seed", d.Seed, "seed of the generated data and request mix")
	bin := fs.String("bin", "", "a built ledgerline binary to run instead of building one")
	noReports := fs.Bool("no-reports", false, "skip the reports' seed of 800,000 more invoices and their measurements")
	reportsOnly := fs.Bool("reports-only", false, "seed and measure only the reports (no load steps, no cold starts)")
	noImports := fs.Bool("no-imports", false, "skip the bulk import of 100,000 invoices")
	importsOnly := fs.Bool("imports-only", false, "measure only the bulk import (after the load seed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg := d
	if *smoke {
		cfg = cfg.AsSmoke()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := func(name string, f func()) {
		if set[name] {
			f()
		}
	}
	cfg.NoReports = *noReports
	cfg.NoImports, cfg.ImportsOnly = *noImports, *importsOnly
	if *reportsOnly {
		cfg.ReportsOnly = true
	}
	apply("tenants", func() { cfg.Sizes.Tenants = *tenants })
	apply("counterparties", func() { cfg.Sizes.Counterparties = *cps })
	apply("invoices", func() { cfg.Sizes.Invoices = *invs })
	apply("heavy-weight", func() { cfg.Sizes.HeavyWeight = *heavy })
	apply("scale", func() { cfg.Scale = *scale })
	apply("duration", func() { cfg.Duration = *duration })
	apply("warmup", func() { cfg.Warmup = *warmup })
	apply("max-inflight", func() { cfg.MaxInFlight = *inFlight })
	apply("db-max-conns", func() { cfg.DBMaxConns = *maxConns })
	apply("concurrency", func() { cfg.Concurrency = *conc })
	apply("compare-duration", func() { cfg.CompareDuration = *cmpDur })
	apply("repeat", func() { cfg.Repeat = *repeat })
	apply("cold-starts", func() { cfg.ColdStarts = *cold })
	apply("out", func() { cfg.Out = *out })
	apply("seed", func() { cfg.Seed = *seed })
	apply("bin", func() { cfg.Binary = *bin })
	if set["rates"] {
		rs, err := parseRates(*rates)
		if err != nil {
			return nil, err
		}
		cfg.Rates = rs
	}
	if *endpoints != "" {
		cfg.Endpoints = strings.Split(*endpoints, ",")
	}
	cfg.Progress = stderr
	return bench.Run(ctx, cfg, stdout)
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("--rates: %q is not a positive number", f)
		}
		out = append(out, r)
	}
	return out, nil
}

func joinRates(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}
