package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/aging"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// ReportSizes is the reports' own seed, added beside the load seed so the whole ledger
// holds about a million invoices: one large tenant whose aging is timed, one whose
// invoices are exported, and small tenants around them.
type ReportSizes struct {
	BigInvoices    int `json:"big_invoices"`
	BigCustomers   int `json:"big_customers"`
	ExportInvoices int `json:"export_invoices"`
	OtherTenants   int `json:"other_tenants"`
	OtherInvoices  int `json:"other_invoices_each"`
}

// DefaultReportSizes with the load seed's 200,000 invoices make 1,000,000.
var DefaultReportSizes = ReportSizes{BigInvoices: 500_000, BigCustomers: 20_000, ExportInvoices: 200_000,
	OtherTenants: 20, OtherInvoices: 5_000}

var smokeReportSizes = ReportSizes{BigInvoices: 3_000, BigCustomers: 100, ExportInvoices: 2_000, OtherTenants: 2, OtherInvoices: 200}

// Report targets (issue: aging of the large tenant as of today and as of a past date;
// an export's memory stays flat as it grows a hundredfold).
const (
	targetAgingTodayP95Ms = 100
	targetAgingPastP95Ms  = 300
	agingPastDays         = 90
	agingRequests         = 40 // timed requests per scenario and run, after agingWarmup
	agingWarmup           = 5
	forecastRequests      = 10
	// flatMemoryMiB bounds how much more the export of every invoice may peak at than
	// the export of a fifth of them: a streamed export's memory does not grow with its
	// rows (its buffers are bounded: excelize keeps up to 16 MiB of sheet in memory
	// before spooling to a file), so five times the rows may cost only noise.
	flatMemoryMiB = 16
)

// ReportsReport holds the reports' figures.
type ReportsReport struct {
	Sizes       ReportSizes    `json:"sizes"`
	Invoices    int64          `json:"invoices_in_database"`
	BigOpen     int64          `json:"big_tenant_open_invoices"`
	SeedSeconds float64        `json:"seed_seconds"`
	Aging       []AgingRow     `json:"aging"`
	Forecast    AgingRow       `json:"cash_forecast"`
	Exports     []ExportResult `json:"exports"`
}

// AgingRow is one aging scenario: the median of each run's percentiles.
type AgingRow struct {
	Scenario string    `json:"scenario"`
	Query    string    `json:"query"`
	Runs     []AgingRn `json:"runs"`
	P50Ms    float64   `json:"p50_ms"`
	P95Ms    float64   `json:"p95_ms"`
	MaxMs    float64   `json:"max_ms"`
	// StatementMs is the statement's execution time by EXPLAIN ANALYZE (after a run to
	// warm the cache), and Plan the plan it printed.
	StatementMs float64 `json:"statement_ms,omitempty"`
	Plan        string  `json:"plan,omitempty"`
	Bytes       int64   `json:"response_bytes"`
	Errors      int     `json:"errors"`
}

// AgingRn is one run of a scenario.
type AgingRn struct {
	P50Ms, P95Ms, MaxMs float64
}

// ExportResult is one export format: the peak RSS of a small, a fifth and the full
// export.
type ExportResult struct {
	Format       string  `json:"format"`
	Rows         int     `json:"rows"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	SmallRows    int     `json:"small_rows"`
	SmallPeakMiB float64 `json:"small_peak_rss_mib"`
	FifthRows    int     `json:"fifth_rows"`
	FifthPeakMiB float64 `json:"fifth_peak_rss_mib"`
	FullPeakMiB  float64 `json:"full_peak_rss_mib"`
}

type reportTenants struct {
	big, export            uuid.UUID
	bigToken, exportToken  string
	exportCustomer         uuid.UUID
	exportCustomerInvoices int
	exportFifthFrom        string // issued_from that selects about a fifth of the export tenant
	exportFifthInvoices    int
	pastDate               string
	now                    time.Time
}

func (b *runner) reports(ctx context.Context, rep *Report, sizes ReportSizes) error {
	fmt.Fprintf(b.progress, "seeding the reports' tenants: %d + %d + %d×%d invoices\n",
		sizes.BigInvoices, sizes.ExportInvoices, sizes.OtherTenants, sizes.OtherInvoices)
	start := time.Now()
	rt, err := seedReports(ctx, b.s, sizes, time.Now().UTC())
	if err != nil {
		return err
	}
	rr := &ReportsReport{Sizes: sizes, SeedSeconds: time.Since(start).Seconds()}
	conn, err := b.s.admin(ctx)
	if err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM invoices`).Scan(&rr.Invoices); err != nil {
		conn.Close(ctx)
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE tenant_id = $1 AND status = 'open'`, rt.big).Scan(&rr.BigOpen); err != nil {
		conn.Close(ctx)
		return err
	}
	conn.Close(ctx)

	p, err := b.s.start(ctx, "ReportsAging", b.cfg.DBMaxConns)
	if err != nil {
		return err
	}
	client := NewClient(4)
	for _, sc := range []struct {
		name, query string
		asOf        time.Time
	}{
		{"as of today", "?direction=receivable&buckets=30,60,90,120", rt.now},
		{fmt.Sprintf("as of %d days ago", agingPastDays), "?direction=receivable&buckets=30,60,90,120&as_of=" + rt.pastDate,
			rt.now.AddDate(0, 0, -agingPastDays)},
	} {
		row := AgingRow{Scenario: sc.name, Query: sc.query}
		if row.StatementMs, row.Plan, err = explainAging(ctx, b.s, rt.big, sc.asOf); err != nil {
			return err
		}
		for r := range b.cfg.Repeat {
			fmt.Fprintf(b.progress, "ReportsAging %s (run %d of %d)\n", sc.name, r+1, b.cfg.Repeat)
			lat, size, errs := timeGets(ctx, client, p.base+"/v1/reports/aging"+sc.query, rt.bigToken, agingWarmup, agingRequests)
			s := Summarize(lat)
			row.Runs = append(row.Runs, AgingRn{P50Ms: ms(s.P50), P95Ms: ms(s.P95), MaxMs: ms(s.Max)})
			row.Bytes, row.Errors = size, row.Errors+errs
		}
		row.P50Ms = Median(runsOf(row.Runs, func(r AgingRn) float64 { return r.P50Ms }))
		row.P95Ms = Median(runsOf(row.Runs, func(r AgingRn) float64 { return r.P95Ms }))
		row.MaxMs = Median(runsOf(row.Runs, func(r AgingRn) float64 { return r.MaxMs }))
		rr.Aging = append(rr.Aging, row)
	}
	p.stop()

	// The cash forecast has no target; its time on the same tenant is reported.
	if p, err = b.s.start(ctx, "ReportsCashForecast", b.cfg.DBMaxConns); err != nil {
		return err
	}
	fmt.Fprintf(b.progress, "ReportsCashForecast\n")
	lat, size, errs := timeGets(ctx, client, p.base+"/v1/reports/cash-forecast?weeks=13", rt.bigToken, 2, forecastRequests)
	st := Summarize(lat)
	rr.Forecast = AgingRow{Scenario: "13 weeks", Query: "?weeks=13", P50Ms: ms(st.P50), P95Ms: ms(st.P95), MaxMs: ms(st.Max),
		Bytes: size, Errors: errs}
	p.stop()
	client.CloseIdleConnections()

	p, err = b.s.start(ctx, "InvoicesExport", b.cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer p.stop()
	for _, format := range []string{"csv", "xlsx"} {
		fmt.Fprintf(b.progress, "InvoicesExport %s: one customer, then all %d invoices\n", format, sizes.ExportInvoices)
		res := ExportResult{Format: format, Rows: sizes.ExportInvoices, SmallRows: rt.exportCustomerInvoices}
		url := p.base + "/v1/exports/invoices?format=" + format
		// Warm the process (first connection, first query plan) before measuring.
		if _, _, err := download(ctx, client, url+"&counterparty_id="+rt.exportCustomer.String(), rt.exportToken); err != nil {
			return err
		}
		resetPeakRSS(p.pid())
		if _, _, err := download(ctx, client, url+"&counterparty_id="+rt.exportCustomer.String(), rt.exportToken); err != nil {
			return err
		}
		res.SmallPeakMiB = kibToMiB(statusKiB(p.pid(), "VmHWM"))
		res.FifthRows = rt.exportFifthInvoices
		resetPeakRSS(p.pid())
		if _, _, err := download(ctx, client, url+"&issued_from="+rt.exportFifthFrom, rt.exportToken); err != nil {
			return err
		}
		res.FifthPeakMiB = kibToMiB(statusKiB(p.pid(), "VmHWM"))
		resetPeakRSS(p.pid())
		t0 := time.Now()
		n, _, err := download(ctx, client, url, rt.exportToken)
		if err != nil {
			return err
		}
		res.Seconds = time.Since(t0).Seconds()
		res.Bytes = n
		res.FullPeakMiB = kibToMiB(statusKiB(p.pid(), "VmHWM"))
		rr.Exports = append(rr.Exports, res)
	}
	rep.Reports = rr
	return nil
}

func runsOf[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// timeGets sends warmup then n GETs one after another and returns the timed latencies,
// the last response's size and the number of failures.
func timeGets(ctx context.Context, client *http.Client, url, token string, warmup, n int) ([]time.Duration, int64, int) {
	var lat []time.Duration
	var size int64
	errs := 0
	for i := range warmup + n {
		t0 := time.Now()
		got, status, err := download(ctx, client, url, token)
		d := time.Since(t0)
		if err != nil || status != http.StatusOK {
			errs++
			continue
		}
		size = got
		if i >= warmup {
			lat = append(lat, d)
		}
	}
	return lat, size, errs
}

// download GETs url and reads the whole body, returning its size.
func download(ctx context.Context, client *http.Client, url, token string) (int64, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return n, resp.StatusCode, err
}

// seedReports writes the reports' tenants with SQL on the server: invoices issued over
// two years, each customer paying with its own habitual delay, most older invoices
// paid, some partly, recent ones mostly open. Rows are written consistently (paid
// amounts equal to the allocations) with triggers off, which is what makes a million
// rows take a minute rather than ten; the VACUUM afterwards sets the visibility map an
// index-only scan relies on, as autovacuum would in production.
func seedReports(ctx context.Context, s *stack, sizes ReportSizes, now time.Time) (reportTenants, error) {
	conn, err := s.admin(ctx)
	if err != nil {
		return reportTenants{}, err
	}
	defer conn.Close(ctx)
	today := now.Format(time.DateOnly)
	rt := reportTenants{big: uuid.New(), export: uuid.New(), now: now,
		pastDate: now.AddDate(0, 0, -agingPastDays).Format(time.DateOnly)}
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return rt, err
	}
	exportCustomers := max(2, sizes.ExportInvoices/100)
	if err := seedReportTenant(ctx, conn, rt.big, "Reports large tenant", sizes.BigInvoices, sizes.BigCustomers, today, 1); err != nil {
		return rt, err
	}
	if err := seedReportTenant(ctx, conn, rt.export, "Reports export tenant", sizes.ExportInvoices, exportCustomers, today, 2); err != nil {
		return rt, err
	}
	for i := range sizes.OtherTenants {
		if err := seedReportTenant(ctx, conn, uuid.New(), fmt.Sprintf("Reports tenant %d", i), sizes.OtherInvoices, max(2, sizes.OtherInvoices/25), today, float64(3+i)); err != nil {
			return rt, err
		}
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = origin`); err != nil {
		return rt, err
	}
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) invoices, invoice_lines, allocations, payments, credit_notes, counterparties, tenants`); err != nil {
		return rt, err
	}
	// As after the load seed: the seed's dirty pages are written out now, so the first
	// timed run does not share the disk and CPU with the checkpoint that would follow.
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		return rt, err
	}
	if err := conn.QueryRow(ctx, `SELECT counterparty_id, count(*) FROM invoices WHERE tenant_id = $1
GROUP BY counterparty_id ORDER BY counterparty_id LIMIT 1`, rt.export).Scan(&rt.exportCustomer, &rt.exportCustomerInvoices); err != nil {
		return rt, err
	}
	// Issue dates are spread evenly over two years: the last 146 days hold a fifth.
	rt.exportFifthFrom = now.AddDate(0, 0, -146).Format(time.DateOnly)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE tenant_id = $1 AND issue_date >= $2`,
		rt.export, rt.exportFifthFrom).Scan(&rt.exportFifthInvoices); err != nil {
		return rt, err
	}
	if rt.bigToken, err = s.issuer.Issue(rt.big, benchActor, []auth.Role{auth.RoleViewer}, 24*time.Hour); err != nil {
		return rt, err
	}
	rt.exportToken, err = s.issuer.Issue(rt.export, benchActor, []auth.Role{auth.RoleViewer}, 24*time.Hour)
	return rt, err
}

// seedReportTenant generates one tenant. Customer c pays (c mod 31) − 5 days after the
// due date, give or take 5; an invoice is paid when that day has come, unless it is
// one of the 8% disputed; 5% more are half paid. One in ten is a bill, one in seven is
// in EUR.
func seedReportTenant(ctx context.Context, conn *pgx.Conn, tenant uuid.UUID, name string, invoices, customers int, today string, seed float64) error {
	type step struct {
		sql  string
		args []any
	}
	steps := []step{
		{`SELECT setseed($1)`, []any{seed / 1000}},
		{`INSERT INTO tenants (id, name) VALUES ($1, $2)`, []any{tenant, name}},
		{`INSERT INTO counterparties (id, tenant_id, name, kind)
SELECT md5($1::text || ':cp:' || c)::uuid, $1::uuid, 'Customer ' || lpad(c::text, 6, '0'), 'both'
  FROM generate_series(0, $2 - 1) c`, []any{tenant, customers}},
		{`CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT g, md5($1::text || ':inv:' || g)::uuid AS id, md5($1::text || ':cp:' || (g % $2))::uuid AS cp,
       CASE WHEN g % 10 = 0 THEN 'payable' ELSE 'receivable' END AS direction,
       CASE WHEN g % 7 = 0 THEN 'EUR' ELSE 'USD' END AS currency,
       issue, issue + 30 AS due, issue + 30 + ((g % $2) % 31) - 5 + jitter AS pays_on, total, r
  FROM (SELECT g, $4::date - floor(random() * 730)::int AS issue, floor(random() * 11)::int AS jitter,
               1000 + floor(random() * 500000)::bigint AS total, random() AS r
          FROM generate_series(1, $3) g) s`, []any{tenant, customers, invoices, today}},
		{`CREATE TEMP TABLE settled ON COMMIT DROP AS
SELECT *, CASE WHEN pays_on <= $1::date AND r >= 0.08 THEN total
               WHEN pays_on <= $1::date AND r < 0.05 THEN total / 2
               ELSE 0 END AS paid
  FROM gen`, []any{today}},
		{`INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date, due_date,
        subtotal_minor, tax_minor, total_minor, amount_paid_minor, finalized_at)
SELECT id, $1, direction, CASE WHEN paid = total THEN 'paid' ELSE 'open' END,
       CASE direction WHEN 'payable' THEN 'B-' ELSE 'R-' END || g, cp, currency, issue, due, total, 0, total, paid, issue
  FROM settled`, []any{tenant}},
		{`INSERT INTO payments (id, tenant_id, direction, counterparty_id, amount_minor, currency, amount_allocated_minor,
        value_date, created_by)
SELECT md5(id::text || ':pay')::uuid, $1, CASE direction WHEN 'payable' THEN 'outgoing' ELSE 'incoming' END,
       cp, paid, currency, paid, pays_on, 'bench'
  FROM settled WHERE paid > 0`, []any{tenant}},
		{`INSERT INTO allocations (id, tenant_id, payment_id, invoice_id, currency, payment_direction, invoice_direction,
        amount_minor, effective_date, created_by)
SELECT md5(id::text || ':alloc')::uuid, $1, md5(id::text || ':pay')::uuid, id, currency,
       CASE direction WHEN 'payable' THEN 'outgoing' ELSE 'incoming' END, direction, paid, pays_on, 'bench'
  FROM settled WHERE paid > 0`, []any{tenant}},
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("seed reports: %w\n%s", err, st.sql)
		}
	}
	return tx.Commit(ctx)
}

// reportTargets judges the reports' figures.
func reportTargets(r *ReportsReport) []Target {
	var out []Target
	for i, row := range r.Aging {
		limit := float64(targetAgingTodayP95Ms)
		if i > 0 {
			limit = targetAgingPastP95Ms
		}
		out = append(out, Target{
			Name:     fmt.Sprintf("ReportsAging of %d invoices %s: p95 ≤ %.0f ms", r.Sizes.BigInvoices, row.Scenario, limit),
			Measured: fmt.Sprintf("p95 %.1f ms (p50 %.1f ms), %d errors", row.P95Ms, row.P50Ms, row.Errors),
			Met:      row.P95Ms <= limit && row.Errors == 0,
		})
	}
	for _, e := range r.Exports {
		out = append(out, Target{
			Name: fmt.Sprintf("InvoicesExport %s: memory flat, the %d-row export's peak RSS within %d MiB of the %d-row export's",
				e.Format, e.Rows, flatMemoryMiB, e.FifthRows),
			Measured: fmt.Sprintf("%.1f MiB against %.1f MiB (%.1f MiB for %d rows)", e.FullPeakMiB, e.FifthPeakMiB,
				e.SmallPeakMiB, e.SmallRows),
			Met: e.FullPeakMiB <= e.FifthPeakMiB+flatMemoryMiB,
		})
	}
	return out
}

// markdown writes the reports' section.
func (r *ReportsReport) markdown(p func(string, ...any)) {
	p("## Reports\n\n")
	p("A second seed beside the load seed (%d invoices in the database in all): a tenant of %d invoices over %d "+
		"customers (%d of them open), issued over two years and mostly paid with each customer's own delay; a tenant "+
		"of %d invoices to export; %d tenants of %d invoices; written in %.0f s.\n\n",
		r.Invoices, r.Sizes.BigInvoices, r.Sizes.BigCustomers, r.BigOpen, r.Sizes.ExportInvoices, r.Sizes.OtherTenants,
		r.Sizes.OtherInvoices, r.SeedSeconds)
	p("Aging of the large tenant's receivables, one request after another (%d timed after %d warm-up, per run; "+
		"medians of the runs):\n\n", agingRequests, agingWarmup)
	p("| scenario | query | p50 ms | p95 ms | max ms | response KiB | errors | statement ms (EXPLAIN ANALYZE) |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range r.Aging {
		p("| %s | `%s` | %.1f | %.1f | %.1f | %.0f | %d | %.1f |\n", a.Scenario, a.Query, a.P50Ms, a.P95Ms, a.MaxMs,
			float64(a.Bytes)/1024, a.Errors, a.StatementMs)
	}
	p("\nThe plans are in the JSON results (`reports.aging[].plan`).\n")
	f := r.Forecast
	p("\nCash forecast of the same tenant (`%s`, %d requests after 2 warm-up; no target): p50 %.1f ms, p95 %.1f ms, "+
		"%.0f KiB, %d errors.\n", f.Query, forecastRequests, f.P50Ms, f.P95Ms, float64(f.Bytes)/1024, f.Errors)
	p("\nExports streamed from one snapshot; peak RSS is the function's VmHWM, reset before each export:\n\n")
	p("| format | rows | size MiB | seconds | rows/s | peak RSS MiB | peak RSS, a fifth of the rows MiB | peak RSS, one customer's %d rows MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
		firstSmall(r.Exports))
	for _, e := range r.Exports {
		p("| %s | %d | %.1f | %.2f | %.0f | %.1f | %.1f (%d rows) | %.1f |\n", e.Format, e.Rows, float64(e.Bytes)/(1<<20), e.Seconds,
			float64(e.Rows)/e.Seconds, e.FullPeakMiB, e.FifthPeakMiB, e.FifthRows, e.SmallPeakMiB)
	}
	p("\n")
}

func firstSmall(es []ExportResult) int {
	if len(es) == 0 {
		return 0
	}
	return es[0].SmallRows
}

// explainAging runs the aging statement of tenant's receivables as of asOf twice as the
// application role, with the tenant and the statement's settings, and returns the
// second run's execution time and plan (EXPLAIN ANALYZE, which runs it; TIMING OFF,
// as timing every row would add more than it measures).
func explainAging(ctx context.Context, s *stack, tenant uuid.UUID, asOf time.Time) (float64, string, error) {
	conn, err := pgx.Connect(ctx, s.urls.App)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close(ctx)
	sql, args := aging.Statement(tenant, aging.Params{Direction: aging.Receivable, AsOf: civil.DateOf(asOf), Basis: aging.DueDate},
		[]int{30, 60, 90, 120})
	var plan []string
	for range 2 {
		plan = plan[:0]
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, "", err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant.String()); err != nil {
			return 0, "", err
		}
		if _, err := tx.Exec(ctx, aging.Settings); err != nil {
			return 0, "", err
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) "+sql, args...)
		if err != nil {
			return 0, "", err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return 0, "", err
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			return 0, "", err
		}
		if err := tx.Rollback(ctx); err != nil {
			return 0, "", err
		}
	}
	var execMs float64
	for _, line := range plan {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Execution Time: "); ok {
			execMs, _ = strconv.ParseFloat(strings.TrimSuffix(v, " ms"), 64)
		}
	}
	return execMs, strings.Join(plan, "\n"), nil
}
