package closing

import (
	"context"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// listTenants reads every tenant id; only the relay role's policy shows them all.
func listTenants(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM tenants ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// queueSettings reads the tenant's settings in effect at at (tenant_settings_at,
// migrations/00014).
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out *[]byte) {
	b.Queue(`SELECT settings FROM tenant_settings_at($1, $2)`, tenantID, at).QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// queueMarkOverdue marks the open and uncollectible invoices that are past due on the
// close date (invoices_overdue_scan serves it) and returns them.
func queueMarkOverdue(b *pgx.Batch, tenantID uuid.UUID, date civil.Date, out *[]Overdue) {
	b.Queue(`UPDATE invoices SET overdue_since = $2, version = version + 1, updated_at = now()
 WHERE tenant_id = $1 AND status IN ('open', 'uncollectible') AND overdue_since IS NULL AND due_date < $2
 RETURNING id, number, counterparty_id, currency, amount_due_minor, due_date, version`, tenantID, date.In(time.UTC)).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				o := Overdue{OverdueSince: date}
				var due time.Time
				if err := rows.Scan(&o.ID, &o.Number, &o.CounterpartyID, &o.Currency, &o.AmountDueMinor, &due, &o.Version); err != nil {
					return err
				}
				o.DueDate = civil.DateOf(due)
				*out = append(*out, o)
			}
			return rows.Err()
		})
}

// overdueGroup is one customer's overdue receivables in one currency.
type overdueGroup struct {
	counterparty uuid.UUID
	currency     string
	oldestDue    civil.Date
	invoices     []uuid.UUID
	amountDue    int64
}

// queueOverdueReceivables groups the open receivables past due by customer and currency.
// Written-off (uncollectible) invoices are not dunned.
func queueOverdueReceivables(b *pgx.Batch, tenantID uuid.UUID, date civil.Date, out *[]overdueGroup) {
	b.Queue(`SELECT counterparty_id, currency, min(due_date), array_agg(id ORDER BY due_date, id), sum(amount_due_minor)
  FROM invoices
 WHERE tenant_id = $1 AND direction = 'receivable' AND status = 'open' AND due_date < $2 AND amount_due_minor > 0
 GROUP BY counterparty_id, currency
 ORDER BY counterparty_id, currency`, tenantID, date.In(time.UTC)).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var g overdueGroup
				var oldest time.Time
				if err := rows.Scan(&g.counterparty, &g.currency, &oldest, &g.invoices, &g.amountDue); err != nil {
					return err
				}
				g.oldestDue = civil.DateOf(oldest)
				*out = append(*out, g)
			}
			return rows.Err()
		})
}

// queueInsertProposal records p unless the customer already has a proposal at this
// stage; created reports whether this close made it.
func queueInsertProposal(b *pgx.Batch, tenantID uuid.UUID, p Proposal, created *bool) {
	b.Queue(`INSERT INTO dunning_proposals (id, tenant_id, counterparty_id, stage, days_overdue, invoice_ids, amounts_due, close_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant_id, counterparty_id, stage) DO NOTHING`,
		p.ID, tenantID, p.CounterpartyID, p.Stage, p.DaysOverdue, p.InvoiceIDs, p.AmountsDue, p.CloseDate.In(time.UTC)).
		Exec(func(ct pgconn.CommandTag) error {
			*created = ct.RowsAffected() == 1
			return nil
		})
}

func queueInsertSnapshot(b *pgx.Batch, tenantID uuid.UUID, date civil.Date, s Snapshot) {
	b.Queue(`INSERT INTO aging_snapshots (tenant_id, close_date, direction, currency, current_minor, buckets, total_minor, invoice_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant_id, close_date, direction, currency) DO NOTHING`,
		tenantID, date.In(time.UTC), s.Direction, s.Currency, s.CurrentMinor, s.Buckets, s.TotalMinor, s.InvoiceCount)
}
