package aging

import (
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// queueSettings reads the tenant's settings (for its bucket edges).
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, out *[]byte) {
	b.Queue(`SELECT settings FROM tenants WHERE id = $1`, tenantID).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// agingSQL is the whole report in one statement, so every figure (the cells, and the
// tie-out's separate sum) comes from one snapshot.
//
// Balances as of $3 start from the stored amount due, which triggers keep equal to the
// total less every active allocation and credit note, and add back what differs at the
// as-of date (the "late" rows): allocations and credit notes effective after it, less
// reversed allocations that were still in force on it. For today that set is empty or
// tiny, so the report reads only the open items; for a past date it grows with the
// activity since then, not with the size of the ledger.
//
// Plan, and the indexes behind it (migrations/00010_reports.sql), for a tenant with
// 500,000 invoices across 20,000 customers (cmd/ledgerline/bench times it):
//   - late: index-only scans of allocations_by_effective_date, allocations_reversed
//     and credit_notes_by_effective_date on (tenant_id, date): nothing to read today;
//     a quarter back, some 50,000 allocations, hashed per invoice;
//   - open invoices: an index-only scan of the partial index invoices_open_aging
//     (tenant_id, direction, issue_date <= $3), which holds only open and uncollectible
//     invoices and INCLUDEs every column read here (~15 ms for 60,000 rows),
//     hash-joined to the adjustments;
//   - paid since: the covering partial index invoices_paid_aging hash-joined to the
//     adjustments; with none (today) the join ends before reading the index; voided
//     since: invoices_by_status (tenant_id, 'void');
//   - one hash aggregate with two grouping sets: (counterparty, currency, bucket), the
//     report's cells (width_bucket over the bucket lower bounds $4: 1, e1+1, …; 0 is
//     current), and (currency), the tie-out's control, summed from the same invoice
//     balances but not through the cells. Two aggregates per row keep it cheap: a
//     FILTER column per bucket cost twice as much here;
//   - counterparty names hash-joined to the cells.
//
// The caller turns nested loops off for the statement: the planner cannot estimate how
// many invoices the adjustments name, guesses few, and would look up tens of thousands
// of paid invoices one by one (~300 ms) instead of hashing them (~60 ms). It raises
// work_mem so the aggregate stays in memory. Money stays bigint (sums are cast back; an
// overflow is an error, not a wrapped number).
const agingSQL = `
WITH late AS (
    SELECT invoice_id, amount_minor AS back
      FROM allocations
     WHERE tenant_id = $1 AND reversed_at IS NULL AND effective_date > $3 AND invoice_direction = $2
    UNION ALL
    SELECT invoice_id, -amount_minor
      FROM allocations
     WHERE tenant_id = $1 AND reversed_at IS NOT NULL AND reversed_at >= $5 AND effective_date <= $3
       AND invoice_direction = $2
    UNION ALL
    SELECT invoice_id, amount_minor
      FROM credit_notes
     WHERE tenant_id = $1 AND effective_date > $3 AND direction = $2
), adjustment AS MATERIALIZED (
    SELECT invoice_id, sum(back)::bigint AS back FROM late GROUP BY invoice_id
), items AS (
    SELECT i.counterparty_id, i.currency, i.issue_date, i.due_date, i.amount_due_minor + coalesce(a.back, 0) AS balance
      FROM invoices i
      LEFT JOIN adjustment a ON a.invoice_id = i.id
     WHERE i.tenant_id = $1 AND i.direction = $2 AND i.status IN ('open', 'uncollectible') AND i.issue_date <= $3 %[1]s
    UNION ALL
    SELECT i.counterparty_id, i.currency, i.issue_date, i.due_date, a.back
      FROM invoices i
      JOIN adjustment a ON a.invoice_id = i.id
     WHERE i.tenant_id = $1 AND i.direction = $2 AND i.status = 'paid' AND i.issue_date <= $3 %[1]s
    UNION ALL
    SELECT i.counterparty_id, i.currency, i.issue_date, i.due_date, i.amount_due_minor + coalesce(a.back, 0)
      FROM invoices i
      LEFT JOIN adjustment a ON a.invoice_id = i.id
     WHERE i.tenant_id = $1 AND i.status = 'void' AND i.direction = $2 AND i.voided_at >= $5 AND i.issue_date <= $3 %[1]s
), cells AS (
    SELECT counterparty_id, currency,
           width_bucket($3::date - CASE WHEN $6 = 'issue_date' THEN issue_date ELSE due_date END, $4::int[]) AS bucket,
           sum(balance)::bigint AS amount, count(*) AS n
      FROM items
     WHERE balance > 0
     GROUP BY GROUPING SETS ((counterparty_id, currency, bucket), (currency))
)
SELECT g.counterparty_id, c.name, g.currency, g.bucket, g.amount, g.n
  FROM cells g
  LEFT JOIN counterparties c ON c.tenant_id = $1 AND c.id = g.counterparty_id`

// QueueReport queues the aging of p with edges on b; *out holds the report once the
// batch has run. Callers inside a transaction (the daily close) age with it.
func QueueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, out *Report) {
	var cells []cell
	var controls []control
	queueReport(b, tenantID, p, edges, &cells, &controls, func() error {
		r, err := assemble(p, edges, cells, controls)
		*out = r
		return err
	})
}

// queueReport queues the aging statement for p with edges, appending its rows to
// cells and controls, then calling done.
func queueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, cells *[]cell, controls *[]control, done func() error) {
	lower := make([]int32, 0, len(edges)+1)
	lower = append(lower, 1)
	for _, e := range edges {
		lower = append(lower, int32(e+1))
	}
	args := []any{tenantID, string(p.Direction), dateArg(p.AsOf), lower, dayAfter(p.AsOf), string(p.Basis)}
	filters := ""
	if p.CounterpartyID != nil {
		args = append(args, *p.CounterpartyID)
		filters += " AND i.counterparty_id = $" + strconv.Itoa(len(args))
	}
	if p.Currency != nil {
		args = append(args, *p.Currency)
		filters += " AND i.currency = $" + strconv.Itoa(len(args))
	}
	// Transaction-local: the settings end with the batch's implicit transaction.
	b.Queue(`SELECT set_config('work_mem', '64MB', true), set_config('enable_nestloop', 'off', true)`)
	b.Queue(fmt.Sprintf(agingSQL, filters), args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var c cell
			// pgtype.UUID reads the binary form; uuid.UUID would parse text, which
			// costs more than everything else here on a 40,000-row report.
			var id pgtype.UUID
			var name *string
			var bucket *int32
			if err := rows.Scan(&id, &name, &c.currency, &bucket, &c.amount, &c.count); err != nil {
				return err
			}
			if !id.Valid {
				*controls = append(*controls, control{currency: c.currency, amount: c.amount, count: c.count})
				continue
			}
			c.counterpartyID, c.bucket = id.Bytes, int(*bucket)
			if name != nil {
				c.name = *name
			}
			*cells = append(*cells, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return done()
	})
}

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

// dayAfter is the first instant after d (UTC): a reversal or void at or after it had
// not happened on d.
func dayAfter(d civil.Date) time.Time { return d.AddDays(1).In(time.UTC) }
