package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

// ImportSizes is the bulk import's file: invoices of three lines each, over customers.
type ImportSizes struct {
	Invoices  int `json:"invoices"`
	Customers int `json:"customers"`
}

// DefaultImportSizes is the target's file: 100,000 invoices, 300,000 rows.
var DefaultImportSizes = ImportSizes{Invoices: 100_000, Customers: 1_000}

var smokeImportSizes = ImportSizes{Invoices: 600, Customers: 20}

// importTargetRatio is the target: the import end to end at a quarter of COPY's rate.
const importTargetRatio = 0.25

// ImportReport is the bulk import measured against PostgreSQL's COPY of the same rows.
type ImportReport struct {
	Sizes    ImportSizes `json:"sizes"`
	Rows     int         `json:"rows"`
	FileMiB  float64     `json:"file_mib"`
	Status   string      `json:"status"`
	Imported int         `json:"rows_succeeded"`
	Failed   int         `json:"rows_failed"`
	// ImportSeconds is from the upload's first byte to the import's completion, as
	// `ledgerline import` sees it: reading, validating, storing, publishing, and
	// applying every chunk through the processor.
	ImportSeconds  float64 `json:"import_seconds"`
	ImportPerSec   float64 `json:"import_invoices_per_s"`
	CopySeconds    float64 `json:"copy_seconds"`
	CopyPerSec     float64 `json:"copy_invoices_per_s"`
	Ratio          float64 `json:"ratio"`
	ServerPeakMiB  float64 `json:"server_peak_rss_mib"`
	CustomersSecs  float64 `json:"customers_seconds"`
	ImportDatabase string  `json:"database"`
}

// importsBench imports a generated file of invoices through the local stack (the dev
// server: every function in one process, Pub/Sub in process, the processor applying
// chunks), then COPYs the same invoice and line rows into another tenant of the same
// database, and compares the rates.
func (b *runner) importsBench(ctx context.Context, rep *Report, sizes ImportSizes) error {
	ir := &ImportReport{Sizes: sizes, Rows: 3 * sizes.Invoices, ImportDatabase: "ledgerline_import"}
	admin, err := url.Parse(b.s.urls.Admin)
	if err != nil {
		return err
	}
	adminURL, err := dbsetup.WithUser(b.s.urls.Admin, admin.User.Username(), ir.ImportDatabase)
	if err != nil {
		return err
	}

	// A database of its own, owned by the migrator as dbsetup makes them; the dev
	// server migrates it.
	setup, err := pgx.Connect(ctx, b.s.urls.Admin)
	if err != nil {
		return err
	}
	_, err = setup.Exec(ctx, `CREATE DATABASE `+ir.ImportDatabase+` OWNER `+dbsetup.MigratorRole)
	setup.Close(ctx)
	if err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	base := "http://127.0.0.1:" + port
	out := &tail{}
	dev := exec.Command(b.s.bin, "dev")
	dev.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.s.tmp, "PORT=" + port, "DATABASE_URL=" + adminURL,
		"AUTH_DEV_KEY_FILE=" + b.s.keyFile}
	dev.Stdout, dev.Stderr = out, out
	fmt.Fprintf(b.progress, "bulk import: starting the local stack on database %s\n", ir.ImportDatabase)
	if err := dev.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = dev.Wait(); close(done) }()
	defer func() { _ = dev.Process.Kill(); <-done }()
	if err := waitListening(ctx, "127.0.0.1:"+port, done, 2*time.Minute); err != nil {
		return fmt.Errorf("dev server: %w\n%s", err, out)
	}

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	tenant := uuid.Must(uuid.NewV7())
	if err := tenants.Ensure(ctx, pool, tenants.Tenant{ID: tenant, Name: "Bulk import"}); err != nil {
		return err
	}
	token, err := b.s.issuer.Issue(tenant, benchActor, []auth.Role{auth.RoleAdmin}, 24*time.Hour)
	if err != nil {
		return err
	}

	dir := filepath.Join(b.s.tmp, "imports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	customers := filepath.Join(dir, "customers.csv")
	if err := writeCSV(customers, "external_id,name,kind\n", sizes.Customers, func(w *bufio.Writer, i int) {
		fmt.Fprintf(w, "C%05d,Customer %05d,customer\n", i, i)
	}); err != nil {
		return err
	}
	invoicesFile := filepath.Join(dir, "invoices.csv")
	if err := writeCSV(invoicesFile, "external_id,direction,counterparty_external_id,currency,issue_date,due_date,status,description,quantity,unit_amount,tax_rate\n",
		sizes.Invoices, func(w *bufio.Writer, i int) {
			for l := 1; l <= 3; l++ {
				fmt.Fprintf(w, "INV-%07d,receivable,C%05d,USD,2026-10-%02d,2026-11-%02d,open,Service %d,%d,%d.%02d,20\n",
					i, i%sizes.Customers, 1+i%28, 1+i%28, l, l, 10+i%90, i%100)
			}
		}); err != nil {
		return err
	}
	if st, err := os.Stat(invoicesFile); err == nil {
		ir.FileMiB = float64(st.Size()) / (1 << 20)
	}

	run := func(file, kind string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, b.s.bin, "import", file, "--kind", kind, "--server", base, "--token", token)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.s.tmp}
		t0 := time.Now()
		outb, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("ledgerline import %s: %w\n%s", kind, err, tailOf(outb))
		}
		return time.Since(t0), nil
	}
	fmt.Fprintf(b.progress, "bulk import: %d customers\n", sizes.Customers)
	d, err := run(customers, "counterparties")
	if err != nil {
		return err
	}
	ir.CustomersSecs = d.Seconds()
	fmt.Fprintf(b.progress, "bulk import: %d invoices (%d rows, %.1f MiB)\n", sizes.Invoices, ir.Rows, ir.FileMiB)
	resetPeakRSS(dev.Process.Pid)
	if d, err = run(invoicesFile, "invoices"); err != nil {
		return err
	}
	ir.ImportSeconds = d.Seconds()
	ir.ServerPeakMiB = kibToMiB(statusKiB(dev.Process.Pid, "VmHWM"))
	ir.ImportPerSec = float64(sizes.Invoices) / ir.ImportSeconds
	if err := conn.QueryRow(ctx, `SELECT status, rows_succeeded, rows_failed FROM imports WHERE tenant_id = $1 AND kind = 'invoices'
ORDER BY created_at DESC LIMIT 1`, tenant).Scan(&ir.Status, &ir.Imported, &ir.Failed); err != nil {
		return err
	}

	fmt.Fprintf(b.progress, "bulk import: COPY of the same %d invoices and %d lines\n", sizes.Invoices, ir.Rows)
	if ir.CopySeconds, err = copyImportRows(ctx, conn, pool, sizes.Invoices); err != nil {
		return err
	}
	ir.CopyPerSec = float64(sizes.Invoices) / ir.CopySeconds
	ir.Ratio = ir.ImportPerSec / ir.CopyPerSec
	rep.Imports = ir
	return nil
}

// copyImportRows writes n open invoices of three lines each, as the import's file
// describes them, into a new tenant with COPY, and returns the COPY's duration.
func copyImportRows(ctx context.Context, conn *pgx.Conn, pool *pgxpool.Pool, n int) (float64, error) {
	tenant := uuid.Must(uuid.NewV7())
	if err := tenants.Ensure(ctx, pool, tenants.Tenant{ID: tenant, Name: "COPY"}); err != nil {
		return 0, err
	}
	cp := uuid.Must(uuid.NewV7())
	if _, err := conn.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, 'C', 'customer')`, cp, tenant); err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	issue := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	invRows := make([][]any, n)
	lineRows := make([][]any, 0, 3*n)
	for k := range n {
		id := uuid.Must(uuid.NewV7())
		invRows[k] = []any{id, tenant, "receivable", "open", fmt.Sprintf("INV-%07d", k+1), cp, "USD", issue, issue.AddDate(0, 0, 30),
			fmt.Sprintf("INV-%07d", k+1), int64(13509), int64(2702), int64(16211), now, now, now}
		for l := range 3 {
			lineRows = append(lineRows, []any{uuid.Must(uuid.NewV7()), tenant, id, int32(l + 1), fmt.Sprintf("Service %d", l+1),
				fmt.Sprint(l + 1), int64(1000 + l), "20", int64(3000 + 3*l), int64(600)})
		}
	}
	t0 := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"invoices"}, []string{"id", "tenant_id", "direction", "status", "number",
		"counterparty_id", "currency", "issue_date", "due_date", "external_id", "subtotal_minor", "tax_minor", "total_minor",
		"created_at", "updated_at", "finalized_at"}, pgx.CopyFromRows(invRows)); err != nil {
		return 0, err
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"invoice_lines"}, []string{"id", "tenant_id", "invoice_id", "position",
		"description", "quantity", "unit_amount_minor", "tax_rate", "amount_minor", "tax_minor"}, pgx.CopyFromRows(lineRows)); err != nil {
		return 0, err
	}
	return time.Since(t0).Seconds(), nil
}

func writeCSV(path, header string, n int, row func(w *bufio.Writer, i int)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	for i := range n {
		row(w, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func waitListening(ctx context.Context, addr string, done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited before listening")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening after %s", limit)
}

func tailOf(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func importTargets(r *ImportReport) []Target {
	return []Target{{
		Name: fmt.Sprintf("bulk import of %d invoices × 3 lines end to end ≥ %.0f%% of COPY's rate", r.Sizes.Invoices, 100*importTargetRatio),
		Measured: fmt.Sprintf("%.0f%% (%.0f invoices/s against %.0f/s; %s, %d rows failed)", 100*r.Ratio, r.ImportPerSec,
			r.CopyPerSec, r.Status, r.Failed),
		Met: r.Ratio >= importTargetRatio && r.Status == "completed" && r.Failed == 0,
	}}
}

func (r *ImportReport) markdown(p func(string, ...any)) {
	p("## Bulk import\n\n")
	p("`ledgerline import` of a %d-invoice CSV (%d rows, %.1f MiB; after %d customers in %.1f s) into the local stack (`ledgerline dev`: "+
		"the import function, Pub/Sub in process, the chunk processor), against COPY of the same invoice and line rows into the same database.\n\n",
		r.Sizes.Invoices, r.Rows, r.FileMiB, r.Sizes.Customers, r.CustomersSecs)
	p("| path | seconds | invoices/s | |\n|---|---:|---:|---|\n")
	p("| import, end to end | %.2f | %.0f | %s, %d rows imported, %d failed; server peak RSS %.0f MiB |\n", r.ImportSeconds, r.ImportPerSec,
		r.Status, r.Imported, r.Failed, r.ServerPeakMiB)
	p("| COPY (invoices, then lines) | %.2f | %.0f | no validation, audit, events or numbering |\n", r.CopySeconds, r.CopyPerSec)
	p("\nThe import runs at %.0f%% of COPY's rate.\n\n", 100*r.Ratio)
}
