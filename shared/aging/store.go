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

// queueSettings reads the tenant's settings in effect now (for its bucket edges):
// tenant_settings_at, migrations/00014.
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, out *[]byte) {
	b.Queue(`SELECT settings FROM tenant_settings_at($1, now())`, tenantID).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// agingSQL is the whole report in one statement: one snapshot, one round trip.
//
// Balances as of $3 are the stored amounts due (kept by triggers: the total less every
// active allocation and credit note) corrected for what differs at the as-of date. The
// statement returns two kinds of rows per counterparty and currency, which the caller
// adds together:
//   - stored: the open (and uncollectible) invoices issued by $3, at their stored
//     amounts due, aged and summed;
//   - corrections: for each invoice whose balance on $3 differs from the stored one
//     (allocations and credit notes effective after $3, allocations reversed since,
//     invoices voided since), its balance on $3 (if positive and the invoice counted
//     then) less what the stored rows counted for it, in the same bucket (an invoice's
//     age does not depend on its balance).
//
// Today the corrections are few or none, so the report costs one pass over the open
// items; a past date costs that plus the activity since it, not the size of the ledger.
//
// Plan, and the indexes behind it (migrations/00010_reports.sql), for a tenant with
// 500,000 invoices across 20,000 customers, 60,000 of them open (measured with EXPLAIN
// ANALYZE; cmd/ledgerline/bench times the whole request):
//   - stored: an index-only scan of the partial index invoices_open_aging, which holds
//     only open and uncollectible invoices, in (tenant, direction, counterparty,
//     currency) order, with every column read here; a GroupAggregate sums it as it
//     streams, with no hash table and no sort (~35 ms): a FILTER sum per bucket on
//     plain comparisons of the age (%[2]s, generated from the validated edges), and
//     beside them the unbucketed sum, the tie-out's control (a balance no bucket caught
//     shows as a difference);
//   - moved: each source joined straight to its table, so the planner knows how many
//     rows to expect: today each is an index probe that finds nothing (allocations_by_
//     effective_date, allocations_reversed, credit_notes_by_effective_date and
//     invoices_by_status, then nested loops by primary key); 90 days back, the 54,000
//     allocations since are hashed and the open and paid invoices streamed past them
//     from the covering indexes invoices_open_aging and invoices_paid_aging (~150 ms,
//     the most of a past date's cost);
//   - the rows ordered by (counterparty, currency), which both parts already are: a
//     Merge Append of the two and a Merge Join with an index-only scan of
//     counterparties_named (00011) for the names, with no sort, so rows stream to the client while the aggregate runs, and a
//     key's stored and correction rows arrive side by side. Sorting by name here
//     instead cost a blocking 16 ms; the caller sorts the lines by name.
//
// The caller raises work_mem so hash tables stay in memory, and has the statement
// planned for its parameters every time (force_custom_plan; ~2 ms): the right plan
// for today (probes that find nothing) and for a past date (hash joins over tens of
// thousands of rows) differ, and the generic plan a prepared statement falls back to
// after five runs cannot know the date. A past date's joins run in
// parallel workers where the server has them (205 ms instead of 230 on two cores);
// today's plan has nothing worth parallelising. Money stays bigint (sums are cast
// back; an overflow is an error, not a wrapped number).
const agingSQL = `
WITH moved AS (
    -- What makes an invoice's balance on $3 differ from its stored amount due, one row
    -- per source, each joined straight to its table so the planner sees the tables'
    -- statistics: allocations effective after $3 (on open and paid invoices: a void
    -- one has none in force), allocations in force on $3 but reversed since, credit
    -- notes effective after $3, and invoices voided since (which add nothing back but
    -- counted on $3). A paid invoice owes nothing now.
    SELECT i.id, i.counterparty_id, i.currency, i.status, i.issue_date, i.due_date, NULL::timestamptz AS voided_at,
           i.amount_due_minor, l.amount_minor AS back
      FROM allocations l
      JOIN invoices i ON i.id = l.invoice_id
     WHERE l.tenant_id = $1 AND l.reversed_at IS NULL AND l.effective_date > $3 AND l.invoice_direction = $2
       AND i.tenant_id = $1 AND i.direction = $2 AND i.status IN ('open', 'uncollectible') %[1]s
    UNION ALL
    SELECT i.id, i.counterparty_id, i.currency, 'paid', i.issue_date, i.due_date, NULL, 0, l.amount_minor
      FROM allocations l
      JOIN invoices i ON i.id = l.invoice_id
     WHERE l.tenant_id = $1 AND l.reversed_at IS NULL AND l.effective_date > $3 AND l.invoice_direction = $2
       AND i.tenant_id = $1 AND i.direction = $2 AND i.status = 'paid' AND i.issue_date <= $3 %[1]s
    UNION ALL
    SELECT i.id, i.counterparty_id, i.currency, i.status, i.issue_date, i.due_date, i.voided_at, i.amount_due_minor,
           -l.amount_minor
      FROM allocations l
      JOIN invoices i ON i.id = l.invoice_id
     WHERE l.tenant_id = $1 AND l.reversed_at IS NOT NULL AND l.reversed_at >= $4 AND l.effective_date <= $3
       AND l.invoice_direction = $2 AND i.tenant_id = $1 %[1]s
    UNION ALL
    SELECT i.id, i.counterparty_id, i.currency, i.status, i.issue_date, i.due_date, i.voided_at, i.amount_due_minor,
           n.amount_minor
      FROM credit_notes n
      JOIN invoices i ON i.id = n.invoice_id
     WHERE n.tenant_id = $1 AND n.effective_date > $3 AND n.direction = $2 AND i.tenant_id = $1 %[1]s
    UNION ALL
    SELECT i.id, i.counterparty_id, i.currency, i.status, i.issue_date, i.due_date, i.voided_at, i.amount_due_minor, 0
      FROM invoices i
     WHERE i.tenant_id = $1 AND i.status = 'void' AND i.direction = $2 AND i.voided_at >= $4 %[1]s
), changed AS (
    SELECT counterparty_id, currency, status, issue_date, due_date, voided_at, amount_due_minor, sum(back)::bigint AS back
      FROM moved
     GROUP BY id, counterparty_id, currency, status, issue_date, due_date, voided_at, amount_due_minor
), corrected AS (
    SELECT counterparty_id, currency, age,
           CASE WHEN counts THEN balance ELSE 0 END - CASE WHEN stored THEN amount_due_minor ELSE 0 END AS balance,
           counts::int - stored::int AS n
      FROM (SELECT counterparty_id, currency, amount_due_minor,
                   $3::date - CASE WHEN $5 = 'issue_date' THEN issue_date ELSE due_date END AS age,
                   amount_due_minor + back AS balance,
                   issue_date <= $3 AND (status <> 'void' OR voided_at >= $4) AND amount_due_minor + back > 0 AS counts,
                   status IN ('open', 'uncollectible') AND issue_date <= $3 AS stored
              FROM changed) c
), stored AS (
    SELECT counterparty_id, currency, sum(balance)::bigint AS control, count(*) AS n, %[2]s
      FROM (SELECT counterparty_id, currency, amount_due_minor AS balance,
                   $3::date - CASE WHEN $5 = 'issue_date' THEN issue_date ELSE due_date END AS age
              FROM invoices i
             WHERE i.tenant_id = $1 AND i.direction = $2 AND i.status IN ('open', 'uncollectible') AND i.issue_date <= $3 %[1]s) s
     GROUP BY counterparty_id, currency
), corrections AS (
    SELECT counterparty_id, currency, sum(balance)::bigint AS control, sum(n)::bigint AS n, %[2]s
      FROM corrected
     GROUP BY counterparty_id, currency
), rows AS (
    SELECT * FROM stored
    UNION ALL
    SELECT * FROM corrections
)
SELECT c.name, r.*
  FROM rows r
  JOIN counterparties c ON c.tenant_id = $1 AND c.id = r.counterparty_id
 ORDER BY r.counterparty_id, r.currency`

// bucketSums are the aggregates of agingSQL's buckets, in order: current (age 0 or
// less), each range, older. The edges are validated integers, written as literals so
// the planner sees constants; no request text reaches the SQL.
func bucketSums(edges []int) string {
	sum := func(cond string) string {
		return "coalesce(sum(balance) FILTER (WHERE " + cond + "), 0)::bigint"
	}
	parts := []string{sum("age <= 0") + " AS b0"}
	from := 1
	for i, e := range edges {
		parts = append(parts, sum(fmt.Sprintf("age BETWEEN %d AND %d", from, e))+fmt.Sprintf(" AS b%d", i+1))
		from = e + 1
	}
	parts = append(parts, sum(fmt.Sprintf("age >= %d", from))+fmt.Sprintf(" AS b%d", len(edges)+1))
	return strings.Join(parts, ", ")
}

// Statement is the report's SQL and arguments for p with edges: what QueueReport runs,
// for tools that examine its plan (the benchmark prints EXPLAIN ANALYZE of it).
func Statement(tenantID uuid.UUID, p Params, edges []int) (string, []any) {
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
	return fmt.Sprintf(agingSQL, filters, bucketSums(edges)), args
}

// Settings are the transaction-local settings the statement runs with.
const Settings = `SELECT set_config('work_mem', '64MB', true), set_config('plan_cache_mode', 'force_custom_plan', true)`

// QueueReport queues the aging of p with edges on b; *out holds the report once the
// batch has run. Callers inside a transaction (the daily close) age with it.
func QueueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, out *Report) {
	sql, args := Statement(tenantID, p, edges)
	// Transaction-local: the settings end with the batch's implicit transaction (or
	// the caller's transaction).
	b.Queue(Settings)
	rowsRead := make([]row, 0, 4096)
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		// A 20,000-line report allocates per row only what it keeps: one set of scan
		// targets serves every row, bucket sums are carved from shared blocks,
		// pgtype.UUID reads the binary id (uuid.UUID would parse text), and the
		// currency code is read raw and interned. Garbage collection was a third of
		// the request's CPU before.
		width := len(edges) + 2
		var (
			name           string
			id             pgtype.UUID
			control, count int64
			sums           = make([]int64, width)
			arena          []int64
			currencies     = map[string]string{}
		)
		dest := []any{&name, &id, nil, &control, &count}
		for i := range sums {
			dest = append(dest, &sums[i])
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			raw := rows.RawValues()[2]
			cur, ok := currencies[string(raw)]
			if !ok {
				cur = string(raw)
				currencies[cur] = cur
			}
			if len(arena) < width {
				arena = make([]int64, 1024*width)
			}
			buckets := arena[:width:width]
			arena = arena[width:]
			copy(buckets, sums)
			rowsRead = append(rowsRead, row{counterpartyID: id.Bytes, name: name, currency: cur, buckets: buckets,
				control: control, count: count})
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
