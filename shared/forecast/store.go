package forecast

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

// historySQL is the days-to-pay distribution of every counterparty and direction with
// observations in the window [$2, $3], and of the tenant per direction (the grouping
// set without counterparty: rows with a NULL one), as nearest-rank percentiles: of n
// observations sorted ascending, Pq is the ⌈q·n/100⌉-th.
//
// An invoice's pay date is the latest effective date of its active allocations. Only
// allocations effective from the window's start are read (the partial index
// allocations_by_effective_date (tenant_id, effective_date) WHERE reversed_at IS NULL,
// which INCLUDEs invoice_id, serves it without touching the table): an invoice whose
// latest allocation is in the window has it among them, so their maximum is its pay
// date; one whose latest is earlier has none; one whose latest is after as_of (not yet
// paid then) fails the HAVING. Those invoices are then hash-joined to the invoices, and
// only the ones paid in full count. What crosses the wire is one row per counterparty
// and direction, not one per payment.
//
// percentile_disc(f) returns the ⌈f·n⌉-th value (at least the 1st), computing f·n in
// floating point. For f = 0.1, 0.5 and 0.9 that is exactly ⌈q·n/100⌉: 0.5 is exact,
// and the doubles nearest 0.1 and 0.9 exceed them by so little that a product which
// should be a whole number rounds back to it rather than up past it
// (TestPercentileDiscRanks checks every n up to ten million).
//
// For a tenant of 500,000 invoices issued over two years (240,000 paid in the window,
// 20,000 customers) this takes about 0.6 s on a two-core machine, most of it the join;
// see queueWorkMem.
const historySQL = `
WITH paid AS (
    SELECT invoice_id, max(effective_date) AS paid_on
      FROM allocations
     WHERE tenant_id = $1 AND reversed_at IS NULL AND effective_date >= $2
     GROUP BY invoice_id
    HAVING max(effective_date) <= $3
)
SELECT i.direction, i.counterparty_id, count(*)::int,
       percentile_disc(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY p.paid_on - i.due_date)
  FROM paid p
  JOIN invoices i ON i.tenant_id = $1 AND i.id = p.invoice_id
 WHERE i.status = 'paid'
 GROUP BY GROUPING SETS ((i.direction, i.counterparty_id), (i.direction))`

// queueWorkMem lets this read's sorts and hashes use 16 MB instead of the server's
// default 4 MB, for the transaction only (set_config(..., true)): the history's
// per-invoice aggregate and join spill to disk otherwise, which made it 20–30% slower
// for the large tenant above, and larger settings gained nothing there.
func queueWorkMem(b *pgx.Batch) {
	b.Queue(`SELECT set_config('work_mem', '16MB', true)`)
}

// queueHistory reads the distributions of days to pay for the window ending on asOf.
func queueHistory(b *pgx.Batch, tenantID uuid.UUID, asOf civil.Date, out *History) {
	b.Queue(historySQL, tenantID, dateArg(HistoryStart(asOf)), dateArg(asOf)).Query(func(rows pgx.Rows) error {
		*out = History{Counterparties: map[Party]Delays{}, Tenant: map[Direction]Delays{}}
		for rows.Next() {
			var d Direction
			var counterparty *uuid.UUID
			var h Delays
			var days []int
			if err := rows.Scan(&d, &counterparty, &h.Observations, &days); err != nil {
				return err
			}
			h.P10, h.P50, h.P90 = days[0], days[1], days[2]
			if counterparty == nil {
				out.Tenant[d] = h
			} else {
				out.Counterparties[Party{Direction: d, CounterpartyID: *counterparty}] = h
			}
		}
		return rows.Err()
	})
}

// queueOpen sums the open items by direction, currency, counterparty and due date
// (optionally in one currency): every invoice of a group is expected on the same day,
// so this is all Compute needs, and far fewer rows than invoices. Uncollectible
// invoices are written off and left out. The open invoices are found through
// invoices_by_status (tenant_id, status, id).
func queueOpen(b *pgx.Batch, tenantID uuid.UUID, currency *string, out *[]Open) {
	sql := `SELECT direction, currency, counterparty_id, due_date, sum(amount_due_minor)::bigint, count(*)::int
  FROM invoices
 WHERE tenant_id = $1 AND status = 'open' AND amount_due_minor > 0`
	args := []any{tenantID}
	if currency != nil {
		sql += ` AND currency = $2`
		args = append(args, *currency)
	}
	sql += `
 GROUP BY direction, currency, counterparty_id, due_date`
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var o Open
			var due time.Time
			if err := rows.Scan(&o.Direction, &o.Currency, &o.CounterpartyID, &due, &o.AmountMinor, &o.Invoices); err != nil {
				return err
			}
			o.DueDate = civil.DateOf(due)
			*out = append(*out, o)
		}
		return rows.Err()
	})
}

// queueNames reads the names of the counterparties with a finalized invoice (in
// currency, if given). Queued after queueOpen in the same batch, whose statements each
// see the data as of their own start: "finalized" rather than "open" so that an
// invoice paid between the two statements cannot leave its counterparty nameless (a
// finalized invoice never returns to draft, and a counterparty with invoices is never
// deleted).
func queueNames(b *pgx.Batch, tenantID uuid.UUID, currency *string, out map[uuid.UUID]string) {
	sql := `SELECT c.id, c.name
  FROM counterparties c
 WHERE c.tenant_id = $1 AND EXISTS (
       SELECT 1 FROM invoices i
        WHERE i.tenant_id = $1 AND i.counterparty_id = c.id AND i.status <> 'draft'`
	args := []any{tenantID}
	if currency != nil {
		sql += ` AND i.currency = $2`
		args = append(args, *currency)
	}
	sql += `)`
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			out[id] = name
		}
		return rows.Err()
	})
}
