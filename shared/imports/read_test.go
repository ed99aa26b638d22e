package imports

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// read reads text as a CSV of kind with the default limits and checks the invariants
// every result keeps.
func read(t *testing.T, kind Kind, text string) Records {
	t.Helper()
	rec, err := Read(strings.NewReader(text), tabular.CSV, kind, Limits{})
	require.NoError(t, err)
	requireConsistent(t, rec)
	return rec
}

// requireConsistent: every data row is in exactly one record or has errors, never
// both, and has its cells.
func requireConsistent(t testing.TB, rec Records) {
	t.Helper()
	inRecord := map[int]bool{}
	add := func(rows []int) {
		for _, r := range rows {
			if inRecord[r] {
				t.Fatalf("row %d is in two records", r)
			}
			inRecord[r] = true
		}
	}
	for _, r := range rec.Counterparties {
		add(r.Rows)
	}
	for _, r := range rec.Invoices {
		add(r.Rows)
	}
	for _, r := range rec.Payments {
		add(r.Rows)
	}
	failed := map[int]bool{}
	for _, e := range rec.Errors {
		if inRecord[e.Row] {
			t.Fatalf("row %d is in a record and has error %+v", e.Row, e)
		}
		if e.Code == "" || e.Reason == "" {
			t.Fatalf("error without code or reason: %+v", e)
		}
		failed[e.Row] = true
	}
	if got := len(inRecord) + len(failed); got != rec.Rows {
		t.Fatalf("%d rows read, %d in records and %d failed", rec.Rows, len(inRecord), len(failed))
	}
	if len(rec.Cells) != rec.Rows {
		t.Fatalf("%d rows read, cells of %d", rec.Rows, len(rec.Cells))
	}
	for r := range inRecord {
		if _, ok := rec.Cells[r]; !ok {
			t.Fatalf("row %d has no cells", r)
		}
	}
	for r := range failed {
		if _, ok := rec.Cells[r]; !ok {
			t.Fatalf("failed row %d has no cells", r)
		}
	}
}

// refused asserts that err refuses a whole file with code and kind.
func refused(t testing.TB, err error, kind apperr.Kind, code string) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	e := apperr.From(err)
	require.Equal(t, code, e.Code, "%v", err)
	require.Equal(t, kind, e.Kind, "%v", err)
	return e
}

// problems lists errors as "row column code", for compact assertions.
func problems(rec Records) []string {
	out := make([]string, 0, len(rec.Errors))
	for _, e := range rec.Errors {
		out = append(out, fmt.Sprintf("%d %s %s", e.Row, e.Column, e.Code))
	}
	return out
}

func names(rec Records) []string {
	var out []string
	for _, c := range rec.Counterparties {
		out = append(out, c.Input.Name)
	}
	return out
}

const cpHeader = "external_id,name,kind\n"

func utf16Bytes(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

func TestReadCSVEncodings(t *testing.T) {
	text := "external_id\tname\tkind\nC1\tMüller 𝄞 GmbH\tcustomer\n"
	for name, file := range map[string][]byte{
		"UTF-8":                      []byte(text),
		"UTF-8 with byte order mark": append([]byte("\xEF\xBB\xBF"), text...),
		"UTF-16 LE (Unicode Text)":   utf16Bytes(text, binary.LittleEndian, true),
		"UTF-16 BE":                  utf16Bytes(text, binary.BigEndian, true),
		"CRLF":                       []byte(strings.ReplaceAll(text, "\n", "\r\n")),
		"CR alone (old Mac)":         []byte(strings.ReplaceAll(text, "\n", "\r")),
	} {
		t.Run(name, func(t *testing.T) {
			rec, err := Read(bytes.NewReader(file), tabular.CSV, Counterparties, Limits{})
			require.NoError(t, err)
			require.Empty(t, rec.Errors)
			require.Empty(t, rec.IgnoredColumns, "the byte order mark is not part of the first header")
			require.Equal(t, []string{"Müller 𝄞 GmbH"}, names(rec))
			require.Equal(t, []int{2}, rec.Counterparties[0].Rows)
		})
	}
}

func TestReadCSVRefusesWhatIsNotUTF8(t *testing.T) {
	lone := utf16Bytes(cpHeader+"C1,a,customer\nC2,", binary.LittleEndian, true)
	lone = binary.LittleEndian.AppendUint16(lone, 0xD800) // a high surrogate with no low one
	lone = append(lone, utf16Bytes(",customer\n", binary.LittleEndian, false)...)
	for name, tc := range map[string]struct {
		file []byte
		want string
	}{
		"Windows-1252":             {[]byte(cpHeader + "C1,Acme,customer\nC2,M\xfcller,vendor\n"), "row 3 is not UTF-8"},
		"a NUL character":          {[]byte(cpHeader + "C1,A\x00B,customer\n"), "row 2 holds NUL"},
		"UTF-16 without a BOM":     {utf16Bytes(cpHeader, binary.LittleEndian, false), "row 1 holds NUL"},
		"an unpaired surrogate":    {lone, "row 3 is not UTF-8"},
		"an odd byte after UTF-16": {append(utf16Bytes(cpHeader+"C1,a,customer\nC2,b", binary.LittleEndian, true), 'x'), "row 3 is not UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.file), tabular.CSV, Counterparties, Limits{})
			e := refused(t, err, apperr.Unprocessable, CodeEncoding)
			require.Contains(t, e.Message, tc.want)
			require.Contains(t, e.Message, "CSV UTF-8", "the message says how to fix it")
		})
	}
}

func TestSniffSeparator(t *testing.T) {
	for _, tc := range []struct {
		head string
		want rune
		skip int
	}{
		{"a,b,c\n1;2;3;4;5", ',', 0}, // the header decides, not the data
		{"a;b;c\n", ';', 0},
		{"a\tb\tc", '\t', 0},
		{"a|b|c\r\n", '|', 0},
		{"\"x,y,z\";b;c\n", ';', 0},        // commas inside quotes do not count
		{"\"multi\nline,,,\";b\n", ';', 0}, // nor does a quoted line break end the header
		{"a,b;c\n", ',', 0},                // a tie goes to the comma
		{"a;b|c|d\n", '|', 0},
		{"name\n", ',', 0}, // one column
		{"\n\n  \n;;;\nexternal_id;name\n", ';', 0},
		{",,,\na|b\n", '|', 0}, // a blank row of separators is not the header
		{"sep=;\na,b,c\n", ';', 6},
		{"SEP=|\r\na,b\n", '|', 7},
		{"sep=x\na,b\n", ',', 0}, // not a separator this reader takes: an ordinary row
		{"", ',', 0},
	} {
		sep, skip := sniffSeparator([]byte(tc.head))
		require.Equal(t, string(tc.want), string(sep), "%q", tc.head)
		require.Equal(t, tc.skip, skip, "%q", tc.head)
	}
}

func TestReadCSVSeparators(t *testing.T) {
	for _, sep := range []string{",", ";", "\t", "|"} {
		t.Run(fmt.Sprintf("%q", sep), func(t *testing.T) {
			text := strings.Join([]string{"external_id", "name", "kind", "tax_id"}, sep) + "\n" +
				strings.Join([]string{"C1", `"Acme, Inc; ""the"" | best"`, "customer", ""}, sep) + "\n" +
				strings.Join([]string{"C2", "Globex", "vendor", "DE123"}, sep) + "\n"
			rec := read(t, Counterparties, text)
			require.Empty(t, rec.Errors)
			require.Equal(t, []string{`Acme, Inc; "the" | best`, "Globex"}, names(rec))
			require.Nil(t, rec.Counterparties[0].Input.TaxID, "a blank cell is absent")
			require.Equal(t, "DE123", *rec.Counterparties[1].Input.TaxID)
		})
	}
	t.Run("sep= line", func(t *testing.T) {
		rec := read(t, Counterparties, "sep=;\r\nexternal_id;name;kind\r\nC1;Acme, Inc;customer\r\n")
		require.Equal(t, []string{"Acme, Inc"}, names(rec))
		require.Equal(t, []int{2}, rec.Counterparties[0].Rows, "the sep= line is not a row, as in Excel")
	})
}

// Rows are numbered as a spreadsheet shows the file: a quoted line break does not
// start a row, a blank line is a row.
func TestReadCSVRowNumbers(t *testing.T) {
	text := "\n" + // row 1: blank, before the header
		cpHeader + // row 2
		"C1,\"Acme\nHoldings\r\nLtd\",customer\n" + // row 3, three lines
		"\n" + // row 4, blank
		",,\n" + // row 5, blank cells
		"  , \t ,  \n" + // row 6, white space only
		"C2,Globex,nope\n" + // row 7
		"\"C3\",\"Initech\",\"vendor\"\n" + // row 8
		"C4,\"\",customer\n" + // row 9
		"C5,\"line one\n\nline three\",both\n" + // row 10, with an empty line inside quotes
		"C6,Umbrella,customer" // row 11, no final line break
	rec := read(t, Counterparties, text)
	require.Equal(t, 6, rec.Rows, "blank rows are skipped and not counted")
	var rows []int
	for _, c := range rec.Counterparties {
		rows = append(rows, c.Rows[0])
	}
	require.Equal(t, []int{3, 8, 10, 11}, rows)
	require.Equal(t, []string{"7 kind invalid_choice", "9 name missing_value"}, problems(rec))
	require.Equal(t, "Acme\nHoldings\nLtd", rec.Counterparties[0].Input.Name, "CRLF inside quotes reads as LF")
	require.Equal(t, map[string]string{"external_id": "C2", "name": "Globex", "kind": "nope"}, rec.Cells[7])
}

func TestReadCSVCells(t *testing.T) {
	text := "external_id,name,kind,email\n" +
		"  C1 ,  Acme  Widgets\u00a0 , Customer ,\n" + // surrounding spaces trimmed, inner kept
		"C2,\"=HYPERLINK(\"\"http://evil\"\";\"\"x\"\")\",vendor,\n" + // formula-looking: kept as text
		"C3,'=1+1,vendor,\n" + // an export's neutralising quote is removed
		"C4,'plain,vendor,\n" + // a quote before anything else is text
		"C5,@SUM(A1),both,\n" +
		"C6,+44 20 7946 0000,both,\n" +
		"C7,-minus,both,\n"
	rec := read(t, Counterparties, text)
	require.Empty(t, rec.Errors)
	require.Equal(t, []string{"Acme  Widgets", `=HYPERLINK("http://evil";"x")`, "=1+1", "'plain", "@SUM(A1)", "+44 20 7946 0000", "-minus"}, names(rec))
	require.Equal(t, "C1", *rec.Counterparties[0].Input.ExternalID)
	require.Equal(t, "customer", string(rec.Counterparties[0].Input.Kind))
}

func TestReadCSVRaggedRows(t *testing.T) {
	text := cpHeader +
		"C1,Acme,customer,,,\n" + // extra cells, all blank: fine (Excel pads rows so)
		"C2,Acme, Inc,customer\n" + // an unquoted comma shifts the cells
		"C3,Globex\n" + // fewer cells: the missing ones are blank
		"C4,Initech,vendor\n"
	rec := read(t, Counterparties, text)
	require.Equal(t, []string{"3  extra_cells", "3 kind invalid_choice", "4 kind missing_value"}, problems(rec))
	require.Equal(t, []string{"Acme", "Initech"}, names(rec))
}

func TestReadCSVQuotingErrorsRefuseTheFile(t *testing.T) {
	for name, tc := range map[string]struct{ text, row string }{
		"a bare quote":          {cpHeader + "C1,Acme,customer\nC2,12\" pipe,vendor\n", "row 3 "},
		"text after a quote":    {cpHeader + "C1,\"Acme\" Inc,customer\n", "row 2 "},
		"a quote never closed":  {cpHeader + "C1,\"Acme,customer\nC2,Globex,vendor\n", "row 2 "},
		"after a blank line":    {cpHeader + "\nC1,\"Acme\" Inc,customer\n", "row 3 "},
		"after quoted newlines": {cpHeader + "C1,\"a\nb\",customer\nC2,x\"y,vendor\n", "row 3 "},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.text), tabular.CSV, Counterparties, Limits{})
			e := refused(t, err, apperr.Unprocessable, CodeUnreadable)
			require.Contains(t, e.Message, tc.row)
			require.Contains(t, e.Message, `"12"" pipe"`, "the message shows how to quote")
		})
	}
}

func TestReadLimits(t *testing.T) {
	file := cpHeader + "C1,Acme,customer\n\nC2,Globex,vendor\n"
	t.Run("bytes", func(t *testing.T) {
		rec, err := Read(strings.NewReader(file), tabular.CSV, Counterparties, Limits{MaxBytes: int64(len(file))})
		require.NoError(t, err, "exactly the limit is fine")
		require.Len(t, rec.Counterparties, 2)

		_, err = Read(strings.NewReader(file), tabular.CSV, Counterparties, Limits{MaxBytes: int64(len(file) - 1)})
		refused(t, err, apperr.TooLarge, CodeTooLarge)

		_, err = Read(strings.NewReader(file), tabular.CSV, Counterparties, Limits{MaxBytes: 4})
		refused(t, err, apperr.TooLarge, CodeTooLarge)

		xlsx := xlsxFile(t, [][]any{{"external_id", "name", "kind"}, {"C1", "Acme", "customer"}})
		_, err = Read(bytes.NewReader(xlsx), tabular.XLSX, Counterparties, Limits{MaxBytes: int64(len(xlsx))})
		require.NoError(t, err)
		_, err = Read(bytes.NewReader(xlsx), tabular.XLSX, Counterparties, Limits{MaxBytes: int64(len(xlsx) - 1)})
		refused(t, err, apperr.TooLarge, CodeTooLarge)
	})
	t.Run("bytes, limited in front", func(t *testing.T) {
		body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(file)), 10)
		_, err := Read(body, tabular.CSV, Counterparties, Limits{})
		refused(t, err, apperr.TooLarge, CodeTooLarge)
	})
	t.Run("rows", func(t *testing.T) {
		rec, err := Read(strings.NewReader(file), tabular.CSV, Counterparties, Limits{MaxRows: 2})
		require.NoError(t, err, "two data rows; the header and blank rows do not count")
		require.Equal(t, 2, rec.Rows)

		_, err = Read(strings.NewReader(file), tabular.CSV, Counterparties, Limits{MaxRows: 1})
		refused(t, err, apperr.TooLarge, CodeTooManyRows)
	})
	t.Run("the upload breaks off", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader(cpHeader), iotestErr{errors.New("connection reset")})
		_, err := Read(r, tabular.CSV, Counterparties, Limits{})
		refused(t, err, apperr.Unprocessable, CodeUnreadable)
	})
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestReadEmptyFiles(t *testing.T) {
	for name, text := range map[string]string{
		"nothing":           "",
		"a byte order mark": "\xEF\xBB\xBF",
		"blank lines":       "\n\r\n  \n,,,\n",
		"a header only":     cpHeader,
		"header and blanks": cpHeader + ",,\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(strings.NewReader(text), tabular.CSV, Counterparties, Limits{})
			refused(t, err, apperr.Unprocessable, CodeEmpty)
		})
	}
}

func TestReadRefusesOtherFiles(t *testing.T) {
	xlsx := xlsxFile(t, [][]any{{"external_id"}})
	_, err := Read(bytes.NewReader(xlsx), tabular.CSV, Counterparties, Limits{})
	e := refused(t, err, apperr.Unprocessable, CodeUnreadable)
	require.Contains(t, e.Message, "XLSX")

	ole := append(append([]byte(nil), oleMagic...), make([]byte, 100)...)
	for _, f := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		_, err = Read(bytes.NewReader(ole), f, Counterparties, Limits{})
		e = refused(t, err, apperr.Unprocessable, CodeUnreadable)
		require.Contains(t, e.Message, ".xls")
	}

	_, err = Read(strings.NewReader(cpHeader), "pdf", Counterparties, Limits{})
	refused(t, err, apperr.Invalid, "invalid_parameter")
	_, err = Read(strings.NewReader(cpHeader), tabular.CSV, "ledgers", Limits{})
	refused(t, err, apperr.Invalid, "invalid_parameter")
}

func TestDetectFormat(t *testing.T) {
	xlsx := xlsxFile(t, [][]any{{"a"}})[:512]
	for _, tc := range []struct {
		contentType, name string
		head              []byte
		want              tabular.Format
		ok                bool
	}{
		{"application/octet-stream", "", xlsx, tabular.XLSX, true},
		{"text/csv", "export.csv", xlsx, tabular.XLSX, true}, // the bytes win
		{"", "", oleMagic, tabular.XLSX, true},               // for Read to refuse precisely
		{xlsxMediaType, "", nil, tabular.XLSX, true},
		{"application/octet-stream", "Book1.XLSX", nil, tabular.XLSX, true},
		{"text/csv; charset=utf-8", "", []byte("a,b"), tabular.CSV, true},
		{"text/plain", "", []byte("a\tb"), tabular.CSV, true},
		{"application/vnd.ms-excel", "invoices.csv", []byte("a,b"), tabular.CSV, true},
		{"application/octet-stream", "data.txt", []byte{0x80}, tabular.CSV, true},
		{"application/octet-stream", "", []byte("external_id,name\nC1,Müller"), tabular.CSV, true},
		{"application/octet-stream", "", []byte("external_id,name\nC1,M\xc3"), tabular.CSV, true}, // a rune cut off
		{"", "", []byte{0xFF, 0xFE, 'a', 0}, tabular.CSV, true},
		{"application/octet-stream", "", []byte("a\x00b"), "", false},
		{"application/octet-stream", "", []byte("M\xfcller"), "", false},
		{"application/octet-stream", "", nil, "", false},
		{"application/pdf", "x.pdf", []byte("%PDF-1.7"), "", false},
		{"application/json", "", []byte("{}"), "", false},
	} {
		got, ok := DetectFormat(tc.contentType, tc.name, tc.head)
		require.Equal(t, tc.ok, ok, "%q %q %q", tc.contentType, tc.name, tc.head)
		require.Equal(t, tc.want, got, "%q %q %q", tc.contentType, tc.name, tc.head)
	}
}

func TestScan(t *testing.T) {
	type row struct {
		n     int
		cells []string
	}
	var got []row
	err := Scan(strings.NewReader("a;b\n\n 1 ;\"x\ny\"\n"), tabular.CSV, Limits{}, func(n int, cells []string) error {
		got = append(got, row{n, append([]string(nil), cells...)})
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []row{{1, []string{"a", "b"}}, {3, []string{"1", "x\ny"}}}, got)

	stop := errors.New("stop")
	err = Scan(strings.NewReader("a\nb\n"), tabular.CSV, Limits{}, func(int, []string) error { return stop })
	require.Same(t, stop, err)
}

func TestLimitsDefaults(t *testing.T) {
	require.Equal(t, DefaultLimits(), Limits{}.orDefaults())
	require.Equal(t, Limits{MaxBytes: 1, MaxRows: DefaultMaxRows, MaxUnzippedBytes: DefaultMaxUnzippedBytes}, Limits{MaxBytes: 1}.orDefaults())
	require.Equal(t, 300_000, DefaultMaxRows, "100,000 invoices of three lines")
}
