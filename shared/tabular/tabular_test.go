package tabular_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/tabular"
)

var cols = []tabular.Column{
	{Header: "name", Kind: tabular.Text},
	{Header: "total", Kind: tabular.Amount},
	{Header: "currency", Kind: tabular.Text},
	{Header: "due_date", Kind: tabular.Date},
	{Header: "lines", Kind: tabular.Integer},
	{Header: "created_at", Kind: tabular.Timestamp},
}

var (
	due     = civil.Date{Year: 2026, Month: 11, Day: 30}
	created = time.Date(2026, 11, 1, 9, 30, 15, 123456000, time.FixedZone("CET", 3600))
)

// sample is a table with every kind of cell, awkward text and a formula attempt.
var sample = [][]tabular.Cell{
	{tabular.TextCell("Acme, Inc."), tabular.AmountCell(12345, "USD"), tabular.TextCell("USD"), tabular.DateCell(due), tabular.IntCell(3), tabular.TimeCell(created)},
	{tabular.TextCell(`=HYPERLINK("http://evil","x")`), tabular.AmountCell(-5, "USD"), tabular.TextCell("USD"), tabular.BlankCell(), tabular.IntCell(-7), tabular.BlankCell()},
	{tabular.TextCell("Ünïcødé \"quoted\"\nsecond line"), tabular.AmountCell(500, "JPY"), tabular.TextCell("JPY"), tabular.DateCell(civil.Date{Year: 2024, Month: 2, Day: 29}), tabular.IntCell(0), tabular.TimeCell(time.Unix(0, 0))},
	{tabular.TextCell("-1+2"), tabular.AmountCell(-1234, "KWD"), tabular.TextCell("KWD"), tabular.DateCell(due), tabular.IntCell(math.MaxInt64), tabular.TimeCell(created)},
	{tabular.BlankCell(), tabular.BlankCell(), tabular.BlankCell(), tabular.BlankCell(), tabular.BlankCell(), tabular.BlankCell()},
}

func write(t *testing.T, f tabular.Format, name string, columns []tabular.Column, rows [][]tabular.Cell) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	w, err := tabular.NewWriter(rec, f, name, columns)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, w.WriteRow(r...))
	}
	require.Equal(t, len(rows), w.Rows())
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "a second Close does nothing")
	require.True(t, w.Sent())
	return rec
}

func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(body))
	records, err := r.ReadAll()
	require.NoError(t, err)
	return records
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]bool{"csv": true, "xlsx": true, "": false, "CSV": false, "xls": false, "json": false, "csv ": false} {
		f, ok := tabular.ParseFormat(s)
		require.Equal(t, want, ok, s)
		if ok {
			require.Equal(t, s, string(f))
		}
	}
	require.Equal(t, "text/csv; charset=utf-8", tabular.CSV.ContentType())
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", tabular.XLSX.ContentType())
	require.Empty(t, tabular.Format("pdf").ContentType())
}

func TestNeutralise(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{`=cmd|' /C calc'!A0`, `'=cmd|' /C calc'!A0`},
		{"", ""},
		{"Acme", "Acme"},
		{"a=b", "a=b"},
		{" =1", " =1"},
		{"'=1", "'=1"},
		{"\n=1", "\n=1"},
		{"1-2", "1-2"},
		{"Ωmega", "Ωmega"},
	} {
		require.Equal(t, c.want, tabular.Neutralise(c.in), "%q", c.in)
	}
}

func TestAmounts(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{12345, "USD", "123.45"},
		{-12345, "USD", "-123.45"},
		{-5, "USD", "-0.05"},
		{0, "USD", "0.00"},
		{500, "JPY", "500"},
		{-500, "JPY", "-500"},
		{0, "JPY", "0"},
		{1234, "KWD", "1.234"},
		{-1, "KWD", "-0.001"},
		{1000, "BHD", "1.000"},
		{12345, "CLF", "1.2345"},
		{math.MaxInt64, "USD", "92233720368547758.07"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
	} {
		t.Run(c.currency+" "+strconv.FormatInt(c.minor, 10), func(t *testing.T) {
			columns := []tabular.Column{{Header: "amount", Kind: tabular.Amount}}
			row := [][]tabular.Cell{{tabular.AmountCell(c.minor, c.currency)}}

			got := readCSV(t, write(t, tabular.CSV, "a", columns, row).Body.Bytes())
			require.Equal(t, [][]string{{"amount"}, {c.want}}, got, "never prefixed, even when negative")

			f := openXLSX(t, write(t, tabular.XLSX, "a", columns, row).Body.Bytes())
			raw, err := f.GetCellValue("a", "A2", excelize.Options{RawCellValue: true})
			require.NoError(t, err)
			want, err := strconv.ParseFloat(c.want, 64)
			require.NoError(t, err)
			requireNumber(t, f, "a", "A2")
			gotF, err := strconv.ParseFloat(raw, 64)
			require.NoError(t, err)
			require.Equal(t, want, gotF)
			exp := strings.IndexByte(c.want+".", '.')
			decimals := len(c.want) - exp - 1
			if decimals < 0 {
				decimals = 0
			}
			format := "#,##0"
			if decimals > 0 {
				format += "." + strings.Repeat("0", decimals)
			}
			require.Equal(t, format, numFmtOf(t, f, "a", "A2"), "shows the currency's decimals")
		})
	}
}

func TestCSVRoundTrip(t *testing.T) {
	rec := write(t, tabular.CSV, "invoices-2026-11-01", cols, sample)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="invoices-2026-11-01.csv"`, rec.Header().Get("Content-Disposition"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	body := rec.Body.Bytes()
	require.True(t, bytes.HasPrefix(body, []byte("name,total,currency,due_date,lines,created_at\r\n")), "no BOM, CRLF records: %q", body[:60])
	require.Equal(t, [][]string{
		{"name", "total", "currency", "due_date", "lines", "created_at"},
		{"Acme, Inc.", "123.45", "USD", "2026-11-30", "3", "2026-11-01T08:30:15.123456Z"},
		{`'=HYPERLINK("http://evil","x")`, "-0.05", "USD", "", "-7", ""},
		{"Ünïcødé \"quoted\"\nsecond line", "500", "JPY", "2024-02-29", "0", "1970-01-01T00:00:00Z"},
		{"'-1+2", "-1.234", "KWD", "2026-11-30", "9223372036854775807", "2026-11-01T08:30:15.123456Z"},
		{"", "", "", "", "", ""},
	}, readCSV(t, body))
}

func TestCSVLineBreaksInsideFields(t *testing.T) {
	columns := []tabular.Column{{Header: "memo", Kind: tabular.Text}, {Header: "n", Kind: tabular.Integer}}
	rows := [][]tabular.Cell{
		{tabular.TextCell("a\r\nb"), tabular.IntCell(1)},
		{tabular.TextCell("a\rb"), tabular.IntCell(2)},
		{tabular.TextCell("a\nb\n"), tabular.IntCell(3)},
		{tabular.TextCell("\rstarts with CR"), tabular.IntCell(4)},
	}
	got := readCSV(t, write(t, tabular.CSV, "m", columns, rows).Body.Bytes())
	require.Equal(t, [][]string{{"memo", "n"}, {"a\nb", "1"}, {"a\nb", "2"}, {"a\nb\n", "3"}, {"'\nstarts with CR", "4"}}, got,
		"a bare CR becomes a line break instead of vanishing")
}

func openXLSX(t *testing.T, body []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// requireNumber asserts the cell is numeric: no type attribute (OOXML's default, "n")
// or an explicit number, and a value that parses as one.
func requireNumber(t *testing.T, f *excelize.File, sheet, cell string) float64 {
	t.Helper()
	typ, err := f.GetCellType(sheet, cell)
	require.NoError(t, err)
	require.Contains(t, []excelize.CellType{excelize.CellTypeUnset, excelize.CellTypeNumber}, typ, "%s is not a number", cell)
	raw, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	v, err := strconv.ParseFloat(raw, 64)
	require.NoError(t, err, "%s holds %q", cell, raw)
	return v
}

func numFmtOf(t *testing.T, f *excelize.File, sheet, cell string) string {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	require.NoError(t, err)
	s, err := f.GetStyle(id)
	require.NoError(t, err)
	if s.CustomNumFmt != nil {
		return *s.CustomNumFmt
	}
	return "builtin:" + strconv.Itoa(s.NumFmt)
}

func text(t *testing.T, f *excelize.File, sheet, cell string) string {
	t.Helper()
	typ, err := f.GetCellType(sheet, cell)
	require.NoError(t, err)
	require.Equal(t, excelize.CellTypeInlineString, typ, "%s is not text", cell)
	v, err := f.GetCellValue(sheet, cell)
	require.NoError(t, err)
	return v
}

func TestXLSXRoundTrip(t *testing.T) {
	rec := write(t, tabular.XLSX, "invoices-2026-11-01", cols, sample)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", rec.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="invoices-2026-11-01.xlsx"`, rec.Header().Get("Content-Disposition"))

	f := openXLSX(t, rec.Body.Bytes())
	const sheet = "invoices-2026-11-01"
	require.Equal(t, []string{sheet}, f.GetSheetList())

	for i, c := range cols {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		require.Equal(t, c.Header, text(t, f, sheet, cell))
		id, err := f.GetCellStyle(sheet, cell)
		require.NoError(t, err)
		s, err := f.GetStyle(id)
		require.NoError(t, err)
		require.True(t, s.Font != nil && s.Font.Bold, "header %s is bold", c.Header)
	}
	panes, err := f.GetPanes(sheet)
	require.NoError(t, err)
	require.True(t, panes.Freeze)
	require.Equal(t, 1, panes.YSplit, "the header row is frozen")

	// Row 2: text, a number, a real date, an integer, a date-time.
	require.Equal(t, "Acme, Inc.", text(t, f, sheet, "A2"))
	require.Equal(t, 123.45, requireNumber(t, f, sheet, "B2"))
	require.Equal(t, "#,##0.00", numFmtOf(t, f, sheet, "B2"))
	serial := requireNumber(t, f, sheet, "D2")
	require.Equal(t, "yyyy-mm-dd", numFmtOf(t, f, sheet, "D2"))
	date, err := excelize.ExcelDateToTime(serial, false)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), date)
	shown, err := f.GetCellValue(sheet, "D2")
	require.NoError(t, err)
	require.Equal(t, "2026-11-30", shown)
	require.Equal(t, float64(3), requireNumber(t, f, sheet, "E2"))
	// Excel's serial date: days since 1899-12-30 (the 1900 leap-year bug included).
	wantSerial := float64(created.Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC))) / float64(24*time.Hour)
	require.InDelta(t, wantSerial, requireNumber(t, f, sheet, "F2"), float64(time.Millisecond)/float64(24*time.Hour))
	shown, err = f.GetCellValue(sheet, "F2")
	require.NoError(t, err)
	require.Equal(t, "2026-11-01T08:30:15Z", shown)

	// Row 3: injected text carries the quote; the negative amount stays a number.
	require.Equal(t, `'=HYPERLINK("http://evil","x")`, text(t, f, sheet, "A3"))
	require.Equal(t, -0.05, requireNumber(t, f, sheet, "B3"))
	require.Equal(t, float64(-7), requireNumber(t, f, sheet, "E3"))
	for _, blank := range []string{"D3", "F3", "A6", "B6", "F6"} {
		v, err := f.GetCellValue(sheet, blank)
		require.NoError(t, err)
		require.Empty(t, v, blank)
	}

	// Rows 4 and 5: other exponents, text kept as is apart from the quote.
	require.Equal(t, "Ünïcødé \"quoted\"\nsecond line", text(t, f, sheet, "A4"))
	require.Equal(t, float64(500), requireNumber(t, f, sheet, "B4"))
	require.Equal(t, "#,##0", numFmtOf(t, f, sheet, "B4"))
	require.Equal(t, "'-1+2", text(t, f, sheet, "A5"))
	require.Equal(t, -1.234, requireNumber(t, f, sheet, "B5"))
	require.Equal(t, "#,##0.000", numFmtOf(t, f, sheet, "B5"))

	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	require.Len(t, rows, 5, "trailing blank rows are not rows to a reader")
}

func TestEmptyTableIsTheHeaderRow(t *testing.T) {
	require.Equal(t, [][]string{{"name", "total", "currency", "due_date", "lines", "created_at"}},
		readCSV(t, write(t, tabular.CSV, "empty", cols, nil).Body.Bytes()))
	f := openXLSX(t, write(t, tabular.XLSX, "empty", cols, nil).Body.Bytes())
	rows, err := f.GetRows("empty")
	require.NoError(t, err)
	require.Equal(t, [][]string{{"name", "total", "currency", "due_date", "lines", "created_at"}}, rows)
}

func TestWriteRowRefusesMistakes(t *testing.T) {
	for _, f := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		t.Run(string(f), func(t *testing.T) {
			w, err := tabular.NewWriter(httptest.NewRecorder(), f, "x", cols)
			require.NoError(t, err)
			ok := sample[0]
			with := func(i int, c tabular.Cell) []tabular.Cell {
				r := append([]tabular.Cell(nil), ok...)
				r[i] = c
				return r
			}
			require.ErrorContains(t, w.WriteRow(ok[:5]...), "5 cells for 6 columns")
			require.ErrorContains(t, w.WriteRow(with(1, tabular.TextCell("12.00"))...), "column total holds amount cells, not text")
			require.ErrorContains(t, w.WriteRow(with(5, tabular.DateCell(due))...), "column created_at holds timestamp cells, not date")
			require.ErrorContains(t, w.WriteRow(with(1, tabular.AmountCell(1, "XYZ"))...), `unknown currency "XYZ"`)
			require.ErrorContains(t, w.WriteRow(with(3, tabular.DateCell(civil.Date{Year: 2026, Month: 2, Day: 30}))...), "invalid date")
			require.Zero(t, w.Rows())
			require.NoError(t, w.WriteRow(ok...))
			require.NoError(t, w.Close())
			require.ErrorContains(t, w.WriteRow(ok...), "closed")
		})
	}
}

func TestNewWriterRefusesMistakes(t *testing.T) {
	_, err := tabular.NewWriter(httptest.NewRecorder(), "pdf", "x", cols)
	require.ErrorContains(t, err, `unknown format "pdf"`)
	_, err = tabular.NewWriter(httptest.NewRecorder(), tabular.CSV, "x", nil)
	require.ErrorContains(t, err, "at least one column")
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"invoices-2026-11-01":          "invoices-2026-11-01",
		"aging report/2026 (AR)":       "aging_report_2026__AR_",
		`x"; filename=evil.exe`:        "x___filename_evil.exe",
		"../../etc/passwd":             "_.._etc_passwd",
		"...":                          "export",
		"":                             "export",
		"Überweisungen":                "_berweisungen",
		"a\r\nContent-Type: text/html": "a__Content-Type__text_html",
		strings.Repeat("a", 300):       strings.Repeat("a", 100),
	} {
		require.Equal(t, want, tabular.SafeName(in), "%q", in)
	}
	rec := write(t, tabular.CSV, `bad "name"`, cols[:1], nil)
	require.Equal(t, `attachment; filename="bad__name_.csv"`, rec.Header().Get("Content-Disposition"))
}

func TestNothingIsSentBeforeTheFirstBlock(t *testing.T) {
	boom := errors.New("query failed")
	for _, f := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		t.Run(string(f), func(t *testing.T) {
			rec := httptest.NewRecorder()
			w, err := tabular.NewWriter(rec, f, "x", cols)
			require.NoError(t, err)
			for range 20 {
				require.NoError(t, w.WriteRow(sample[0]...))
			}
			require.False(t, w.Sent())
			require.Empty(t, rec.Header(), "no headers yet, so a problem response carries none of the file's")
			require.Zero(t, rec.Body.Len())
			require.Same(t, boom, w.Abort(context.Background(), boom), "the handler can still answer with a problem")
			require.ErrorContains(t, w.WriteRow(sample[0]...), "closed")
			require.NoError(t, w.Close())
			require.Zero(t, rec.Body.Len())
			require.NoError(t, w.Abort(context.Background(), nil))
		})
	}
}

func TestXLSXSendsNothingUntilClose(t *testing.T) {
	rec := httptest.NewRecorder()
	w, err := tabular.NewWriter(rec, tabular.XLSX, "x", cols)
	require.NoError(t, err)
	for range 5000 {
		require.NoError(t, w.WriteRow(sample[0]...))
	}
	require.False(t, w.Sent(), "a failure while the rows are produced can still be a problem response")
	require.NoError(t, w.Close())
	require.True(t, w.Sent())
	f := openXLSX(t, rec.Body.Bytes())
	rows, err := f.Rows("x")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Close())
	require.Equal(t, 5001, n)
}

func TestCSVStreamsWhileRowsAreWritten(t *testing.T) {
	rec := httptest.NewRecorder()
	w, err := tabular.NewWriter(rec, tabular.CSV, "x", cols)
	require.NoError(t, err)
	for range 2000 {
		require.NoError(t, w.WriteRow(sample[0]...))
	}
	require.True(t, w.Sent(), "full blocks go out before the table is complete")
	require.True(t, rec.Flushed, "and are flushed through to the client")
	sent := rec.Body.Len()
	require.Positive(t, sent)
	require.Zero(t, sent%(32<<10), "in whole blocks")
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	require.NoError(t, w.Close())
	require.Greater(t, rec.Body.Len(), sent, "Close sends the rest")
	require.Len(t, readCSV(t, rec.Body.Bytes()), 2001)
}

func TestAbortAfterTheFirstByteBreaksTheTransfer(t *testing.T) {
	// frameworkLike recovers every panic and writes an error, as functions-framework-go
	// does: the partial file must still not arrive complete.
	frameworkLike := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = io.WriteString(w, "A panic occurred during user function execution\n")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
	export := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw, err := tabular.NewWriter(w, tabular.CSV, "x", cols)
		if err != nil {
			panic(err)
		}
		for range 2000 {
			if err := tw.WriteRow(sample[0]...); err != nil {
				panic(err)
			}
		}
		_ = tw.Abort(r.Context(), errors.New("database went away"))
		panic("Abort returned after the response started")
	})
	for name, start := range map[string]func(*httptest.Server){
		"HTTP/1.1": (*httptest.Server).Start,
		"HTTP/2.0": func(s *httptest.Server) {
			s.EnableHTTP2 = true
			s.StartTLS()
		},
	} {
		for wrapped, h := range map[string]http.Handler{"net/http": export, "framework": frameworkLike(export)} {
			t.Run(name+" "+wrapped, func(t *testing.T) {
				srv := httptest.NewUnstartedServer(h)
				srv.Config.ErrorLog = nil
				start(srv)
				defer srv.Close()
				resp, err := srv.Client().Get(srv.URL)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, name, resp.Proto)
				body, err := io.ReadAll(resp.Body)
				require.Error(t, err, "the client must see a broken transfer, not a complete file")
				require.NotContains(t, string(body), "panic occurred")
			})
		}
	}
}

func TestAbortWithoutAConnectionPanicsWithErrAbortHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	w, err := tabular.NewWriter(rec, tabular.CSV, "x", cols)
	require.NoError(t, err)
	for range 2000 {
		require.NoError(t, w.WriteRow(sample[0]...))
	}
	require.True(t, w.Sent())
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { _ = w.Abort(context.Background(), errors.New("late")) })
}

// discard is a response that keeps nothing, so a benchmark measures the writer alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkWriteRow writes rows of every kind; -benchmem shows the heap per row stays
// flat (XLSX moves its sheet to a temporary file beyond 16 MiB).
func BenchmarkWriteRow(b *testing.B) {
	for _, f := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		b.Run(string(f), func(b *testing.B) {
			w, err := tabular.NewWriter(&discard{h: http.Header{}}, f, "bench", cols)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := w.WriteRow(sample[i%len(sample)]...); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
