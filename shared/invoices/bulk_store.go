package invoices

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The statements of bulk upserts: each writes every row of a chunk at once, one array
// per column unnested together, so a chunk of a thousand invoices costs a handful of
// statements rather than thousands.

// lockedInvoice is an existing invoice an upsert names, with the inbound source it
// came from, if any.
type lockedInvoice struct {
	Invoice
	Source *string
}

// queueLockByExternalIDs reads and locks (until commit) the invoices with the given
// external ids, with their lines, into out by external id. Invoices are locked in id
// order; served by the unique (tenant_id, external_id).
func queueLockByExternalIDs(b *pgx.Batch, tenantID uuid.UUID, ids []string, out map[string]*lockedInvoice) {
	byID := map[uuid.UUID]*lockedInvoice{}
	b.Queue(`SELECT `+summaryColumns+`, source FROM invoices WHERE tenant_id = $1 AND external_id = ANY($2)
 ORDER BY id FOR UPDATE`, tenantID, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			inv := &lockedInvoice{}
			s, err := scanSummary(rows, &inv.Source)
			if err != nil {
				return err
			}
			inv.Summary, inv.Lines = s, []Line{}
			out[*s.ExternalID], byID[s.ID] = inv, inv
		}
		return rows.Err()
	})
	b.Queue(`SELECT invoice_id, id, position, description, trim_scale(quantity)::text, unit_amount_minor,
       trim_scale(unit_price)::text, trim_scale(tax_rate)::text, amount_minor, tax_minor
  FROM invoice_lines
 WHERE tenant_id = $1 AND invoice_id IN (SELECT id FROM invoices WHERE tenant_id = $1 AND external_id = ANY($2))
 ORDER BY invoice_id, position`, tenantID, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var owner uuid.UUID
			var l Line
			if err := rows.Scan(&owner, &l.ID, &l.Position, &l.Description, &l.Quantity, &l.UnitAmountMinor,
				&l.UnitPrice, &l.TaxRate, &l.AmountMinor, &l.TaxMinor); err != nil {
				return err
			}
			l.TotalMinor = l.AmountMinor + l.TaxMinor
			if inv, ok := byID[owner]; ok {
				inv.Lines = append(inv.Lines, l)
			}
		}
		return rows.Err()
	})
}

// queueTakeNumbers takes n numbers of direction d's gapless sequence at once; *last is
// the last of them. The counter row stays locked until commit, so the numbers are
// either all used or, on rollback, all released.
func queueTakeNumbers(b *pgx.Batch, tenantID uuid.UUID, d Direction, n int64, last *int64) {
	b.Queue(`UPDATE document_counters SET last_number = last_number + $3
 WHERE tenant_id = $1 AND sequence = $2 RETURNING last_number`, tenantID, string(d), n).
		QueryRow(func(row pgx.Row) error { return row.Scan(last) })
}

// summaryArrays splits invoices into one array per written column.
type summaryArrays struct {
	ids, counterparties              []uuid.UUID
	directions, statuses, currencies []string
	numbers, memos, externalIDs      []*string
	issue, due                       []time.Time
	subtotals, taxes, totals         []int64
	roundings                        []string
	versions                         []int32
	created, updated                 []time.Time
	finalized                        []*time.Time
}

func summaries(invs []Invoice) summaryArrays {
	n := len(invs)
	a := summaryArrays{
		ids: make([]uuid.UUID, n), counterparties: make([]uuid.UUID, n), directions: make([]string, n),
		statuses: make([]string, n), currencies: make([]string, n), numbers: make([]*string, n), memos: make([]*string, n),
		externalIDs: make([]*string, n), issue: make([]time.Time, n), due: make([]time.Time, n),
		subtotals: make([]int64, n), taxes: make([]int64, n), totals: make([]int64, n), roundings: make([]string, n),
		versions: make([]int32, n), created: make([]time.Time, n), updated: make([]time.Time, n),
		finalized: make([]*time.Time, n),
	}
	for i, inv := range invs {
		s := inv.Summary
		a.ids[i], a.counterparties[i], a.directions[i], a.statuses[i] = s.ID, s.CounterpartyID, string(s.Direction), string(s.Status)
		a.currencies[i], a.numbers[i], a.memos[i], a.externalIDs[i] = s.Currency, s.Number, s.Memo, s.ExternalID
		a.issue[i], a.due[i] = dateArg(s.IssueDate), dateArg(s.DueDate)
		a.subtotals[i], a.taxes[i], a.totals[i], a.roundings[i] = s.SubtotalMinor, s.TaxMinor, s.TotalMinor, string(s.TaxRounding)
		a.versions[i], a.created[i], a.updated[i], a.finalized[i] = int32(s.Version), s.CreatedAt, s.UpdatedAt, s.FinalizedAt
	}
	return a
}

// queueInsertMany inserts invoices (without their lines) with one statement.
func queueInsertMany(b *pgx.Batch, tenantID uuid.UUID, invs []Invoice) {
	if len(invs) == 0 {
		return
	}
	a := summaries(invs)
	b.Queue(`INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date,
    due_date, memo, external_id, subtotal_minor, tax_minor, total_minor, tax_rounding, version, created_at,
    updated_at, finalized_at)
SELECT t.id, $1, t.direction, t.status, t.number, t.counterparty_id, t.currency, t.issue_date, t.due_date, t.memo,
       t.external_id, t.subtotal, t.tax, t.total, t.rounding, t.version, t.created_at, t.updated_at, t.finalized_at
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::date[], $9::date[], $10::text[],
              $11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::int[], $17::timestamptz[],
              $18::timestamptz[], $19::timestamptz[])
       AS t(id, direction, status, number, counterparty_id, currency, issue_date, due_date, memo, external_id, subtotal,
            tax, total, rounding, version, created_at, updated_at, finalized_at)`,
		tenantID, a.ids, a.directions, a.statuses, a.numbers, a.counterparties, a.currencies, a.issue, a.due, a.memos,
		a.externalIDs, a.subtotals, a.taxes, a.totals, a.roundings, a.versions, a.created, a.updated, a.finalized)
}

// queueUpdateDrafts writes the final state of drafts replaced or issued by an upsert,
// each only if it is still the draft at its previous version (which the upsert holds
// locked, so a mismatch is a defect and fails the transaction).
func queueUpdateDrafts(b *pgx.Batch, tenantID uuid.UUID, invs []Invoice, prev []int) {
	if len(invs) == 0 {
		return
	}
	a := summaries(invs)
	prevVersions := make([]int32, len(prev))
	for i, v := range prev {
		prevVersions[i] = int32(v)
	}
	b.Queue(`UPDATE invoices AS inv
   SET status = t.status, number = t.number, counterparty_id = t.counterparty_id, currency = t.currency,
       issue_date = t.issue_date, due_date = t.due_date, memo = t.memo, subtotal_minor = t.subtotal,
       tax_minor = t.tax, total_minor = t.total, version = t.version, updated_at = t.updated_at,
       finalized_at = t.finalized_at
  FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::date[], $9::date[], $10::text[],
              $11::bigint[], $12::bigint[], $13::bigint[], $14::int[], $15::timestamptz[], $16::timestamptz[])
       AS t(id, prev_version, status, number, counterparty_id, currency, issue_date, due_date, memo, subtotal, tax,
            total, version, updated_at, finalized_at)
 WHERE inv.tenant_id = $1 AND inv.id = t.id AND inv.version = t.prev_version AND inv.status = 'draft'`,
		tenantID, a.ids, prevVersions, a.statuses, a.numbers, a.counterparties, a.currencies, a.issue, a.due, a.memos,
		a.subtotals, a.taxes, a.totals, a.versions, a.updated, a.finalized).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(len(invs)) {
			return fmt.Errorf("invoices: %d of %d drafts were at the version compared: %w", ct.RowsAffected(), len(invs), errVersionChanged)
		}
		return nil
	})
}

// queueDeleteLinesOf deletes the lines of the given drafts, before their replacements
// are inserted.
func queueDeleteLinesOf(b *pgx.Batch, tenantID uuid.UUID, ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	b.Queue(`DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = ANY($2)`, tenantID, ids)
}

// queueInsertLinesMany inserts lines of many invoices (owners[i] owns lines[i]) with
// one statement.
func queueInsertLinesMany(b *pgx.Batch, tenantID uuid.UUID, owners []uuid.UUID, lines []Line) {
	n := len(lines)
	if n == 0 {
		return
	}
	ids := make([]uuid.UUID, n)
	positions := make([]int32, n)
	descs := make([]string, n)
	qtys := make([]string, n)
	units := make([]*int64, n)
	prices := make([]*string, n)
	rates := make([]*string, n)
	amounts := make([]int64, n)
	taxes := make([]int64, n)
	for i, l := range lines {
		ids[i], positions[i], descs[i], qtys[i] = l.ID, int32(l.Position), l.Description, l.Quantity
		units[i], prices[i], rates[i], amounts[i], taxes[i] = l.UnitAmountMinor, l.UnitPrice, l.TaxRate, l.AmountMinor, l.TaxMinor
	}
	b.Queue(`INSERT INTO invoice_lines (id, tenant_id, invoice_id, position, description, quantity,
    unit_amount_minor, unit_price, tax_rate, amount_minor, tax_minor)
SELECT t.id, $1, t.invoice_id, t.position, t.description, t.quantity::numeric, t.unit, t.price::numeric, t.rate::numeric,
       t.amount, t.tax
  FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[],
              $10::bigint[], $11::bigint[])
       AS t(id, invoice_id, position, description, quantity, unit, price, rate, amount, tax)`,
		tenantID, ids, owners, positions, descs, qtys, units, prices, rates, amounts, taxes)
}

// IDsByExternalIDs resolves external ids to invoice ids in the caller's transaction tx,
// in one round trip: how imported payments name the invoices they are allocated to.
// Unknown ids are missing from the result.
func IDsByExternalIDs(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, ids []string) (map[string]uuid.UUID, error) {
	out := map[string]uuid.UUID{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT external_id, id FROM invoices WHERE tenant_id = $1 AND external_id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ext string
		var id uuid.UUID
		if err := rows.Scan(&ext, &id); err != nil {
			return nil, err
		}
		out[ext] = id
	}
	return out, rows.Err()
}
