package imports

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// write produces a file the way every export does, through shared/tabular: typed
// amount and date cells, and formula-looking text behind a quote.
func write(t *testing.T, format tabular.Format, cols []tabular.Column, rows ...[]tabular.Cell) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	w, err := tabular.NewWriter(rec, format, "export", cols)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, w.WriteRow(r...))
	}
	require.NoError(t, w.Close())
	return rec.Body.Bytes()
}

func text(s string) tabular.Cell { return tabular.TextCell(s) }

// A file written by shared/tabular reads back as what was written, in both formats.
func TestRoundTripThroughTabular(t *testing.T) {
	day := civil.Date{Year: 2025, Month: 1, Day: 31}
	invoiceCols := []tabular.Column{
		{Header: "external_id", Kind: tabular.Text}, {Header: "direction", Kind: tabular.Text},
		{Header: "counterparty_external_id", Kind: tabular.Text}, {Header: "currency", Kind: tabular.Text},
		{Header: "issue_date", Kind: tabular.Date}, {Header: "due_date", Kind: tabular.Date},
		{Header: "memo", Kind: tabular.Text}, {Header: "description", Kind: tabular.Text},
		{Header: "quantity", Kind: tabular.Text}, {Header: "unit_amount", Kind: tabular.Amount},
		{Header: "tax_rate", Kind: tabular.Text},
	}
	paymentCols := []tabular.Column{
		{Header: "external_id", Kind: tabular.Text}, {Header: "direction", Kind: tabular.Text},
		{Header: "counterparty_external_id", Kind: tabular.Text}, {Header: "amount", Kind: tabular.Amount},
		{Header: "currency", Kind: tabular.Text}, {Header: "value_date", Kind: tabular.Date},
		{Header: "reference", Kind: tabular.Text}, {Header: "invoice_external_id", Kind: tabular.Text},
		{Header: "allocated_amount", Kind: tabular.Amount},
	}
	for _, format := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		t.Run(string(format), func(t *testing.T) {
			file := write(t, format, invoiceCols,
				[]tabular.Cell{text("INV-1"), text("receivable"), text("=C1"), text("USD"), tabular.DateCell(day), tabular.DateCell(day.AddDays(30)),
					text("-5% for early payment\nthanks"), text("=SUM(A1:A3)"), text("2.5"), tabular.AmountCell(1999, "USD"), text("20")},
				[]tabular.Cell{text("INV-1"), text("receivable"), text("=C1"), text("USD"), tabular.DateCell(day), tabular.DateCell(day.AddDays(30)),
					text("-5% for early payment\nthanks"), text("+ shipping"), text("1"), tabular.AmountCell(0, "USD"), tabular.BlankCell()},
				[]tabular.Cell{text("BILL-7"), text("payable"), text("@V1"), text("KWD"), tabular.DateCell(day), tabular.BlankCell(),
					tabular.BlankCell(), text("Parts"), text("3"), tabular.AmountCell(1234567, "KWD"), tabular.BlankCell()},
				[]tabular.Cell{text("INV-2"), text("receivable"), text("C2"), text("JPY"), tabular.DateCell(day), tabular.BlankCell(),
					tabular.BlankCell(), text("Licence"), text("1"), tabular.AmountCell(150000, "JPY"), text("10")},
			)
			rec, err := Read(bytes.NewReader(file), format, Invoices, Limits{})
			require.NoError(t, err)
			requireConsistent(t, rec)
			require.Empty(t, rec.Errors)
			require.Equal(t, []InvoiceRecord{
				{Rows: []int{2, 3}, CounterpartyExternalID: "=C1", Input: invoices.CreateInput{
					Direction: invoices.Receivable, Currency: "USD", IssueDate: day, DueDate: ptr(day.AddDays(30)),
					Memo: ptr("-5% for early payment\nthanks"), ExternalID: ptr("INV-1"),
					Lines: []invoices.LineInput{
						{Description: "=SUM(A1:A3)", Quantity: "2.5", UnitAmountMinor: ptr(int64(1999)), TaxRate: ptr("20")},
						{Description: "+ shipping", Quantity: "1", UnitAmountMinor: ptr(int64(0))},
					}}},
				{Rows: []int{4}, CounterpartyExternalID: "@V1", Input: invoices.CreateInput{
					Direction: invoices.Payable, Currency: "KWD", IssueDate: day, ExternalID: ptr("BILL-7"),
					Lines: []invoices.LineInput{{Description: "Parts", Quantity: "3", UnitAmountMinor: ptr(int64(1234567))}}}},
				{Rows: []int{5}, CounterpartyExternalID: "C2", Input: invoices.CreateInput{
					Direction: invoices.Receivable, Currency: "JPY", IssueDate: day, ExternalID: ptr("INV-2"),
					Lines: []invoices.LineInput{{Description: "Licence", Quantity: "1", UnitAmountMinor: ptr(int64(150000)), TaxRate: ptr("10")}}}},
			}, rec.Invoices)

			file = write(t, format, paymentCols,
				[]tabular.Cell{text("P-1"), text("incoming"), text("C1"), tabular.AmountCell(123456789, "USD"), text("USD"),
					tabular.DateCell(day), text("=HYPERLINK(\"x\")"), text("INV-1"), tabular.AmountCell(100, "USD")})
			rec, err = Read(bytes.NewReader(file), format, Payments, Limits{})
			require.NoError(t, err)
			require.Empty(t, rec.Errors)
			require.Equal(t, []PaymentRecord{{Rows: []int{2}, CounterpartyExternalID: "C1", Input: payments.CreateInput{
				Direction: payments.Incoming, AmountMinor: 123456789, Currency: "USD", ValueDate: day,
				Reference: ptr("=HYPERLINK(\"x\")"), ExternalID: ptr("P-1")},
				Allocations: []AllocationRecord{{InvoiceExternalID: "INV-1", AmountMinor: 100}}}}, rec.Payments)
		})
	}
}

// The invoice export is a report of totals, one row per invoice, named by
// Ledgerline's ids: its headers are all understood, but it has no lines and no
// counterparty external id, so it is refused with the columns to add.
func TestInvoiceExportIsNotAnImport(t *testing.T) {
	row := invoices.ExportRow{Summary: invoices.Summary{
		ID: uuid.New(), Direction: invoices.Receivable, Status: invoices.Open, CounterpartyID: uuid.New(), Currency: "EUR",
		IssueDate: civil.Date{Year: 2025, Month: 1, Day: 31}, DueDate: civil.Date{Year: 2025, Month: 3, Day: 2},
		ExternalID: ptr("INV-1"), TotalMinor: 12000, CreatedAt: time.Now(),
	}, CounterpartyName: "Acme"}
	for _, format := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		file := write(t, format, invoices.ExportColumns, invoices.ExportCells(row))
		_, err := Read(bytes.NewReader(file), format, Invoices, Limits{})
		e := refused(t, err, apperr.Unprocessable, CodeHeader)
		require.Contains(t, e.Message, "missing required columns: counterparty_external_id, description, unit_amount or line_amount.")
		require.NotContains(t, e.Message, "more than once")
	}
}
