package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"

	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

// Phase is one step of the seed and how long it took.
type Phase struct {
	Name    string  `json:"name"`
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// Seeded is the seed's outcome: the tenants (with ids requests can name), the
// comparison slots, and the row counts.
type Seeded struct {
	Tenants []*Tenant
	Slots   []Slot
	Counts  map[string]int64
	Phases  []Phase
}

// seedDB writes the generated history as the superuser with COPY. Rows go through the
// same constraints and triggers as the API's writes: the allocations' trigger applies
// every allocation to its payment and invoice (so amounts paid, statuses and versions
// are the database's own), and the audit chain is computed by the database's hash
// function. Only tenants, whose bootstrap trigger makes the chain head and the
// counters, are created one by one.
func seedDB(ctx context.Context, adminURL string, ts []*Tenant, progress io.Writer) ([]Phase, error) {
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var phases []Phase
	phase := func(name string, rows int64, f func(bar *progressbar.ProgressBar) error) error {
		start := time.Now()
		bar := newBar(progress, rows, name)
		if err := f(bar); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
		_ = bar.Finish()
		phases = append(phases, Phase{Name: name, Rows: rows, Seconds: time.Since(start).Seconds()})
		return nil
	}
	var nCP, nInv, nPay, nEvents int64
	for _, t := range ts {
		nCP += int64(len(t.Counterparties))
		nInv += int64(len(t.invoices))
		nPay += int64(len(t.payments))
	}
	nEvents = nCP + nInv + 3*nPay

	steps := []struct {
		name string
		rows int64
		f    func(bar *progressbar.ProgressBar) error
	}{
		{"tenants", int64(len(ts)), func(bar *progressbar.ProgressBar) error {
			for _, t := range ts {
				if err := tenants.Ensure(ctx, pool, tenants.Tenant{ID: t.ID, Name: t.Name, BaseCurrency: "USD"}); err != nil {
					return err
				}
				_ = bar.Add(1)
			}
			return nil
		}},
		{"counterparties", nCP, func(bar *progressbar.ProgressBar) error { return copyCounterparties(ctx, pool, ts, bar) }},
		{"invoices", nInv, func(bar *progressbar.ProgressBar) error { return copyInvoices(ctx, pool, ts, bar) }},
		{"invoice lines", nInv * linesPerInvoice, func(bar *progressbar.ProgressBar) error { return copyLines(ctx, pool, ts, bar) }},
		{"document counters", int64(len(ts)), func(bar *progressbar.ProgressBar) error { return setCounters(ctx, pool, ts, bar) }},
		{"payments", nPay, func(bar *progressbar.ProgressBar) error { return copyPayments(ctx, pool, ts, bar) }},
		{"allocations (trigger)", nPay, func(bar *progressbar.ProgressBar) error { return copyAllocations(ctx, pool, ts, bar) }},
		{"audit and outbox records", nEvents, func(bar *progressbar.ProgressBar) error { return stageEvents(ctx, pool, ts, bar) }},
		{"audit chain", nEvents, func(bar *progressbar.ProgressBar) error { return chainAudit(ctx, pool, ts, bar) }},
		{"vacuum analyze, checkpoint", 0, func(*progressbar.ProgressBar) error { return settle(ctx, pool) }},
	}
	for _, s := range steps {
		if err := phase(s.name, s.rows, s.f); err != nil {
			return phases, err
		}
	}
	return phases, nil
}

func newBar(w io.Writer, rows int64, name string) *progressbar.ProgressBar {
	if rows <= 0 {
		// Nothing to count: say what is running instead of drawing a bar.
		fmt.Fprintf(w, "%s...\n", name)
		return progressbar.DefaultSilent(-1)
	}
	return progressbar.NewOptions64(rows,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-26s", name)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// copyRows streams rows into table with COPY, advancing bar as they go.
func copyRows(ctx context.Context, pool *pgxpool.Pool, table string, cols []string, bar *progressbar.ProgressBar, next func() []any) error {
	n := 0
	_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		row := next()
		if row != nil {
			if n++; n%1000 == 0 {
				_ = bar.Add(1000)
			}
		}
		return row, nil
	}))
	_ = bar.Add(n % 1000)
	return err
}

// streams is how many COPYs into one table run at once: each is a server process of
// its own, so two keep both cores of a small machine busy. The rows of one stream never
// touch the rows of another, so they do not wait on each other's locks.
const streams = 2

// copyParallel copies into table from streams sources at once; part(i) is source i.
func copyParallel(ctx context.Context, pool *pgxpool.Pool, table string, cols []string, bar *progressbar.ProgressBar, part func(i int) func() []any) error {
	errs := make(chan error, streams)
	for i := range streams {
		go func() { errs <- copyRows(ctx, pool, table, cols, bar, part(i)) }()
	}
	var first error
	for range streams {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// each iterates over the items of every tenant that belong to stream part: every
// streams-th item, so each stream gets its share of every tenant.
func each[T any](ts []*Tenant, part int, items func(*Tenant) []T, row func(*Tenant, T) []any) func() []any {
	ti, i := 0, part
	return func() []any {
		for ti < len(ts) {
			xs := items(ts[ti])
			if i < len(xs) {
				x := xs[i]
				i += streams
				return row(ts[ti], x)
			}
			ti, i = ti+1, part
		}
		return nil
	}
}

func copyCounterparties(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	cols := []string{"id", "tenant_id", "name", "kind", "email", "tax_id", "default_currency", "payment_terms_days",
		"external_id", "version", "created_at", "updated_at"}
	return copyParallel(ctx, pool, "counterparties", cols, bar, func(part int) func() []any {
		return each(ts, part, func(t *Tenant) []Counterparty { return t.Counterparties }, func(t *Tenant, c Counterparty) []any {
			return []any{c.ID, t.ID, c.name, string(c.Kind), c.email, c.taxID, c.Currency, int32(c.Terms), c.external,
				int32(1), c.created, c.created}
		})
	})
}

func copyInvoices(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	cols := []string{"id", "tenant_id", "direction", "status", "number", "counterparty_id", "currency", "issue_date",
		"due_date", "memo", "external_id", "tax_rounding", "subtotal_minor", "tax_minor", "total_minor", "version",
		"created_at", "updated_at", "finalized_at"}
	return copyParallel(ctx, pool, "invoices", cols, bar, func(part int) func() []any {
		return each(ts, part, func(t *Tenant) []*seedInvoice { return t.invoices }, func(t *Tenant, inv *seedInvoice) []any {
			// Issued unpaid: the allocations' trigger makes paid ones paid.
			status, number, finalized := "open", pgtype.Text{}, pgtype.Timestamptz{}
			if inv.number == 0 {
				status = "draft"
			} else {
				number = pgtype.Text{String: invoices.Number(inv.direction, inv.number), Valid: true}
				finalized = pgtype.Timestamptz{Time: inv.created, Valid: true}
			}
			return []any{inv.id, t.ID, string(inv.direction), status, number, t.Counterparties[inv.cp].ID, inv.currency,
				inv.issue.In(time.UTC), inv.due.In(time.UTC), inv.memo, inv.external, string(invoices.PerLine), inv.subtotal,
				inv.tax, inv.total, int32(1), inv.created, inv.created, finalized}
		})
	})
}

func numeric(s *string) pgtype.Numeric {
	var n pgtype.Numeric
	if s != nil {
		if err := n.Scan(*s); err != nil {
			panic(err)
		}
	}
	return n
}

func copyLines(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	cols := []string{"id", "tenant_id", "invoice_id", "position", "description", "quantity", "unit_amount_minor",
		"unit_price", "tax_rate", "amount_minor", "tax_minor"}
	return copyParallel(ctx, pool, "invoice_lines", cols, bar, func(part int) func() []any {
		var pending [][]any
		invs := each(ts, part, func(t *Tenant) []*seedInvoice { return t.invoices }, func(t *Tenant, inv *seedInvoice) []any {
			return []any{t, inv}
		})
		return func() []any {
			for len(pending) == 0 {
				x := invs()
				if x == nil {
					return nil
				}
				t, inv := x[0].(*Tenant), x[1].(*seedInvoice)
				for _, l := range genLines(inv.lineSeed, linesPerInvoice, inv.currency, inv.created) {
					qty := l.Quantity
					pending = append(pending, []any{l.ID, t.ID, inv.id, int32(l.Position), l.Description, numeric(&qty),
						l.UnitAmountMinor, numeric(l.UnitPrice), numeric(l.TaxRate), l.AmountMinor, l.TaxMinor})
				}
			}
			row := pending[0]
			pending = pending[1:]
			return row
		}
	})
}

func setCounters(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	for _, t := range ts {
		last := map[invoices.Direction]int64{}
		for _, inv := range t.invoices {
			last[inv.direction] = max(last[inv.direction], inv.number)
		}
		b := &pgx.Batch{}
		for d, n := range last {
			b.Queue(`UPDATE document_counters SET last_number = $3 WHERE tenant_id = $1 AND sequence = $2`, t.ID, string(d), n)
		}
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		_ = bar.Add(1)
	}
	return nil
}

func copyPayments(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	cols := []string{"id", "tenant_id", "direction", "status", "counterparty_id", "amount_minor", "currency", "value_date",
		"method", "reference", "external_id", "version", "created_by", "created_at", "updated_at"}
	return copyParallel(ctx, pool, "payments", cols, bar, func(part int) func() []any {
		return each(ts, part, func(t *Tenant) []*seedPayment { return t.payments }, func(t *Tenant, p *seedPayment) []any {
			return []any{p.id, t.ID, string(p.direction()), "posted", t.Counterparties[p.inv.cp].ID, p.amount, p.inv.currency,
				p.value.In(time.UTC), p.method, p.reference, p.external, int32(1), p.actor, p.created, p.created}
		})
	})
}

func copyAllocations(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	cols := []string{"id", "tenant_id", "payment_id", "invoice_id", "currency", "payment_direction", "invoice_direction",
		"amount_minor", "effective_date", "created_by", "created_at"}
	// Each allocation applies to its own payment and invoice, so the two streams'
	// triggers update disjoint rows.
	return copyParallel(ctx, pool, "allocations", cols, bar, func(part int) func() []any {
		return each(ts, part, func(t *Tenant) []*seedPayment { return t.payments }, func(t *Tenant, p *seedPayment) []any {
			return []any{p.alloc, t.ID, p.id, p.inv.id, p.inv.currency, string(p.direction()), string(p.inv.direction),
				p.allocated, p.value.In(time.UTC), p.actor, p.created}
		})
	})
}

// event is one audited change in a tenant's history, in chain order.
type event struct {
	at   time.Time
	kind int // the order of a request's records: payment, allocation, invoice
	cp   int
	inv  *seedInvoice
	pay  *seedPayment
}

const (
	evCounterparty = iota
	evInvoice
	evPayment
	evAllocation
	evAllocated
)

func history(t *Tenant) []event {
	evs := make([]event, 0, len(t.Counterparties)+len(t.invoices)+3*len(t.payments))
	for i, c := range t.Counterparties {
		evs = append(evs, event{at: c.created, kind: evCounterparty, cp: i})
	}
	for _, inv := range t.invoices {
		evs = append(evs, event{at: inv.created, kind: evInvoice, inv: inv})
	}
	for _, p := range t.payments {
		for _, k := range []int{evPayment, evAllocation, evAllocated} {
			evs = append(evs, event{at: p.created, kind: k, pay: p})
		}
	}
	sort.SliceStable(evs, func(a, b int) bool {
		if !evs[a].at.Equal(evs[b].at) {
			return evs[a].at.Before(evs[b].at)
		}
		return evs[a].kind < evs[b].kind
	})
	return evs
}

// record is an event as the outbox and the audit trail hold it.
func (e event) record(t *Tenant) (action, entityType string, entityID uuid.UUID, version int, before, after any, actor, request string) {
	switch e.kind {
	case evCounterparty:
		c := t.Counterparties[e.cp]
		return "counterparty.created", "counterparty", c.ID, 1, nil, c.record(), clerks[e.cp%len(clerks)], requestID(c.ID)
	case evInvoice:
		inv := e.inv.asCreated(t)
		actor := clerks[int(e.inv.lineSeed%uint64(len(clerks)))]
		return "invoice.created", "invoice", inv.ID, 1, nil, inv, actor, requestID(inv.ID)
	case evPayment:
		s := e.pay.summary(t)
		return "payment.created", "payment", s.ID, s.Version, nil, s, e.pay.actor, requestID(e.pay.id)
	case evAllocation:
		return "allocation.created", "allocation", e.pay.alloc, 1, nil, e.pay.allocation(), e.pay.actor, requestID(e.pay.id)
	default:
		b, a := e.pay.invoiceStates()
		action := "invoice.allocated"
		if a.Status == "paid" {
			action = "invoice.paid"
		}
		return action, "invoice", a.ID, a.Version, b, a, e.pay.actor, requestID(e.pay.id)
	}
}

// stageEvents writes every tenant's history to a staging table in chain order, then
// the outbox rows from it (already published, as the relay leaves them). The audit
// chain is computed from the same staged rows, so outbox and audit agree.
func stageEvents(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	if _, err := pool.Exec(ctx, `CREATE UNLOGGED TABLE bench_audit_stage (
    tenant_id uuid NOT NULL, seq bigint NOT NULL, id uuid NOT NULL, event_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL, actor_type text NOT NULL, actor_id text NOT NULL, action text NOT NULL,
    entity_type text NOT NULL, entity_id uuid NOT NULL, entity_version integer NOT NULL,
    before jsonb, after jsonb, request_id text, PRIMARY KEY (tenant_id, seq))`); err != nil {
		return err
	}
	histories := make([][]event, len(ts))
	for i, t := range ts {
		histories[i] = history(t)
	}
	cols := []string{"tenant_id", "seq", "id", "event_id", "occurred_at", "actor_type", "actor_id", "action",
		"entity_type", "entity_id", "entity_version", "before", "after", "request_id"}
	encErrs := make([]error, streams)
	err := copyParallel(ctx, pool, "bench_audit_stage", cols, bar, func(part int) func() []any {
		ti, i := 0, part
		var ids *rand.Rand
		return func() []any {
			for ti < len(ts) && i >= len(histories[ti]) {
				ti, i, ids = ti+1, part, nil
			}
			if ti >= len(ts) {
				return nil
			}
			if ids == nil {
				ids = newIDSource(uint64(ti*streams + part))
			}
			t, e, seq := ts[ti], histories[ti][i], int64(i+1)
			i += streams
			action, entity, id, version, before, after, actor, request := e.record(t)
			b, err1 := jsonOrNil(before)
			a, err2 := jsonOrNil(after)
			if err1 != nil || err2 != nil {
				encErrs[part] = fmt.Errorf("encode %s: %v %v", action, err1, err2)
				return nil
			}
			return []any{t.ID, seq, v7At(e.at, ids), v7At(e.at, ids), e.at, "user", actor, action, entity, id,
				int32(version), b, a, request}
		}
	})
	for _, e := range encErrs {
		if err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	outbox := make(chan error, streams)
	for part := range streams {
		go func() {
			_, err := pool.Exec(ctx, `INSERT INTO outbox_events (id, tenant_id, event_type, entity_type, entity_id,
    entity_version, payload, request_id, created_at, published_at)
SELECT event_id, tenant_id, action, entity_type, entity_id, entity_version, after, request_id, occurred_at,
       occurred_at + interval '150 milliseconds'
  FROM bench_audit_stage WHERE seq % $1 = $2 ORDER BY tenant_id, seq`, streams, part)
			outbox <- err
		}()
	}
	for range streams {
		if e := <-outbox; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// chainAuditSQL appends one tenant's staged records to its audit chain exactly as
// audit.appendSQL does, one after another: each hash covers the previous one and the
// row's content digest, both computed by the database.
const chainAuditSQL = `CREATE FUNCTION bench_chain_audit(t uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    h bytea;
    s bigint;
    n bigint := 0;
BEGIN
    SELECT hash, seq INTO h, s FROM audit_chain_heads WHERE tenant_id = t FOR UPDATE;
    IF s <> 0 THEN
        RAISE EXCEPTION 'tenant % already has an audit trail', t;
    END IF;
    FOR r IN SELECT * FROM bench_audit_stage WHERE tenant_id = t ORDER BY seq LOOP
        h := sha256(h || audit_content_hash(r.tenant_id, r.seq, r.id, r.occurred_at, r.actor_type, r.actor_id,
                                            r.action, r.entity_type, r.entity_id, r.before, r.after, r.request_id));
        INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_type, actor_id, action, entity_type,
                                  entity_id, before, after, request_id, hash)
        VALUES (r.tenant_id, r.seq, r.id, r.occurred_at, r.actor_type, r.actor_id, r.action, r.entity_type,
                r.entity_id, r.before, r.after, r.request_id, h);
        n := n + 1;
    END LOOP;
    UPDATE audit_chain_heads SET seq = n, hash = h WHERE tenant_id = t;
    RETURN n;
END $$`

func chainAudit(ctx context.Context, pool *pgxpool.Pool, ts []*Tenant, bar *progressbar.ProgressBar) error {
	if _, err := pool.Exec(ctx, chainAuditSQL); err != nil {
		return err
	}
	// Tenants' chains are independent: two at a time keeps both cores busy.
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(ts))
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var n int64
			if err := pool.QueryRow(ctx, `SELECT bench_chain_audit($1)`, t.ID).Scan(&n); err != nil {
				errs <- err
				return
			}
			_ = bar.Add64(n)
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `DROP FUNCTION bench_chain_audit(uuid); DROP TABLE bench_audit_stage`)
	return err
}

// settle leaves the database as a running system would be: statistics current, the
// dead row versions the allocation trigger left vacuumed, and the seed's pages
// written out, so the first measured step does not pay for the seed's checkpoint.
func settle(ctx context.Context, pool *pgxpool.Pool) error {
	for _, sql := range []string{`VACUUM (ANALYZE)`, `CHECKPOINT`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}
