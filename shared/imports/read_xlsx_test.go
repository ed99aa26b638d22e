package imports

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"io"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// raw is a cell whose stored value is exactly the text given, as a number cell: what
// Excel itself writes for a binary double (1234.5600000000001, 1E-3).
type raw string

// xlsxFile builds a one-sheet workbook in memory; row i of rows is worksheet row i+1,
// and a nil row is left out.
func xlsxFile(t testing.TB, rows [][]any, edit ...func(*excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		for j, v := range row {
			cell, err := excelize.CoordinatesToCellName(j+1, i+1)
			require.NoError(t, err)
			switch v := v.(type) {
			case nil:
			case raw:
				require.NoError(t, f.SetCellDefault("Sheet1", cell, string(v)))
			default:
				require.NoError(t, f.SetCellValue("Sheet1", cell, v))
			}
		}
	}
	for _, e := range edit {
		e(f)
	}
	var buf bytes.Buffer
	_, err := f.WriteTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func readXLSX(t *testing.T, kind Kind, file []byte) Records {
	t.Helper()
	rec, err := Read(bytes.NewReader(file), tabular.XLSX, kind, Limits{})
	require.NoError(t, err)
	requireConsistent(t, rec)
	return rec
}

var invoiceHeader = []any{"Invoice Number", "Type", "Customer ID", "Currency", "Invoice Date", "Due Date", "Description", "Qty", "Unit Price", "Tax Rate"}

func TestReadXLSXInvoices(t *testing.T) {
	file := xlsxFile(t, [][]any{
		invoiceHeader,
		{"INV-1", "AR", "C1", "EUR", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), "2025-03-02", "Consulting", 3, 150.0, 20},
		// A binary double that Excel shows as 1234.56; quantity 0.1+0.2 as Excel stores it.
		{"INV-1", nil, nil, nil, nil, nil, "Parts", raw("0.30000000000000004"), raw("1234.5600000000001"), raw("5.5")},
		{"INV-2", "payable", "V1", "JPY", raw("45688.75"), nil, "Licence", 1, raw("12000"), nil},
	})
	rec := readXLSX(t, Invoices, file)
	require.Empty(t, rec.Errors)
	require.Len(t, rec.Invoices, 2)
	inv := rec.Invoices[0].Input
	require.Equal(t, civil.Date{Year: 2025, Month: 1, Day: 31}, inv.IssueDate, "a date cell")
	require.Equal(t, civil.Date{Year: 2025, Month: 3, Day: 2}, *inv.DueDate, "ISO text")
	require.Equal(t, "3", inv.Lines[0].Quantity)
	require.Equal(t, int64(15000), *inv.Lines[0].UnitAmountMinor)
	require.Equal(t, "20", *inv.Lines[0].TaxRate)
	require.Equal(t, "0.3", inv.Lines[1].Quantity, "rounded to Excel's 15 digits")
	require.Equal(t, int64(123456), *inv.Lines[1].UnitAmountMinor)
	require.Equal(t, "5.5", *inv.Lines[1].TaxRate)
	bill := rec.Invoices[1].Input
	require.Equal(t, civil.Date{Year: 2025, Month: 1, Day: 31}, bill.IssueDate, "a serial with a time of day: the day")
	require.Equal(t, int64(12000), *bill.Lines[0].UnitAmountMinor)
}

func TestReadXLSXCells(t *testing.T) {
	file := xlsxFile(t, [][]any{
		nil, // row 1 blank: the header is the first non-blank row
		{"Invoice Number", "Type", "Customer ID", "Currency", "Invoice Date", "Description", "Amount", "Tax Rate", "Memo"},
		{"INV-1", "AR", "C1", "USD", "2025-01-31", "=SUM(A1:A9)", 12.5, nil, "@cmd|' /C calc'!A0"},
		nil, // row 4 blank
		{"INV-2", "AR", "C1", "USD", "2025-01-31", "Uncomputed formula", nil, nil, nil},
		{"INV-3", "AR", "C1", "USD", "2025-01-31", "Percent cell", 1, 0.2},
		{"INV-4", "AR", "C1", "USD", "2025-01-31", "Percent text", 1, "0.25%"},
		{"INV-5", "AR", "C1", "USD", "1.5E+4", "Exponent date", raw("1.5E+1"), nil},
	}, func(f *excelize.File) {
		// A formula with its cached value, and one never computed.
		require.NoError(t, f.SetCellFormula("Sheet1", "G3", "=10+2.5"))
		require.NoError(t, f.SetCellFormula("Sheet1", "G5", "=1+1"))
	})
	rec := readXLSX(t, Invoices, file)
	require.Equal(t, []string{
		"5 unit_amount missing_value", // the formula in G5 has no cached value: blank
		"6 tax_rate invalid_number",   // 0.2 from a percentage cell is refused as ambiguous
		"8 issue_date invalid_date",   // an exponent in text is not a date serial
	}, problems(rec))
	require.Len(t, rec.Invoices, 2)
	inv := rec.Invoices[0].Input
	require.Equal(t, "=SUM(A1:A9)", inv.Lines[0].Description, "formula-looking text is kept as text")
	require.Equal(t, int64(1250), *inv.Lines[0].UnitAmountMinor, "a formula's cached value")
	require.Equal(t, "@cmd|' /C calc'!A0", *inv.Memo)
	require.Equal(t, "0.25", *rec.Invoices[1].Input.Lines[0].TaxRate, "a rate below 1 % given with its % sign")
	require.Contains(t, rec.Errors[1].Reason, "20 for 20%")
}

func TestReadXLSXDates(t *testing.T) {
	for name, tc := range map[string]struct {
		value    any
		date1904 bool
		want     string
	}{
		"serial":                      {raw("45688"), false, "2025-01-31"},
		"serial, 1904 date system":    {raw("44226"), true, "2025-01-31"},
		"date cell":                   {time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), false, "2024-02-29"},
		"date and time cell":          {time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), false, "2024-02-29"},
		"ISO text":                    {"2024-02-29", false, "2024-02-29"},
		"ISO text at midnight":        {"2024-02-29T00:00:00Z", false, "2024-02-29"},
		"1900-03-01, first real date": {raw("61"), false, "1900-03-01"},
	} {
		t.Run(name, func(t *testing.T) {
			file := xlsxFile(t, [][]any{{"external_id", "direction", "counterparty_external_id", "amount", "currency", "value_date"},
				{"P1", "incoming", "C1", 10, "USD", tc.value}}, func(f *excelize.File) {
				if tc.date1904 {
					require.NoError(t, f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &tc.date1904}))
				}
			})
			rec := readXLSX(t, Payments, file)
			require.Empty(t, rec.Errors)
			require.Equal(t, tc.want, rec.Payments[0].Input.ValueDate.String())
		})
	}
}

// The first visible worksheet is read; row numbers are the sheet's.
func TestReadXLSXSheetChoice(t *testing.T) {
	file := xlsxFile(t, nil, func(f *excelize.File) {
		require.NoError(t, f.SetSheetName("Sheet1", "Lookups"))
		require.NoError(t, f.SetSheetRow("Lookups", "A1", &[]any{"not", "a", "header"}))
		idx, err := f.NewSheet("Customers")
		require.NoError(t, err)
		f.SetActiveSheet(idx) // the selected tab cannot be hidden
		require.NoError(t, f.SetSheetRow("Customers", "A3", &[]any{"external_id", "name", "kind"}))
		require.NoError(t, f.SetSheetRow("Customers", "A4", &[]any{"C1", "Acme", "customer"}))
		require.NoError(t, f.SetSheetRow("Customers", "A9", &[]any{"C2", "Globex", "client"}))
		require.NoError(t, f.SetSheetVisible("Lookups", false))
		_, err = f.NewSheet("Other")
		require.NoError(t, err)
	})
	rec := readXLSX(t, Counterparties, file)
	require.Empty(t, rec.Errors)
	require.Equal(t, []string{"Acme", "Globex"}, names(rec))
	require.Equal(t, []int{4}, rec.Counterparties[0].Rows)
	require.Equal(t, []int{9}, rec.Counterparties[1].Rows)
}

// A row at the end of a sheet, past the header's columns, is read with its number.
func TestReadXLSXFarRow(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	sheet := head + `<row r="1"><c r="A1" t="inlineStr"><is><t>external_id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c>` +
		`<c r="C1" t="inlineStr"><is><t>kind</t></is></c></row>` +
		`<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>C1</t></is></c><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>`
	rec := readXLSX(t, Counterparties, withSheet(t, xlsxFile(t, [][]any{{"x"}}), []byte(sheet)))
	require.Equal(t, []string{"1048576  extra_cells", "1048576 name missing_value", "1048576 kind missing_value"}, problems(rec))
}

func TestReadXLSXRefusesWhatIsNotAWorkbook(t *testing.T) {
	good := xlsxFile(t, [][]any{{"external_id", "name", "kind"}, {"C1", "Acme", "customer"}})
	for name, file := range map[string][]byte{
		"CSV text":        []byte(cpHeader + "C1,Acme,customer\n"),
		"binary":          {0x89, 'P', 'N', 'G', 0, 0, 0, 0},
		"a cut-off zip":   good[:len(good)/2],
		"a damaged zip":   damage(good),
		"a zip of no xml": zipOf(t, map[string]string{"hello.txt": "hi"}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(file), tabular.XLSX, Counterparties, Limits{})
			refused(t, err, apperr.Unprocessable, CodeUnreadable)
		})
	}
	_, err := Read(bytes.NewReader(nil), tabular.XLSX, Counterparties, Limits{})
	refused(t, err, apperr.Unprocessable, CodeEmpty)
	_, err = Read(bytes.NewReader(xlsxFile(t, nil)), tabular.XLSX, Counterparties, Limits{})
	refused(t, err, apperr.Unprocessable, CodeEmpty)
}

// damage flips bytes in the middle of the compressed parts, so checksums fail.
func damage(b []byte) []byte {
	b = append([]byte(nil), b...)
	for i := len(b) / 3; i < len(b)/3+64; i++ {
		b[i] ^= 0x55
	}
	return b
}

func zipOf(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range files {
		f, err := w.Create(name)
		require.NoError(t, err)
		_, err = io.WriteString(f, body)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// bombSize is what the zip bomb's worksheet unpacks to: past the default limit of
// 200 MiB, from a few hundred kilobytes.
const bombSize = 256 << 20

var bombs struct {
	once          sync.Once
	honest, lying []byte
}

// zipBombs builds, once, two copies of a valid workbook whose worksheet is one
// inline-string cell of 256 MiB of zeros: one whose zip directory declares that size,
// and one that claims the worksheet is 1 KiB.
func zipBombs(t testing.TB) (honest, lying []byte) {
	bombs.once.Do(func() {
		base := xlsxFile(t, [][]any{{"external_id"}})
		zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
		require.NoError(t, err)

		var deflated bytes.Buffer
		fw, err := flate.NewWriter(&deflated, flate.BestSpeed)
		require.NoError(t, err)
		head := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>`
		tail := `</t></is></c></row></sheetData></worksheet>`
		_, _ = io.WriteString(fw, head)
		zeros := bytes.Repeat([]byte("0"), 1<<20)
		for range bombSize >> 20 {
			_, _ = fw.Write(zeros)
		}
		_, _ = io.WriteString(fw, tail)
		require.NoError(t, fw.Close())
		size := uint64(len(head) + bombSize + len(tail))

		build := func(declared uint64) []byte {
			var out bytes.Buffer
			zw := zip.NewWriter(&out)
			for _, f := range zr.File {
				if f.Name == "xl/worksheets/sheet1.xml" {
					h := f.FileHeader
					h.Method = zip.Deflate
					h.CompressedSize64 = uint64(deflated.Len())
					h.UncompressedSize64 = declared
					h.CRC32 = 0 // not checked: the part is never read to its end
					w, err := zw.CreateRaw(&h)
					require.NoError(t, err)
					_, err = w.Write(deflated.Bytes())
					require.NoError(t, err)
					continue
				}
				require.NoError(t, zw.Copy(f))
			}
			require.NoError(t, zw.Close())
			return out.Bytes()
		}
		bombs.honest, bombs.lying = build(size), build(1<<10)
	})
	return bombs.honest, bombs.lying
}

// A zip bomb is refused from the archive's directory, before it is inflated. Timing is
// measured by BenchmarkReadXLSXZipBomb, not asserted here.
func TestReadXLSXZipBomb(t *testing.T) {
	honest, lying := zipBombs(t)
	require.Less(t, len(honest), 1<<20, "a few hundred kilobytes")

	_, err := Read(bytes.NewReader(honest), tabular.XLSX, Counterparties, Limits{})
	e := refused(t, err, apperr.Unprocessable, CodeUnreadable)
	require.Contains(t, e.Message, "200 MiB")

	// A part that understates its size fails when it inflates past what it declared
	// (archive/zip reads no further), so memory stays bounded.
	_, err = Read(bytes.NewReader(lying), tabular.XLSX, Counterparties, Limits{})
	e = refused(t, err, apperr.Unprocessable, CodeUnreadable)
	require.Contains(t, e.Message, "damaged")
}

func BenchmarkReadXLSXZipBomb(b *testing.B) {
	honest, _ := zipBombs(b)
	b.SetBytes(int64(len(honest)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(honest), tabular.XLSX, Counterparties, Limits{}); err == nil {
			b.Fatal("a zip bomb was read")
		}
	}
}
