package invoices

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// ExportRow is one invoice of an export: its summary and its counterparty's name.
type ExportRow struct {
	Summary
	CounterpartyName string
}

// Export hands every invoice that f selects (the same invoices InvoicesList pages
// through, in the same order, without a page limit) to fn, one at a time as they are
// read. "Overdue" is judged against today's date in UTC, as List judges it.
//
// The rows come from one REPEATABLE READ, READ ONLY transaction: the file is a
// consistent snapshot of the books even while payments and finalizations commit
// during a long export. A read-only snapshot cannot fail serialization, so the
// transaction is never retried once rows have gone out; if it were, fn would see
// them twice, which the guard below refuses.
func (s *Service) Export(ctx context.Context, tenantID uuid.UUID, f ListFilter, fn func(ExportRow) error) error {
	today := civil.DateOf(s.Now().UTC())
	delivered := false
	return s.DB.InTenantTxIso(ctx, tenantID, db.RepeatableRead, func(tx pgx.Tx) error {
		if delivered {
			return apperr.Wrap(errors.New("invoices: export transaction retried after rows were delivered"),
				apperr.Internal, "internal", "internal error")
		}
		return exportRows(ctx, tx, tenantID, f, today, func(r ExportRow) error {
			delivered = true
			return fn(r)
		})
	})
}

// ExportColumns are the columns of an invoice export, in order. The names are the
// JSON member names of an invoice; amounts are decimals in major units of the currency
// column (not minor units as in JSON), so a spreadsheet can sum them.
var ExportColumns = []tabular.Column{
	{Header: "id", Kind: tabular.Text},
	{Header: "number", Kind: tabular.Text},
	{Header: "direction", Kind: tabular.Text},
	{Header: "status", Kind: tabular.Text},
	{Header: "counterparty_id", Kind: tabular.Text},
	{Header: "counterparty_name", Kind: tabular.Text},
	{Header: "currency", Kind: tabular.Text},
	{Header: "issue_date", Kind: tabular.Date},
	{Header: "due_date", Kind: tabular.Date},
	{Header: "subtotal", Kind: tabular.Amount},
	{Header: "tax", Kind: tabular.Amount},
	{Header: "total", Kind: tabular.Amount},
	{Header: "amount_paid", Kind: tabular.Amount},
	{Header: "amount_credited", Kind: tabular.Amount},
	{Header: "amount_due", Kind: tabular.Amount},
	{Header: "external_id", Kind: tabular.Text},
	{Header: "memo", Kind: tabular.Text},
	{Header: "finalized_at", Kind: tabular.Timestamp},
	{Header: "voided_at", Kind: tabular.Timestamp},
	{Header: "created_at", Kind: tabular.Timestamp},
}

// ExportCells is r as a row of ExportColumns; nulls are blank cells.
func ExportCells(r ExportRow) []tabular.Cell {
	money := func(minor int64) tabular.Cell { return tabular.AmountCell(minor, r.Currency) }
	return []tabular.Cell{
		tabular.TextCell(r.ID.String()),
		optionalText(r.Number),
		tabular.TextCell(string(r.Direction)),
		tabular.TextCell(string(r.Status)),
		tabular.TextCell(r.CounterpartyID.String()),
		tabular.TextCell(r.CounterpartyName),
		tabular.TextCell(r.Currency),
		tabular.DateCell(r.IssueDate),
		tabular.DateCell(r.DueDate),
		money(r.SubtotalMinor),
		money(r.TaxMinor),
		money(r.TotalMinor),
		money(r.AmountPaidMinor),
		money(r.AmountCreditedMinor),
		money(r.AmountDueMinor),
		optionalText(r.ExternalID),
		optionalText(r.Memo),
		optionalTime(r.FinalizedAt),
		optionalTime(r.VoidedAt),
		tabular.TimeCell(r.CreatedAt),
	}
}

func optionalText(s *string) tabular.Cell {
	if s == nil {
		return tabular.BlankCell()
	}
	return tabular.TextCell(*s)
}

func optionalTime(t *time.Time) tabular.Cell {
	if t == nil {
		return tabular.BlankCell()
	}
	return tabular.TimeCell(*t)
}
