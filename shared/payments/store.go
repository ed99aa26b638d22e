package payments

import (
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

const summaryColumns = `id, direction, status, counterparty_id, amount_minor, amount_allocated_minor, currency,
value_date, method, reference, external_id, version, created_by, created_at, updated_at, reversed_at, reversal_reason`

func scanSummary(row pgx.Row) (Summary, error) {
	s := Summary{Object: "payment"}
	var value time.Time
	err := row.Scan(&s.ID, &s.Direction, &s.Status, &s.CounterpartyID, &s.AmountMinor, &s.AmountAllocatedMinor,
		&s.Currency, &value, &s.Method, &s.Reference, &s.ExternalID, &s.Version, &s.createdBy, &s.CreatedAt,
		&s.UpdatedAt, &s.ReversedAt, &s.ReversalReason)
	s.ValueDate = civil.DateOf(value)
	s.AmountUnallocatedMinor = s.AmountMinor - s.AmountAllocatedMinor
	return s, err
}

func queueSummary(b *pgx.Batch, sql string, args []any, out *Summary, found *bool) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s, err := scanSummary(rows)
			if err != nil {
				return err
			}
			*out, *found = s, true
		}
		return rows.Err()
	})
}

// queueLockPayment reads the payment and takes its row lock: payments are locked
// before invoices in every transaction, so two money movements never wait on each
// other in opposite orders.
func queueLockPayment(b *pgx.Batch, tenantID, id uuid.UUID, out *Summary, found *bool) {
	queueSummary(b, `SELECT `+summaryColumns+` FROM payments WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		[]any{tenantID, id}, out, found)
}

func queueGetPayment(b *pgx.Batch, tenantID, id uuid.UUID, out *Payment, found *bool) {
	queueSummary(b, `SELECT `+summaryColumns+` FROM payments WHERE tenant_id = $1 AND id = $2`,
		[]any{tenantID, id}, &out.Summary, found)
	queueAllocations(b, tenantID, id, &out.Allocations)
}

func queueGetPaymentByExternalID(b *pgx.Batch, tenantID uuid.UUID, externalID string, out *Payment, found *bool) {
	queueSummary(b, `SELECT `+summaryColumns+` FROM payments WHERE tenant_id = $1 AND external_id = $2`,
		[]any{tenantID, externalID}, &out.Summary, found)
	queueAllocationRows(b, `SELECT `+allocationColumns+` FROM allocations WHERE tenant_id = $1
   AND payment_id = (SELECT id FROM payments WHERE tenant_id = $1 AND external_id = $2) ORDER BY id`,
		[]any{tenantID, externalID}, &out.Allocations)
}

// queueAllocations reads every allocation of a payment, active and reversed.
func queueAllocations(b *pgx.Batch, tenantID, paymentID uuid.UUID, out *[]Allocation) {
	queueAllocationRows(b, `SELECT `+allocationColumns+` FROM allocations WHERE tenant_id = $1 AND payment_id = $2 ORDER BY id`,
		[]any{tenantID, paymentID}, out)
}

func queueAllocationRows(b *pgx.Batch, sql string, args []any, out *[]Allocation) {
	b.Queue(sql, args...).
		Query(func(rows pgx.Rows) error {
			*out = []Allocation{}
			for rows.Next() {
				a, err := scanAllocation(rows)
				if err != nil {
					return err
				}
				*out = append(*out, a)
			}
			return rows.Err()
		})
}

const allocationColumns = `id, payment_id, invoice_id, amount_minor, currency, effective_date, created_at, reversed_at, reversal_reason`

func scanAllocation(row pgx.Row) (Allocation, error) {
	a := Allocation{Object: "allocation", Status: "active"}
	var eff time.Time
	err := row.Scan(&a.ID, &a.PaymentID, &a.InvoiceID, &a.AmountMinor, &a.Currency, &eff, &a.CreatedAt,
		&a.ReversedAt, &a.ReversalReason)
	a.EffectiveDate = civil.DateOf(eff)
	if a.ReversedAt != nil {
		a.Status = "reversed"
	}
	return a, err
}

const invoiceColumns = `id, direction, status, currency, total_minor, amount_paid_minor, amount_credited_minor, amount_due_minor, version`

func queueInvoices(b *pgx.Batch, sql string, args []any, out map[uuid.UUID]invoiceState) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var s invoiceState
			if err := rows.Scan(&s.ID, &s.Direction, &s.Status, &s.Currency, &s.TotalMinor, &s.AmountPaid,
				&s.AmountCredited, &s.AmountDue, &s.Version); err != nil {
				return err
			}
			out[s.ID] = s
		}
		return rows.Err()
	})
}

// queueLockInvoices locks the invoices in id order (the fixed order after payments).
// Reading invoices here is the payments domain's own concern: it is the money movement
// that needs them locked.
func queueLockInvoices(b *pgx.Batch, tenantID uuid.UUID, ids []uuid.UUID, out map[uuid.UUID]invoiceState) {
	queueInvoices(b, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`,
		[]any{tenantID, ids}, out)
}

// queueLockAllocatedInvoices locks the invoices of a payment's active allocations.
func queueLockAllocatedInvoices(b *pgx.Batch, tenantID, paymentID uuid.UUID, out map[uuid.UUID]invoiceState) {
	queueInvoices(b, `SELECT `+invoiceColumns+` FROM invoices
 WHERE tenant_id = $1
   AND id IN (SELECT invoice_id FROM allocations WHERE tenant_id = $1 AND payment_id = $2 AND reversed_at IS NULL)
 ORDER BY id FOR UPDATE`, []any{tenantID, paymentID}, out)
}

func queueReadInvoices(b *pgx.Batch, tenantID uuid.UUID, ids []uuid.UUID, out map[uuid.UUID]invoiceState) {
	queueInvoices(b, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 AND id = ANY($2)`, []any{tenantID, ids}, out)
}

func queueInsertPayment(b *pgx.Batch, tenantID uuid.UUID, p Summary) {
	b.Queue(`INSERT INTO payments (id, tenant_id, direction, status, counterparty_id, amount_minor, currency, value_date,
    method, reference, external_id, version, created_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		p.ID, tenantID, p.Direction, p.Status, p.CounterpartyID, p.AmountMinor, p.Currency, p.ValueDate.In(time.UTC),
		p.Method, p.Reference, p.ExternalID, p.Version, p.createdBy, p.CreatedAt, p.UpdatedAt)
}

// queueInsertAllocations inserts all rows in one statement; the allocations trigger
// applies each to its payment and invoice.
func queueInsertAllocations(b *pgx.Batch, tenantID uuid.UUID, d Direction, createdBy string, rows []Allocation) {
	n := len(rows)
	ids, invoices := make([]uuid.UUID, n), make([]uuid.UUID, n)
	amounts, dates := make([]int64, n), make([]time.Time, n)
	for i, a := range rows {
		ids[i], invoices[i], amounts[i], dates[i] = a.ID, a.InvoiceID, a.AmountMinor, a.EffectiveDate.In(time.UTC)
	}
	b.Queue(`INSERT INTO allocations (id, tenant_id, payment_id, invoice_id, currency, payment_direction,
    invoice_direction, amount_minor, effective_date, created_by, created_at)
SELECT t.id, $1, $2, t.invoice_id, $3, $4, $5, t.amount, t.effective, $6, $7
  FROM unnest($8::uuid[], $9::uuid[], $10::bigint[], $11::date[]) AS t(id, invoice_id, amount, effective)`,
		tenantID, rows[0].PaymentID, rows[0].Currency, d, d.InvoiceDirection(), createdBy, rows[0].CreatedAt,
		ids, invoices, amounts, dates)
}

func queueGetAllocation(b *pgx.Batch, tenantID, paymentID, id uuid.UUID, out *Allocation, found *bool) {
	b.Queue(`SELECT `+allocationColumns+` FROM allocations WHERE tenant_id = $1 AND payment_id = $2 AND id = $3`, tenantID, paymentID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				a, err := scanAllocation(rows)
				if err != nil {
					return err
				}
				*out, *found = a, true
			}
			return rows.Err()
		})
}

// queueReverseAllocations reverses one allocation (id set) or all active ones of the
// payment; the trigger takes the amounts back off the payment and the invoices.
func queueReverseAllocations(b *pgx.Batch, tenantID, paymentID uuid.UUID, id *uuid.UUID, by, reason string, at time.Time) {
	b.Queue(`UPDATE allocations SET reversed_at = $4, reversed_by = $5, reversal_reason = $6
 WHERE tenant_id = $1 AND payment_id = $2 AND ($3::uuid IS NULL OR id = $3) AND reversed_at IS NULL`,
		tenantID, paymentID, id, at, by, reason)
}

func queueMarkReversed(b *pgx.Batch, tenantID, paymentID uuid.UUID, reason string, at time.Time) {
	b.Queue(`UPDATE payments SET status = 'reversed', reversed_at = $3, reversal_reason = $4, version = version + 1, updated_at = $3
 WHERE tenant_id = $1 AND id = $2`, tenantID, paymentID, at, reason)
}

// queueList reads a page newest first (payments_page index, plus the filters).
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, p page.Params, out *[]Summary) {
	w := db.NewWhere("tenant_id = ?", tenantID)
	add := w.Add
	if f.Direction != nil {
		add("direction = ?", string(*f.Direction))
	}
	if f.Status != nil {
		add("status = ?", string(*f.Status))
	}
	if f.CounterpartyID != nil {
		add("counterparty_id = ?", *f.CounterpartyID)
	}
	if f.Currency != nil {
		add("currency = ?", *f.Currency)
	}
	if p.StartingAfter != nil {
		add("id < ?", *p.StartingAfter)
	}
	limit := w.Arg(p.Limit + 1)
	b.Queue(`SELECT `+summaryColumns+` FROM payments WHERE `+w.SQL()+` ORDER BY id DESC LIMIT `+limit, w.Args()...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s, err := scanSummary(rows)
			if err != nil {
				return err
			}
			*out = append(*out, s)
		}
		return rows.Err()
	})
}
