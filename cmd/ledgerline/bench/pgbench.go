package bench

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// The scripts run the statements the services run, as the application role, in
// pgbench's prepared mode: every :variable becomes a bind parameter sent as text (each
// occurrence its own parameter, typed from its context or an explicit cast), and
// statements are prepared once per connection, as pgx's statement cache does for the
// service. \startpipeline ... \endpipeline sends a batch with one Sync, as pgx's
// SendBatch does; \gset cannot be used inside a pipeline, so a statement whose results
// a later one needs runs alone, exactly where the service also waits for a result.
//
//go:embed pgbench/*.sql
var scripts embed.FS

// v7SQL makes a UUIDv7 (the 48-bit millisecond time over a random UUID, version
// nibble 7) in SQL, where the service makes its ids in Go: random v4 ids would scatter
// index inserts over the whole B-tree and make the script slower than the service.
const v7SQL = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid::text`

// benchActor is the subject of every benchmark token, recorded as the actor.
const benchActor = "bench-user"

// createSlots stores the slots where the scripts can pick one with a single
// primary-key lookup: pgbench has no string arrays, and a -D variable per slot would
// need a script per slot, each with its own prepared statements to warm up.
func createSlots(ctx context.Context, adminURL string, slots []Slot) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE bench_slots (slot integer PRIMARY KEY, tenant_id uuid NOT NULL,
    counterparty_id uuid NOT NULL, invoice_id uuid NOT NULL, currency text NOT NULL);
GRANT SELECT ON bench_slots TO ledgerline_app`); err != nil {
		return err
	}
	rows := make([][]any, len(slots))
	for i, s := range slots {
		rows[i] = []any{int32(i + 1), s.Tenant.ID, s.Counterparty, s.Invoice, s.Currency}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_slots"},
		[]string{"slot", "tenant_id", "counterparty_id", "invoice_id", "currency"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `ANALYZE bench_slots`)
	return err
}

// scriptVars are the -D variables of a script: the request's constant parts, and
// documents of the size and shape the service writes to the outbox and audit trail.
func scriptVars(script string, slots int, now time.Time) map[string]string {
	vars := map[string]string{"slots": strconv.Itoa(slots), "actor": benchActor}
	doc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	id := func() uuid.UUID { return uuid.Must(uuid.NewV7()) }
	today := civil.DateOf(now)
	switch script {
	case "create_invoice.sql":
		lines := append([]invoices.Line(nil), compareLines...)
		var pos, desc, qty, units, prices, rates, amounts, taxes []string
		for i := range lines {
			l := &lines[i]
			l.ID = id()
			pos = append(pos, strconv.Itoa(l.Position))
			desc = append(desc, strconv.Quote(l.Description))
			qty = append(qty, l.Quantity)
			units = append(units, strconv.FormatInt(*l.UnitAmountMinor, 10))
			prices = append(prices, "NULL")
			rate := "NULL"
			if l.TaxRate != nil {
				rate = *l.TaxRate
			}
			rates = append(rates, rate)
			amounts = append(amounts, strconv.FormatInt(l.AmountMinor, 10))
			taxes = append(taxes, strconv.FormatInt(l.TaxMinor, 10))
		}
		arr := func(xs []string) string { return "{" + strings.Join(xs, ",") + "}" }
		sub, tax, total := totals(lines)
		number := invoices.Number(invoices.Receivable, 123456)
		inv := invoices.Invoice{Summary: invoices.Summary{
			ID: id(), Object: "invoice", Direction: invoices.Receivable, Status: invoices.Open, Number: &number,
			CounterpartyID: id(), Currency: "USD", IssueDate: today, DueDate: today.AddDays(30),
			SubtotalMinor: sub, TaxMinor: tax, TotalMinor: total, AmountDueMinor: total, TaxRounding: invoices.PerLine,
			Version: 1, CreatedAt: now, UpdatedAt: now, FinalizedAt: &now,
		}, Lines: lines}
		vars["positions"], vars["descriptions"], vars["quantities"] = arr(pos), arr(desc), arr(qty)
		vars["units"], vars["prices"], vars["rates"] = arr(units), arr(prices), arr(rates)
		vars["amounts"], vars["taxes"] = arr(amounts), arr(taxes)
		vars["subtotal"], vars["tax"], vars["total"] = strconv.FormatInt(sub, 10), strconv.FormatInt(tax, 10), strconv.FormatInt(total, 10)
		vars["invoice_json"] = doc(inv)
	case "record_payment.sql":
		method := "bank_transfer"
		p := payments.Summary{
			ID: id(), Object: "payment", Direction: payments.Incoming, Status: payments.Posted, CounterpartyID: id(),
			AmountMinor: 50, AmountAllocatedMinor: 50, Currency: "USD", ValueDate: today, Method: &method,
			Version: 2, CreatedAt: now, UpdatedAt: now,
		}
		a := payments.Allocation{
			ID: id(), Object: "allocation", PaymentID: p.ID, InvoiceID: id(), AmountMinor: 50, Currency: "USD",
			EffectiveDate: today, Status: "active", CreatedAt: now,
		}
		before := invoiceState{ID: a.InvoiceID, Direction: "receivable", Status: "open", Currency: "USD",
			TotalMinor: 1_234_567, AmountPaid: 600_000, AmountDue: 634_567, Version: 2}
		after := before
		after.AmountPaid, after.AmountDue, after.Version = 600_050, 634_517, 3
		vars["payment_json"], vars["allocation_json"] = doc(p), doc(a)
		vars["invoice_before_json"], vars["invoice_json"] = doc(before), doc(after)
	}
	return vars
}

// PgbenchResult is one pgbench run.
type PgbenchResult struct {
	TPS       float64 `json:"tps"`
	LatencyMs float64 `json:"latency_avg_ms"`
	Processed int64   `json:"processed"`
	Failed    int64   `json:"failed"`
	Output    string  `json:"-"`
}

var (
	reTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	reLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	reProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	reFailed    = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// parsePgbench reads pgbench's summary. A run counts only if every transaction
// succeeded: a failing script measures nothing.
func parsePgbench(out string) (PgbenchResult, error) {
	r := PgbenchResult{Output: out}
	num := func(re *regexp.Regexp) (string, bool) {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
	s, ok := num(reProcessed)
	if !ok {
		return r, fmt.Errorf("pgbench printed no summary")
	}
	r.Processed, _ = strconv.ParseInt(s, 10, 64)
	if s, ok := num(reFailed); ok {
		r.Failed, _ = strconv.ParseInt(s, 10, 64)
	}
	if s, ok := num(reTPS); ok {
		r.TPS, _ = strconv.ParseFloat(s, 64)
	}
	if s, ok := num(reLatency); ok {
		r.LatencyMs, _ = strconv.ParseFloat(s, 64)
	}
	switch {
	case strings.Contains(out, "aborted"):
		return r, fmt.Errorf("pgbench clients aborted")
	case r.Failed > 0:
		return r, fmt.Errorf("%d transactions failed", r.Failed)
	case r.Processed == 0:
		return r, fmt.Errorf("no transaction completed")
	}
	return r, nil
}

// runPgbench runs script at concurrency clients for d against the application role's
// URL.
func runPgbench(ctx context.Context, pgBin, dir, appURL, script string, vars map[string]string, clients int, d time.Duration) (PgbenchResult, error) {
	src, err := scripts.ReadFile("pgbench/" + script)
	if err != nil {
		return PgbenchResult{}, err
	}
	path := filepath.Join(dir, script)
	if err := os.WriteFile(path, bytes.ReplaceAll(src, []byte("@V7@"), []byte(v7SQL)), 0o644); err != nil {
		return PgbenchResult{}, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients)),
		"-T", strconv.Itoa(secs), "-f", path}
	for k, v := range vars {
		args = append(args, "-D", k+"="+v)
	}
	args = append(args, appURL)
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "pgbench"), args...)
	out, runErr := cmd.CombinedOutput()
	r, err := parsePgbench(string(out))
	if err == nil && runErr != nil {
		err = runErr
	}
	if err != nil {
		return r, fmt.Errorf("pgbench %s: %w\n%s", script, err, tailLines(string(out), 15))
	}
	return r, nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
