package aging

import (
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// queueSettings reads the tenant's settings (for its bucket edges).
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, out *[]byte) {
	b.Queue(`SELECT settings FROM tenants WHERE id = $1`, tenantID).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// agingSQL is the whole report in one statement, so every figure (lines, and the
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
// 500,000 invoices across 20,000 customers:
//   - late: index scans of allocations_by_effective_date, allocations_reversed and
//     credit_notes_by_effective_date on (tenant_id, date): nothing to read for today;
//   - open invoices: an index-only scan of the partial index invoices_open_aging
//     (tenant_id, direction, issue_date <= $3), which holds only open and uncollectible
//     invoices and INCLUDEs every column read here, hash-joined to the adjustments;
//   - settled since, or voided since: invoices the late rows name, by primary key, and
//     void invoices by invoices_by_status;
//   - the open items (a CTE read twice, so materialised once) are aged with
//     width_bucket over the bucket lower bounds ($4: 1, e1+1, …; index 0 is current),
//     summed per counterparty, currency and bucket, then folded to one row per
//     counterparty and currency with the buckets as arrays (20,000 rows, not 100,000);
//   - counterparty names by hash join; the control sums the open items per currency.
//
// Filters on counterparty and currency are appended by the caller as "AND ..." to the
// open items' conditions (numbered from $7).
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
), adjustment AS (
    SELECT invoice_id, sum(back) AS back FROM late GROUP BY invoice_id
), items AS (
    SELECT i.counterparty_id, i.currency,
           $3::date - CASE WHEN $6 = 'issue_date' THEN i.issue_date ELSE i.due_date END AS age,
           i.amount_due_minor + coalesce(a.back, 0) AS balance
      FROM invoices i
      LEFT JOIN adjustment a ON a.invoice_id = i.id
     WHERE i.tenant_id = $1 AND i.direction = $2 AND i.status IN ('open', 'uncollectible') AND i.issue_date <= $3 %[1]s
    UNION ALL
    SELECT i.counterparty_id, i.currency,
           $3::date - CASE WHEN $6 = 'issue_date' THEN i.issue_date ELSE i.due_date END,
           i.amount_due_minor + coalesce(a.back, 0)
      FROM invoices i
      LEFT JOIN adjustment a ON a.invoice_id = i.id
     WHERE i.tenant_id = $1 AND i.direction = $2 AND i.issue_date <= $3 %[1]s
       AND ((i.status = 'paid' AND a.invoice_id IS NOT NULL)
            OR (i.status = 'void' AND i.voided_at >= $5))
), open_items AS MATERIALIZED (
    SELECT counterparty_id, currency, balance, width_bucket(age, $4::int[]) AS bucket
      FROM items
     WHERE balance > 0
), per_bucket AS (
    SELECT counterparty_id, currency, bucket, sum(balance)::bigint AS amount, count(*) AS n
      FROM open_items
     GROUP BY counterparty_id, currency, bucket
), lines AS (
    SELECT counterparty_id, currency,
           array_agg(bucket ORDER BY bucket) AS buckets,
           array_agg(amount ORDER BY bucket) AS amounts,
           array_agg(n ORDER BY bucket) AS counts
      FROM per_bucket
     GROUP BY counterparty_id, currency
)
SELECT false AS control, l.counterparty_id, c.name, l.currency, l.buckets, l.amounts, l.counts
  FROM lines l
  JOIN counterparties c ON c.tenant_id = $1 AND c.id = l.counterparty_id
UNION ALL
SELECT true, NULL, NULL, currency, NULL, ARRAY[sum(balance)::bigint], ARRAY[count(*)]
  FROM open_items
 GROUP BY currency
 ORDER BY control, name, counterparty_id, currency`

// QueueReport queues the aging of p with edges on b; *out holds the report once the
// batch has run. Callers inside a transaction (the daily close) age with it.
func QueueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, out *Report) {
	var groups []group
	var controls []control
	queueReport(b, tenantID, p, edges, &groups, &controls, func() error {
		r, err := assemble(p, edges, groups, controls)
		*out = r
		return err
	})
}

// queueReport queues the aging statement for p with edges, appending its rows to
// groups and controls, then calling done.
func queueReport(b *pgx.Batch, tenantID uuid.UUID, p Params, edges []int, groups *[]group, controls *[]control, done func() error) {
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
	b.Queue(fmt.Sprintf(agingSQL, filters), args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var isControl bool
			var id *uuid.UUID
			var name *string
			var g group
			if err := rows.Scan(&isControl, &id, &name, &g.currency, &g.bucketIndex, &g.amounts, &g.counts); err != nil {
				return err
			}
			if isControl {
				*controls = append(*controls, control{currency: g.currency, amount: g.amounts[0], count: g.counts[0]})
				continue
			}
			g.counterpartyID, g.name = *id, *name
			*groups = append(*groups, g)
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
