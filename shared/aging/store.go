package aging

import (
	"fmt"
	"strconv"
	"strings"
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

// agingSQL is the whole report in one statement: one snapshot, one round trip.
//
// Balances as of $3 start from the stored amount due, which triggers keep equal to the
// total less every active allocation and credit note, and add back what differs at the
// as-of date (the "late" rows): allocations and credit notes effective after it, less
// reversed allocations that were still in force on it. For today that set is empty or
// tiny, so the report reads only the open items; for a past date it grows with the
// activity since then, not with the size of the ledger.
//
// Plan, and the indexes behind it (migrations/00010_reports.sql), for a tenant with
// 500,000 invoices across 20,000 customers (cmd/ledgerline/bench times it end to end):
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
//   - one hash aggregate per counterparty and currency: a FILTER sum per bucket on
//     plain comparisons of the age (%[2]s, generated from the validated edges), and
//     beside them the unbucketed sum, the tie-out's control: a balance no bucket caught
//     would show as a difference;
//   - counterparty names hash-joined to the 20,000 lines.
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
     WHERE tenant_id = $1 AND reversed_at IS NOT NULL AND reversed_at >= $4 AND effective_date <= $3
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
     WHERE i.tenant_id = $1 AND i.status = 'void' AND i.direction = $2 AND i.voided_at >= $4 AND i.issue_date <= $3 %[1]s
), aged AS (
    SELECT counterparty_id, currency, balance,
           $3::date - CASE WHEN $5 = 'issue_date' THEN issue_date ELSE due_date END AS age
      FROM items
     WHERE balance > 0
), lines AS (
    SELECT counterparty_id, currency, ARRAY[%[2]s] AS buckets, sum(balance)::bigint AS control, count(*) AS n
      FROM aged
     GROUP BY counterparty_id, currency
)
SELECT l.counterparty_id, c.name, l.currency, l.buckets, l.control, l.n
  FROM lines l
  JOIN counterparties c ON c.tenant_id = $1 AND c.id = l.counterparty_id`

// bucketSums are the aggregates of agingSQL's buckets, in order: current (age 0 or
// less), each range, older. The edges are validated integers, written as literals so
// the planner sees constants; no request text reaches the SQL.
func bucketSums(edges []int) string {
	sum := func(cond string) string {
		return "coalesce(sum(balance) FILTER (WHERE " + cond + "), 0)::bigint"
	}
	parts := []string{sum("age <= 0")}
	from := 1
	for _, e := range edges {
		parts = append(parts, sum(fmt.Sprintf("age BETWEEN %d AND %d", from, e)))
		from = e + 1
	}
	parts = append(parts, sum(fmt.Sprintf("age >= %d", from)))
	return strings.Join(parts, ", ")
}

// QueueReport queues the aging of p with edges on b; *out holds the report once the
// batch has run. Callers inside a transaction (the daily close) age with it.
func QueueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, out *Report) {
	args := []any{tenantID, string(p.Direction), dateArg(p.AsOf), dayAfter(p.AsOf), string(p.Basis)}
	filters := ""
	if p.CounterpartyID != nil {
		args = append(args, *p.CounterpartyID)
		filters += " AND i.counterparty_id = $" + strconv.Itoa(len(args))
	}
	if p.Currency != nil {
		args = append(args, *p.Currency)
		filters += " AND i.currency = $" + strconv.Itoa(len(args))
	}
	// Transaction-local: the settings end with the batch's implicit transaction (or
	// the caller's transaction).
	b.Queue(`SELECT set_config('work_mem', '64MB', true), set_config('enable_nestloop', 'off', true)`)
	var rowsRead []row
	b.Queue(fmt.Sprintf(agingSQL, filters, bucketSums(edges)), args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r row
			// pgtype.UUID reads the binary form; uuid.UUID would parse text, which
			// cost more than the rest of the assembly on a 20,000-line report.
			var id pgtype.UUID
			if err := rows.Scan(&id, &r.name, &r.currency, &r.buckets, &r.control, &r.count); err != nil {
				return err
			}
			r.counterpartyID = id.Bytes
			rowsRead = append(rowsRead, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rep, err := assemble(p, edges, rowsRead)
		*out = rep
		return err
	})
}

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

// dayAfter is the first instant after d (UTC): a reversal or void at or after it had
// not happened on d.
func dayAfter(d civil.Date) time.Time { return d.AddDays(1).In(time.UTC) }
