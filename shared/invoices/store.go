package invoices

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// summaryColumns is the one projection of an invoice row, in scan order.
const summaryColumns = `id, direction, status, number, counterparty_id, currency, issue_date, due_date, memo,
external_id, subtotal_minor, tax_minor, total_minor, amount_paid_minor, amount_credited_minor,
amount_due_minor, tax_rounding, version, created_at, updated_at, finalized_at, voided_at, uncollectible_at`

// scanSummary scans summaryColumns, then any extra columns that follow them into extra.
func scanSummary(row pgx.Row, extra ...any) (Summary, error) {
	s := Summary{Object: "invoice"}
	var issue, due time.Time
	err := row.Scan(append([]any{&s.ID, &s.Direction, &s.Status, &s.Number, &s.CounterpartyID, &s.Currency, &issue, &due,
		&s.Memo, &s.ExternalID, &s.SubtotalMinor, &s.TaxMinor, &s.TotalMinor, &s.AmountPaidMinor,
		&s.AmountCreditedMinor, &s.AmountDueMinor, &s.TaxRounding, &s.Version, &s.CreatedAt, &s.UpdatedAt,
		&s.FinalizedAt, &s.VoidedAt, &s.UncollectibleAt}, extra...)...)
	s.IssueDate, s.DueDate = civil.DateOf(issue), civil.DateOf(due)
	return s, err
}

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

// errVersionChanged reports a conditional write that matched no row: the invoice is no
// longer at the version the write was based on.
var errVersionChanged = errors.New("invoices: version changed")

func expectOneRow(ct pgconn.CommandTag) error {
	if ct.RowsAffected() != 1 {
		return errVersionChanged
	}
	return nil
}

// queueSettings reads the tenant's settings document in effect at at
// (tenant_settings_at, migrations/00014): what a document is computed and numbered with.
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out *[]byte) {
	b.Queue(`SELECT settings FROM tenant_settings_at($1, $2)`, tenantID, at).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// queueNextNumber takes the next gapless number for a direction. The UPDATE locks the
// counter row until commit, so concurrent finalizations queue behind each other and a
// rolled-back one releases its number unused.
func queueNextNumber(b *pgx.Batch, tenantID uuid.UUID, d Direction, out *int64) {
	queueNextInSequence(b, tenantID, string(d), out)
}

// queueNextCreditNoteNumber takes the next gapless credit note number, like
// queueNextNumber.
func queueNextCreditNoteNumber(b *pgx.Batch, tenantID uuid.UUID, out *int64) {
	queueNextInSequence(b, tenantID, "credit_note", out)
}

func queueNextInSequence(b *pgx.Batch, tenantID uuid.UUID, sequence string, out *int64) {
	b.Queue(`UPDATE document_counters SET last_number = last_number + 1
 WHERE tenant_id = $1 AND sequence = $2 RETURNING last_number`, tenantID, sequence).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

func queueInsert(b *pgx.Batch, tenantID uuid.UUID, inv Invoice) {
	s := inv.Summary
	b.Queue(`INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date,
    due_date, memo, external_id, subtotal_minor, tax_minor, total_minor, tax_rounding, version, created_at,
    updated_at, finalized_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		s.ID, tenantID, s.Direction, s.Status, s.Number, s.CounterpartyID, s.Currency, dateArg(s.IssueDate),
		dateArg(s.DueDate), s.Memo, s.ExternalID, s.SubtotalMinor, s.TaxMinor, s.TotalMinor, s.TaxRounding,
		s.Version, s.CreatedAt, s.UpdatedAt, s.FinalizedAt)
	queueInsertLines(b, tenantID, s.ID, inv.Lines)
}

// queueInsertLines writes all lines in one statement: one array per column, unnested
// together.
func queueInsertLines(b *pgx.Batch, tenantID, invoiceID uuid.UUID, lines []Line) {
	n := len(lines)
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
SELECT t.id, $1, $2, t.position, t.description, t.quantity::numeric, t.unit, t.price::numeric, t.rate::numeric,
       t.amount, t.tax
  FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],
              $11::bigint[])
       AS t(id, position, description, quantity, unit, price, rate, amount, tax)`,
		tenantID, invoiceID, ids, positions, descs, qtys, units, prices, rates, amounts, taxes)
}

// queueGet reads an invoice and its lines.
func queueGet(b *pgx.Batch, tenantID, id uuid.UUID, out *Invoice, found *bool) {
	queueRead(b, `SELECT `+summaryColumns+` FROM invoices WHERE tenant_id = $1 AND id = $2`, tenantID, id, out, found)
}

// queueGetForUpdate reads an invoice and its lines and locks the invoice row until
// commit, so the checks a use case makes on it still hold when it writes. Lines of a
// draft only change together with their invoice row, so that lock covers them too.
func queueGetForUpdate(b *pgx.Batch, tenantID, id uuid.UUID, out *Invoice, found *bool) {
	queueRead(b, `SELECT `+summaryColumns+` FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id, out, found)
}

// queueRead runs the invoice query sql and reads the lines. trim_scale gives decimals
// back in the canonical form they were sent in ("3", not "3.000000000000").
func queueRead(b *pgx.Batch, sql string, tenantID, id uuid.UUID, out *Invoice, found *bool) {
	b.Queue(sql, tenantID, id).Query(func(rows pgx.Rows) error {
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
       trim_scale(unit_price)::text, trim_scale(tax_rate)::text, amount_minor, tax_minor
  FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			out.Lines = []Line{}
			for rows.Next() {
				var l Line
				if err := rows.Scan(&l.ID, &l.Position, &l.Description, &l.Quantity, &l.UnitAmountMinor,
					&l.UnitPrice, &l.TaxRate, &l.AmountMinor, &l.TaxMinor); err != nil {
					return err
				}
				l.TotalMinor = l.AmountMinor + l.TaxMinor
				out.Lines = append(out.Lines, l)
			}
			return rows.Err()
		})
}

// queueUpdateDraft writes every editable member of a draft and replaces its lines,
// provided the row is still the draft at prevVersion.
func queueUpdateDraft(b *pgx.Batch, tenantID uuid.UUID, inv Invoice, prevVersion int) {
	s := inv.Summary
	b.Queue(`UPDATE invoices
   SET counterparty_id = $4, currency = $5, issue_date = $6, due_date = $7, memo = $8, external_id = $9,
       subtotal_minor = $10, tax_minor = $11, total_minor = $12, version = $13, updated_at = $14
 WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status = 'draft'`,
		tenantID, s.ID, prevVersion, s.CounterpartyID, s.Currency, dateArg(s.IssueDate), dateArg(s.DueDate), s.Memo,
		s.ExternalID, s.SubtotalMinor, s.TaxMinor, s.TotalMinor, s.Version, s.UpdatedAt).Exec(expectOneRow)
	b.Queue(`DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2`, tenantID, s.ID)
	queueInsertLines(b, tenantID, s.ID, inv.Lines)
}

// queueSetLifecycle writes the lifecycle members of an invoice (status, number and
// the timestamps of each step), provided the row is still at prevVersion.
func queueSetLifecycle(b *pgx.Batch, tenantID uuid.UUID, s Summary, prevVersion int) {
	b.Queue(`UPDATE invoices
   SET status = $4, number = $5, finalized_at = $6, voided_at = $7, uncollectible_at = $8, version = $9,
       updated_at = $10
 WHERE tenant_id = $1 AND id = $2 AND version = $3`,
		tenantID, s.ID, prevVersion, s.Status, s.Number, s.FinalizedAt, s.VoidedAt, s.UncollectibleAt, s.Version,
		s.UpdatedAt).Exec(expectOneRow)
}

// queueDeleteDraft deletes a draft at prevVersion; its lines go with it (ON DELETE
// CASCADE).
func queueDeleteDraft(b *pgx.Batch, tenantID, id uuid.UUID, prevVersion int) {
	b.Queue(`DELETE FROM invoices WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status = 'draft'`,
		tenantID, id, prevVersion).Exec(expectOneRow)
}

// listWhere is the WHERE clause of a filter, the one definition of which invoices a
// filter selects: list pages and exports both use it. Filters are fixed columns with
// positional arguments. Newest first is served by invoices_page (tenant_id, id DESC),
// or by invoices_by_status / _by_direction / _by_counterparty when that filter is
// given; by due date, and the due_before / due_after range, by invoices_by_due_date
// (tenant_id, due_date, id). The other filters (currency, issue dates, overdue) are
// checked on the rows those indexes yield.
func listWhere(tenantID uuid.UUID, f ListFilter, today civil.Date) *db.Where {
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
	if f.DueBefore != nil {
		add("due_date <= ?", dateArg(*f.DueBefore))
	}
	if f.DueAfter != nil {
		add("due_date >= ?", dateArg(*f.DueAfter))
	}
	if f.IssuedFrom != nil {
		add("issue_date >= ?", dateArg(*f.IssuedFrom))
	}
	if f.IssuedTo != nil {
		add("issue_date <= ?", dateArg(*f.IssuedTo))
	}
	if f.Overdue != nil {
		const overdue = "(status IN ('open', 'uncollectible') AND amount_due_minor > 0 AND due_date < ?)"
		if *f.Overdue {
			add(overdue, dateArg(today))
		} else {
			add("NOT "+overdue, dateArg(today))
		}
	}
	return w
}

// listOrder is the ORDER BY of a sort: one of two fixed clauses.
func listOrder(s Sort) string {
	if s == SortDueDate {
		return " ORDER BY due_date, id"
	}
	return " ORDER BY id DESC"
}

// queueList reads a page of the invoices listWhere selects. A due-date page starts
// after the cursor row's (due_date, id), looked up in the tenant; *cursorFound reports
// whether that row exists.
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, today civil.Date, p page.Params, out *[]Summary, cursorFound *bool) {
	w := listWhere(tenantID, f, today)
	add := w.Add
	order := listOrder(f.Sort)
	*cursorFound = true
	if f.Sort == SortDueDate {
		if p.StartingAfter != nil {
			*cursorFound = false
			b.Queue(`SELECT true FROM invoices WHERE tenant_id = $1 AND id = $2`, tenantID, *p.StartingAfter).
				Query(func(rows pgx.Rows) error {
					for rows.Next() {
						*cursorFound = true
					}
					return rows.Err()
				})
			add("(due_date, id) > ((SELECT c.due_date FROM invoices c WHERE c.tenant_id = $1 AND c.id = ?), ?)", *p.StartingAfter)
		}
	} else if p.StartingAfter != nil {
		add("id < ?", *p.StartingAfter)
	}
	limit := w.Arg(p.Limit + 1)
	b.Queue(`SELECT `+summaryColumns+` FROM invoices WHERE `+w.SQL()+order+` LIMIT `+limit, w.Args()...).Query(func(rows pgx.Rows) error {
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

// exportRows hands every invoice listWhere selects, in the sort's order and with its
// counterparty's name, to fn as it arrives: pgx reads the result off the connection
// row by row, so memory does not grow with the result. The name is a subquery rather
// than a join so the rows keep coming in index order without a sort of the whole
// result first; (tenant_id, id) is counterparties' unique key, and the foreign key
// guarantees every invoice has one. The transaction is switched to read only in the
// same round trip as the query.
func exportRows(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, f ListFilter, today civil.Date, fn func(ExportRow) error) error {
	w := listWhere(tenantID, f, today)
	b := &pgx.Batch{}
	b.Queue(`SET TRANSACTION READ ONLY`)
	b.Queue(`SELECT `+summaryColumns+`,
       (SELECT c.name FROM counterparties c WHERE c.tenant_id = invoices.tenant_id AND c.id = invoices.counterparty_id)
  FROM invoices WHERE `+w.SQL()+listOrder(f.Sort), w.Args()...)
	// Stopping early must not drain the rest of a large result off the connection:
	// cancelling makes pgx abandon the query instead.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r ExportRow
		r.Summary, err = scanSummary(rows, &r.CounterpartyName)
		if err == nil {
			err = fn(r)
		}
		if err != nil {
			cancel()
			return err
		}
	}
	return rows.Err()
}

// creditNoteColumns is the one projection of a credit note row, in scan order.
const creditNoteColumns = `id, invoice_id, number, currency, subtotal_minor, tax_minor, amount_minor, reason,
effective_date, lines, created_at`

func scanCreditNote(row pgx.Row) (CreditNote, error) {
	c := CreditNote{Object: "credit_note"}
	var effective time.Time
	var lines []byte
	if err := row.Scan(&c.ID, &c.InvoiceID, &c.Number, &c.Currency, &c.SubtotalMinor, &c.TaxMinor, &c.AmountMinor,
		&c.Reason, &effective, &lines, &c.CreatedAt); err != nil {
		return CreditNote{}, err
	}
	c.EffectiveDate = civil.DateOf(effective)
	if lines != nil {
		if err := json.Unmarshal(lines, &c.Lines); err != nil {
			return CreditNote{}, err
		}
	}
	return c, nil
}

// queueInsertCreditNote inserts a credit note; its trigger applies the amount to the
// invoice (amount credited, status, version) in the same statement.
func queueInsertCreditNote(b *pgx.Batch, tenantID uuid.UUID, d Direction, createdBy string, c CreditNote) error {
	var lines []byte
	if c.Lines != nil {
		var err error
		if lines, err = json.Marshal(c.Lines); err != nil {
			return err
		}
	}
	b.Queue(`INSERT INTO credit_notes (id, tenant_id, invoice_id, number, currency, direction, subtotal_minor,
    tax_minor, amount_minor, reason, lines, effective_date, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.ID, tenantID, c.InvoiceID, c.Number, c.Currency, d, c.SubtotalMinor, c.TaxMinor, c.AmountMinor,
		c.Reason, lines, dateArg(c.EffectiveDate), createdBy, c.CreatedAt)
	return nil
}

// queueListCreditNotes reads a page of an invoice's credit notes, oldest first, and
// whether the invoice exists. Served by credit_notes_by_invoice (tenant_id, invoice_id);
// an invoice has few credit notes, so they are sorted after the lookup.
func queueListCreditNotes(b *pgx.Batch, tenantID, invoiceID uuid.UUID, p page.Params, out *[]CreditNote, found *bool) {
	b.Queue(`SELECT true FROM invoices WHERE tenant_id = $1 AND id = $2`, tenantID, invoiceID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*found = true
			}
			return rows.Err()
		})
	b.Queue(`SELECT `+creditNoteColumns+` FROM credit_notes
 WHERE tenant_id = $1 AND invoice_id = $2
   AND ($3::uuid IS NULL OR id > $3)
 ORDER BY id
 LIMIT $4`, tenantID, invoiceID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				c, err := scanCreditNote(rows)
				if err != nil {
					return err
				}
				*out = append(*out, c)
			}
			return rows.Err()
		})
}

// queueTenantExists reads whether the transaction's tenant exists: the app role sees
// only its own tenant row, so a tenant named by a message is checked, not trusted.
func queueTenantExists(b *pgx.Batch, tenantID uuid.UUID, out *bool) {
	b.Queue(`SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)`, tenantID).
		QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// inboundState is what applying an inbound version needs of the invoice it names.
type inboundState struct {
	ID            uuid.UUID
	Direction     Direction
	Status        Status
	Version       int
	Source        *string
	SourceVersion *int64
}

// queueLockInbound serialises the messages of one document, then reads and locks the
// invoice with externalID. The advisory lock covers the case the row lock cannot: two
// versions of a document that does not exist yet, which would otherwise both create it.
func queueLockInbound(b *pgx.Batch, tenantID uuid.UUID, externalID string, out *inboundState, found *bool) {
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/inbound-invoice/' || $2, 0))`, tenantID, externalID)
	b.Queue(`SELECT id, direction, status, version, source, source_version FROM invoices
 WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE`, tenantID, externalID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(&out.ID, &out.Direction, &out.Status, &out.Version, &out.Source, &out.SourceVersion); err != nil {
					return err
				}
				*found = true
			}
			return rows.Err()
		})
}

// queueSetSource records which source version an invoice holds. It is provenance, not a
// change of the document, so the invoice's own version stays.
func queueSetSource(b *pgx.Batch, tenantID, id uuid.UUID, source string, version int64) {
	b.Queue(`UPDATE invoices SET source = $3, source_version = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, source, version).Exec(expectOneRow)
}

// inboundRejection is an inbound message that changed nothing, and why.
type inboundRejection struct {
	ID            uuid.UUID
	MessageID     string
	Source        *string
	ExternalID    *string
	SourceVersion *int64
	InvoiceID     *uuid.UUID
	Code          string
	Detail        string
	Payload       []byte
	ReceivedAt    time.Time
}

func queueInsertRejection(b *pgx.Batch, tenantID uuid.UUID, r inboundRejection) {
	b.Queue(`INSERT INTO inbound_rejections (id, tenant_id, message_id, source, external_id, source_version, invoice_id,
    code, detail, payload, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, tenantID, r.MessageID, r.Source, r.ExternalID, r.SourceVersion, r.InvoiceID, r.Code, r.Detail, r.Payload,
		r.ReceivedAt)
}
