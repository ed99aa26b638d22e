package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db"
)

// Run runs the benchmark cfg describes, writes the Markdown report to stdout and the
// JSON one to cfg.Out, and returns the report.
func Run(ctx context.Context, cfg Config, stdout io.Writer) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	eps, err := cfg.endpoints()
	if err != nil {
		return nil, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{Header: newHeader(cfg)}
	s, err := startStack(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := rep.Header.readPostgres(ctx, s); err != nil {
		return nil, err
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	sizes := cfg.sizes()
	fmt.Fprintf(progress, "seeding %d tenants, %d counterparties, %d invoices\n", sizes.Tenants, sizes.Counterparties, sizes.Invoices)
	seedStart := time.Now()
	ts := generate(sizes, cfg.Seed, now)
	for _, t := range ts {
		if t.Token, err = s.issuer.Issue(t.ID, benchActor, []auth.Role{auth.RoleAccountant}, 24*time.Hour); err != nil {
			return nil, err
		}
	}
	phases, err := seedDB(ctx, s.urls.Admin, ts, progress)
	if err != nil {
		return nil, err
	}
	rep.Seed = SeedReport{Sizes: sizes, Phases: phases, Seconds: time.Since(seedStart).Seconds()}
	if err := rep.Seed.check(ctx, s, ts); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x736c6f74))
	slots := makeSlots(ts, cfg.Slots, rng)
	if len(slots) == 0 {
		return nil, fmt.Errorf("the seed has no open receivable to pay: raise --invoices")
	}
	if err := createSlots(ctx, s.urls.Admin, slots); err != nil {
		return nil, err
	}
	rep.Header.Slots = len(slots)
	w := newWorld(ts, slots, now)

	b := &runner{cfg: cfg, s: s, w: w, pgPID: s.postmasterPID(), progress: progress}
	if cfg.ReportsOnly || cfg.ImportsOnly {
		eps, cfg.ColdStarts = nil, 0
	}
	for _, ep := range eps {
		if err := b.endpoint(ctx, ep, rep); err != nil {
			return nil, err
		}
	}

	if cfg.ColdStarts > 0 {
		fmt.Fprintf(progress, "cold start: InvoicesGet ×%d\n", cfg.ColdStarts)
		req := getInvoice(w, rng)
		if rep.ColdStart, err = coldStart(ctx, s, "InvoicesGet", cfg.DBMaxConns, cfg.ColdStarts, req); err != nil {
			return nil, err
		}
	}
	if !cfg.NoReports && !cfg.ImportsOnly {
		sizes := DefaultReportSizes
		if cfg.Smoke {
			sizes = smokeReportSizes
		}
		if err := b.reports(ctx, rep, sizes); err != nil {
			return nil, err
		}
	}
	if !cfg.NoImports && !cfg.ReportsOnly {
		sizes := DefaultImportSizes
		if cfg.Smoke {
			sizes = smokeImportSizes
		}
		if err := b.importsBench(ctx, rep, sizes); err != nil {
			return nil, err
		}
	}
	rep.Targets = targets(rep, cfg)
	rep.Header.Finished = time.Now().UTC().Format(time.RFC3339)

	if err := rep.Markdown(stdout); err != nil {
		return nil, err
	}
	if cfg.Out != "" {
		js, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(cfg.Out, append(js, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

type runner struct {
	cfg      Config
	s        *stack
	w        *World
	pgPID    int
	progress io.Writer
}

// endpoint runs one function: its open-model steps, then, when it has a script, the
// closed-model and pgbench runs alternately, so drift on a shared machine hits both.
func (b *runner) endpoint(ctx context.Context, ep Endpoint, rep *Report) error {
	p, err := b.s.start(ctx, ep.Name, b.cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer p.stop()
	client := NewClient(b.cfg.MaxInFlight)
	defer client.CloseIdleConnections()
	do := HTTPDoer(client, p.base)

	for i, rate := range b.cfg.Rates {
		row := LoadRow{Endpoint: ep.Name, Rate: rate}
		for r := range b.cfg.Repeat {
			fmt.Fprintf(b.progress, "%s at %g/s (run %d of %d)\n", ep.Name, rate, r+1, b.cfg.Repeat)
			row.Runs = append(row.Runs, b.open(ctx, p, ep, rate, do, b.cfg.Seed+uint64(1000*i+r)))
		}
		row.summarize()
		rep.Load = append(rep.Load, row)
	}
	if ep.Script == "" {
		return nil
	}
	n := b.cfg.concurrency()
	vars := scriptVars(ep.Script, len(b.w.Slots), time.Now().UTC())
	row := CompareRow{Endpoint: ep.Name, Script: ep.Script, Concurrency: n}
	for r := range b.cfg.Repeat {
		fmt.Fprintf(b.progress, "%s closed model at %d (run %d of %d)\n", ep.Name, n, r+1, b.cfg.Repeat)
		ours := b.closed(ctx, p, ep, n, do, b.cfg.Seed+uint64(7000+r))
		fmt.Fprintf(b.progress, "pgbench %s at %d (run %d of %d)\n", ep.Script, n, r+1, b.cfg.Repeat)
		waits := sampleWaits(ctx, b.s.urls.Admin)
		u0 := sampleUsage(p.pid(), b.pgPID)
		pg, err := runPgbench(ctx, b.s.pgBin, b.s.tmp, b.s.urls.App, ep.Script, vars, n, b.cfg.compareDuration())
		if err != nil {
			return err
		}
		_, pgCores := u0.cores(sampleUsage(p.pid(), b.pgPID))
		row.Runs = append(row.Runs, CompareRun{Pgbench: pg, PgbenchPGCores: pgCores, PgbenchWaits: waits.result(), Ours: ours})
	}
	row.summarize()
	rep.Compare = append(rep.Compare, row)
	return nil
}

// window samples the function's and PostgreSQL's CPU, and the database sessions, over
// a step's counted window. Sampling PostgreSQL walks /proc, so it runs beside the
// scheduler, not in its way.
type window struct {
	b           *runner
	ctx         context.Context
	pid         int
	started     chan usage
	fnC, pgC    float64
	startedOnce bool
	waits       *waitSampler
	sessions    Waits
}

func (b *runner) window(ctx context.Context, pid int) *window {
	return &window{b: b, ctx: ctx, pid: pid, started: make(chan usage, 1)}
}

func (w *window) edge(start bool) {
	if start {
		w.startedOnce = true
		w.waits = sampleWaits(w.ctx, w.b.s.urls.Admin)
		go func() { w.started <- sampleUsage(w.pid, w.b.pgPID) }()
		return
	}
	if w.startedOnce {
		u0 := <-w.started
		w.fnC, w.pgC = u0.cores(sampleUsage(w.pid, w.b.pgPID))
		w.sessions = w.waits.result()
	}
}

func (b *runner) open(ctx context.Context, p *process, ep Endpoint, rate float64, do Doer, seed uint64) LoadRun {
	resetPeakRSS(p.pid())
	win := b.window(ctx, p.pid())
	st := RunOpen(ctx, OpenLoad{
		Rate: rate, Warmup: b.cfg.Warmup, Duration: b.cfg.Duration, MaxInFlight: b.cfg.MaxInFlight, Seed: seed,
		Next: func(r *rand.Rand) Request { return ep.Open(b.w, r) }, Do: do, OnWindow: win.edge,
	})
	run := newLoadRun(st, kibToMiB(statusKiB(p.pid(), "VmHWM")), win.fnC, win.pgC)
	run.Waits = win.sessions
	return run
}

func (b *runner) closed(ctx context.Context, p *process, ep Endpoint, n int, do Doer, seed uint64) LoadRun {
	resetPeakRSS(p.pid())
	slots := b.w.Slots
	next := func(r *rand.Rand) Request { return ep.Slot(b.w, slots[r.IntN(len(slots))], r) }
	if b.cfg.CompareWarmup > 0 {
		RunClosed(ctx, ClosedLoad{Workers: n, Duration: b.cfg.CompareWarmup, Seed: seed ^ 0x77, Next: next, Do: do})
	}
	waits := sampleWaits(ctx, b.s.urls.Admin)
	u0 := sampleUsage(p.pid(), b.pgPID)
	st := RunClosed(ctx, ClosedLoad{Workers: n, Duration: b.cfg.compareDuration(), Seed: seed, Next: next, Do: do})
	fn, pg := u0.cores(sampleUsage(p.pid(), b.pgPID))
	run := newLoadRun(st, kibToMiB(statusKiB(p.pid(), "VmHWM")), fn, pg)
	run.Waits = waits.result()
	return run
}

// check reads back what the seed wrote and verifies it as the API would: the document
// counters match the numbers issued, and the audit chain verifies (every tenant's when
// small, else the smallest tenant's, whose walk is short).
func (sr *SeedReport) check(ctx context.Context, s *stack, ts []*Tenant) error {
	conn, err := s.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	sr.Rows = map[string]int64{}
	for _, table := range []string{"tenants", "counterparties", "invoices", "invoice_lines", "payments", "allocations",
		"audit_events", "outbox_events"} {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			return err
		}
		sr.Rows[table] = n
	}
	rows, err := conn.Query(ctx, `SELECT status, count(*) FROM invoices GROUP BY status`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		sr.Rows["invoices "+st] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var bad int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM document_counters c
  LEFT JOIN (SELECT tenant_id, direction, count(number) AS n,
                    coalesce(max(substring(number from '[0-9]+$')::bigint), 0) AS top
               FROM invoices GROUP BY tenant_id, direction) i
    ON i.tenant_id = c.tenant_id AND i.direction = c.sequence
 WHERE c.sequence <> 'credit_note' AND (c.last_number <> coalesce(i.n, 0) OR c.last_number <> coalesce(i.top, 0))`).Scan(&bad); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("seed: %d document counters do not match the numbers issued", bad)
	}

	app, err := db.OpenURL(ctx, s.urls.App, 2)
	if err != nil {
		return err
	}
	defer app.Close()
	check := ts
	if sr.Rows["audit_events"] > 50_000 {
		check = ts[len(ts)-1:]
	}
	var names []string
	for _, t := range check {
		var v audit.Verification
		if err := app.InTenantTx(ctx, t.ID, func(tx pgx.Tx) error {
			var err error
			v, err = audit.Verify(ctx, tx)
			return err
		}); err != nil {
			return err
		}
		if !v.Valid || v.Events == 0 {
			return fmt.Errorf("seed: the audit chain of tenant %s does not verify: %+v", t.ID, v)
		}
		names = append(names, fmt.Sprintf("%d records", v.Events))
	}
	sr.Verified = fmt.Sprintf("document counters match the numbers issued; audit chain verified for %d of %d tenants (%s)",
		len(check), len(ts), strings.Join(names, ", "))
	return nil
}
