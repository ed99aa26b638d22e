package imports

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// fileCodes are the codes that refuse a whole file, with their kinds.
var fileCodes = map[string]apperr.Kind{
	CodeTooLarge: apperr.TooLarge, CodeTooManyRows: apperr.TooLarge, CodeUnreadable: apperr.Unprocessable,
	CodeEncoding: apperr.Unprocessable, CodeHeader: apperr.Unprocessable, CodeEmpty: apperr.Unprocessable,
}

var rowCodes = map[string]bool{
	CodeMissingValue: true, CodeInvalidDate: true, CodeInvalidAmount: true, CodeInvalidNumber: true,
	CodeInvalidCurrency: true, CodeInvalidChoice: true, CodeInvalidValue: true, CodeExtraCells: true,
	CodeConflictingValue: true, CodeDuplicate: true, CodeTooManyLines: true, CodeTooMany: true,
	CodeAmountMismatch: true, CodeOverAllocated: true, CodeUnsupported: true, CodeNotImported: true,
}

// Small limits keep each fuzz input cheap and let the fuzzer reach them.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxRows: 1000, MaxUnzippedBytes: 8 << 20}

// checkRead: Read never panics; a refusal is an apperr with a known code of the right
// kind; an accepted file has rows, each in one record or with errors of known codes.
func checkRead(t *testing.T, data []byte, format tabular.Format, kind Kind) {
	rec, err := Read(bytes.NewReader(data), format, kind, fuzzLimits)
	if err != nil {
		var e *apperr.Error
		if !errors.As(err, &e) {
			t.Fatalf("not an apperr: %v", err)
		}
		if want, ok := fileCodes[e.Code]; !ok || want != e.Kind {
			t.Fatalf("refused with code %q and kind %v: %v", e.Code, e.Kind, err)
		}
		return
	}
	if rec.Rows == 0 || rec.Kind != kind {
		t.Fatalf("accepted with %d rows of kind %q", rec.Rows, rec.Kind)
	}
	requireConsistent(t, rec)
	for _, e := range rec.Errors {
		if !rowCodes[e.Code] {
			t.Fatalf("row error with unknown code: %+v", e)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	le := func(s string) []byte { return utf16Bytes(s, binary.LittleEndian, true) }
	for _, seed := range [][]byte{
		[]byte(cpHeader + "C1,Acme,customer\nC2,\"Globex, \"\"Inc\"\"\",vendor\n"),
		[]byte("\xEF\xBB\xBFexternal_id;name;kind\r\nC1;\"multi\nline\";both\r\n\r\n;;\r\n"),
		le("external_id\tname\tkind\nC1\tMüller\tcustomer\n"),
		[]byte("sep=|\nexternal_id|name|kind\nC1|a|b|c|d\n"),
		[]byte(invHeader + "INV-1,AR,C1,USD,2025-01-31,,,,Work,3,150,,20\nINV-1,AR,C1,EUR,,,,,Trip,,,9.99,\n"),
		[]byte(invHeader + "INV-2,payable,V1,JPY,2025-01-31,2025-01-01,open,=1+1,'-x,0.5,1,,0.2\n"),
		[]byte(payHeader + "P1,incoming,C1,100.00,USD,2025-02-01,wire,ref,INV-1,60\nP1,,,,,,,,INV-2,50\n"),
		[]byte(payHeader + "P2,out,V1,\"1,234.56\",usd,31/01/2025,cash,,,\n"),
		[]byte("external_id,name\r\"unterminated\r"),
		[]byte("a,b\nc,d\"e\n"),
		[]byte("PK\x03\x04"),
		[]byte("M\xfcller\n"),
		{},
	} {
		for k := range kinds {
			f.Add(seed, uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		checkRead(t, data, tabular.CSV, kinds[int(k)%len(kinds)])
	})
}

func FuzzReadXLSX(f *testing.F) {
	day := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)
	for k, rows := range [][][]any{
		{{"external_id", "name", "kind"}, {"C1", "Acme", "customer"}, nil, {"C2", "=1+1", "client", "extra"}},
		{invoiceHeader, {"INV-1", "AR", "C1", "EUR", day, raw("45720"), "Work", 3, 150.5, 20}, {"INV-1", nil, nil, nil, nil, nil, "More", raw("0.30000000000000004"), raw("1E-2"), 0.2}},
		{{"Payment ID", "Type", "Customer ID", "Amount", "Currency", "Payment Date", "Invoice No", "Amount Applied"}, {"P1", "incoming", "C1", 100, "USD", day, "INV-1", raw("99.999999999999986")}},
	} {
		f.Add(xlsxFile(f, rows), uint8(k))
	}
	f.Add([]byte("PK\x03\x04not a zip"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		checkRead(t, data, tabular.XLSX, kinds[int(k)%len(kinds)])
	})
}

// withSheet is base with its first worksheet's XML replaced by sheet, in an intact
// archive: byte-level mutations of a whole workbook mostly break its checksums, so
// this reaches the worksheet parser.
func withSheet(t testing.TB, base, sheet []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		if f.Name != "xl/worksheets/sheet1.xml" {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := zw.Create(f.Name)
		if err == nil {
			_, err = w.Write(sheet)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// sheetXML is the worksheet XML of a workbook built in code.
func sheetXML(t testing.TB, file []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzReadXLSXSheet(f *testing.F) {
	base := xlsxFile(f, [][]any{{"shared string"}})
	const head = `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	for k, sheet := range [][]byte{
		sheetXML(f, xlsxFile(f, [][]any{{"external_id", "name", "kind"}, {"C1", "Acme", "customer"}, nil, {"C2", "x", "client"}})),
		sheetXML(f, xlsxFile(f, [][]any{invoiceHeader, {"INV-1", "AR", "C1", "EUR", time.Now(), raw("45720.5"), "=1", 3, 150.5, 20}})),
		[]byte(head + `<row r="1"><c r="A1" t="inlineStr"><is><t>external_id</t></is></c><c r="B1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>kind</t></is></c></row>` +
			`<row r="3"><c r="A3" t="str"><f>A1</f><v>C1</v></c><c r="B3" t="s"><v>7</v></c><c r="C3" t="b"><v>1</v></c><c r="E3" t="e"><v>#N/A</v></c></row>` +
			`<row r="9"><c r="AB9" t="d"><v>2025-01-31T00:00:00Z</v></c></row></sheetData></worksheet>`),
		[]byte(head + `<row><c><v>1E+308</v></c><c t="n"><v>-0</v></c></row><row r="2"><c r="A2"><v>x</v></c></row></sheetData></worksheet>`),
	} {
		f.Add(sheet, uint8(k))
	}
	f.Fuzz(func(t *testing.T, sheet []byte, k uint8) {
		checkRead(t, withSheet(t, base, sheet), tabular.XLSX, kinds[int(k)%len(kinds)])
	})
}
