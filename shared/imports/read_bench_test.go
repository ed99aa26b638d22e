package imports

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ledgerline/ledgerline/shared/tabular"
)

// invoicesCSV is an import of n invoices of lines lines each, as an ERP would export
// it: one row per line, the invoice's cells repeated on every row.
func invoicesCSV(n, lines int) []byte {
	var b bytes.Buffer
	b.WriteString("external_id,direction,counterparty_external_id,currency,issue_date,due_date,memo,description,quantity,unit_amount,tax_rate\n")
	for i := range n {
		for l := range lines {
			fmt.Fprintf(&b, "INV-%07d,receivable,CUST-%05d,EUR,2025-01-%02d,2025-03-02,Order %d,\"Consulting, phase %d\",%d.5,%d.25,20\n",
				i, i%5000, 1+i%28, i, l, 1+l, 100+i%900)
		}
	}
	return b.Bytes()
}

// BenchmarkReadCSVInvoices reads the largest file the default limits take: 100,000
// invoices of 3 lines, 300,000 rows. It is the reading half of an import's cost; the
// other half is applying the records.
func BenchmarkReadCSVInvoices(b *testing.B) {
	const invoices, lines = 100_000, 3
	file := invoicesCSV(invoices, lines)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := Read(bytes.NewReader(file), tabular.CSV, Invoices, Limits{})
		if err != nil || len(rec.Invoices) != invoices || len(rec.Errors) > 0 {
			b.Fatalf("%v: %d invoices, %d errors", err, len(rec.Invoices), len(rec.Errors))
		}
	}
	b.ReportMetric(float64(invoices*lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadXLSXInvoices is the same shape as an XLSX workbook, at a tenth of the
// size.
func BenchmarkReadXLSXInvoices(b *testing.B) {
	const invoices, lines = 10_000, 3
	rows := [][]any{{"external_id", "direction", "counterparty_external_id", "currency", "issue_date", "due_date", "memo", "description", "quantity", "unit_amount", "tax_rate"}}
	for i := range invoices {
		for l := range lines {
			rows = append(rows, []any{fmt.Sprintf("INV-%07d", i), "receivable", fmt.Sprintf("CUST-%05d", i%5000), "EUR",
				raw(fmt.Sprint(45658 + i%28)), "2025-03-02", fmt.Sprintf("Order %d", i), fmt.Sprintf("Consulting, phase %d", l),
				float64(1+l) + 0.5, float64(100+i%900) + 0.25, 20})
		}
	}
	file := xlsxFile(b, rows)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := Read(bytes.NewReader(file), tabular.XLSX, Invoices, Limits{})
		if err != nil || len(rec.Invoices) != invoices || len(rec.Errors) > 0 {
			b.Fatalf("%v: %d invoices, %v", err, len(rec.Invoices), rec.Errors[:min(3, len(rec.Errors))])
		}
	}
	b.ReportMetric(float64(invoices*lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
