package invoices

import (
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// summaryColumns is the one projection of an invoice row, in scan order.
const summaryColumns = `id, direction, status, number, counterparty_id, currency, issue_date, due_date, memo,
external_id, subtotal_minor, tax_minor, total_minor, amount_paid_minor, amount_credited_minor,
amount_due_minor, version, created_at, updated_at, finalized_at`

func scanSummary(row pgx.Row) (Summary, error) {
	s := Summary{Object: "invoice"}
	var issue, due time.Time
	err := row.Scan(&s.ID, &s.Direction, &s.Status, &s.Number, &s.CounterpartyID, &s.Currency, &issue, &due,
		&s.Memo, &s.ExternalID, &s.SubtotalMinor, &s.TaxMinor, &s.TotalMinor, &s.AmountPaidMinor,
		&s.AmountCreditedMinor, &s.AmountDueMinor, &s.Version, &s.CreatedAt, &s.UpdatedAt, &s.FinalizedAt)
	s.IssueDate, s.DueDate = civil.DateOf(issue), civil.DateOf(due)
	return s, err
}

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

// queueNextNumber takes the next gapless number for a direction. The UPDATE locks the
// counter row until commit, so concurrent finalizations queue behind each other and a
// rolled-back one releases its number unused.
func queueNextNumber(b *pgx.Batch, tenantID uuid.UUID, d Direction, out *int64) {
	b.Queue(`UPDATE document_counters SET last_number = last_number + 1
 WHERE tenant_id = $1 AND sequence = $2 RETURNING last_number`, tenantID, d).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

func queueInsert(b *pgx.Batch, tenantID uuid.UUID, inv Invoice) {
	s := inv.Summary
	b.Queue(`INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date,
    due_date, memo, external_id, subtotal_minor, tax_minor, total_minor, version, created_at, updated_at, finalized_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		s.ID, tenantID, s.Direction, s.Status, s.Number, s.CounterpartyID, s.Currency, dateArg(s.IssueDate),
		dateArg(s.DueDate), s.Memo, s.ExternalID, s.SubtotalMinor, s.TaxMinor, s.TotalMinor, s.Version,
		s.CreatedAt, s.UpdatedAt, s.FinalizedAt)

	// All lines in one statement: one array per column, unnested together.
	n := len(inv.Lines)
	ids := make([]uuid.UUID, n)
	positions := make([]int32, n)
	descs := make([]string, n)
	qtys := make([]string, n)
	units := make([]int64, n)
	rates := make([]*string, n)
	amounts := make([]int64, n)
	taxes := make([]int64, n)
	for i, l := range inv.Lines {
		ids[i], positions[i], descs[i], qtys[i] = l.ID, int32(l.Position), l.Description, l.Quantity
		units[i], rates[i], amounts[i], taxes[i] = l.UnitAmountMinor, l.TaxRate, l.AmountMinor, l.TaxMinor
	}
	b.Queue(`INSERT INTO invoice_lines (id, tenant_id, invoice_id, position, description, quantity,
    unit_amount_minor, tax_rate, amount_minor, tax_minor)
SELECT t.id, $1, $2, t.position, t.description, t.quantity::numeric, t.unit, t.rate::numeric, t.amount, t.tax
  FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::bigint[], $10::bigint[])
       AS t(id, position, description, quantity, unit, rate, amount, tax)`,
		tenantID, s.ID, ids, positions, descs, qtys, units, rates, amounts, taxes)
}

// queueGet reads an invoice and its lines. trim_scale gives quantities and rates back
// in the canonical form they were sent in ("3", not "3.000000000000").
func queueGet(b *pgx.Batch, tenantID, id uuid.UUID, out *Invoice, found *bool) {
	b.Queue(`SELECT `+summaryColumns+` FROM invoices WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				s, err := scanSummary(rows)
				if err != nil {
					return err
				}
				out.Summary, *found = s, true
			}
			return rows.Err()
		})
	b.Queue(`SELECT id, position, description, trim_scale(quantity)::text, unit_amount_minor,
       trim_scale(tax_rate)::text, amount_minor, tax_minor
  FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			out.Lines = []Line{}
			for rows.Next() {
				var l Line
				if err := rows.Scan(&l.ID, &l.Position, &l.Description, &l.Quantity, &l.UnitAmountMinor,
					&l.TaxRate, &l.AmountMinor, &l.TaxMinor); err != nil {
					return err
				}
				l.TotalMinor = l.AmountMinor + l.TaxMinor
				out.Lines = append(out.Lines, l)
			}
			return rows.Err()
		})
}

// queueList reads a page newest first. Filters are fixed columns with positional
// arguments; each combination is served by one of the (tenant_id, <filter>, id DESC)
// indexes or by invoices_page.
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, p page.Params, out *[]Summary) {
	where := []string{"tenant_id = $1"}
	args := []any{tenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Direction != nil {
		add("direction = ?", string(*f.Direction))
	}
	if f.Status != nil {
		add("status = ?", string(*f.Status))
	}
	if f.CounterpartyID != nil {
		add("counterparty_id = ?", *f.CounterpartyID)
	}
	if p.StartingAfter != nil {
		add("id < ?", *p.StartingAfter)
	}
	args = append(args, p.Limit+1)
	sql := `SELECT ` + summaryColumns + ` FROM invoices WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
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
