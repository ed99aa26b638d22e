package tabular

import (
	"archive/zip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// xlsxEncoder writes one worksheet through excelize's StreamWriter: cells are typed
// (numbers are numbers, dates are date cells), text is inline (no shared-string table
// growing with the rows), and the header row is bold and frozen.
//
// Memory: the StreamWriter keeps at most 16 MiB of sheet XML in memory and moves the
// rest to a temporary file, and Close streams the archive from that file through the
// response (SetZipWriter), so the Go heap stays flat whatever the row count. The
// temporary file grows with the rows (roughly a kilobyte per row of twenty columns),
// and on Cloud Run /tmp is memory: very large XLSX exports cost instance memory that
// CSV exports do not.
//
// Numbers in XLSX are IEEE doubles, as in Excel itself: amounts are exact up to 15
// significant digits (about 10^13 major units of a two-decimal currency). CSV carries
// every amount exactly.
type xlsxEncoder struct {
	file   *excelize.File
	stream *excelize.StreamWriter
	out    io.Writer
	styles xlsxStyles
	rows   int // written so far, the header row included
	values []any
}

type xlsxStyles struct {
	header, date, timestamp, integer int
	amount                           map[int]int // by currency exponent
}

// maxRows is the most rows a worksheet holds, the header row included.
const maxRows = excelize.TotalRows

// errTooManyRows is what an export that does not fit a worksheet answers. Nothing of
// an XLSX file is sent before Close, so it still reaches the client as a problem.
var errTooManyRows = apperr.New(apperr.Unprocessable, "export_too_large",
	fmt.Sprintf("an XLSX sheet holds at most %d rows; narrow the filters or export as CSV", maxRows-1))

func newXLSX(out io.Writer, name string, cols []Column) (_ *xlsxEncoder, err error) {
	f := excelize.NewFile()
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	sheet := name
	if len(sheet) > 31 { // Excel's limit; name is ASCII
		sheet = sheet[:31]
	}
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	e := &xlsxEncoder{file: f, out: out, styles: xlsxStyles{amount: map[int]int{}}, values: make([]any, len(cols))}
	if e.styles.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return nil, err
	}
	if e.styles.date, err = numFmt(f, "yyyy-mm-dd"); err != nil {
		return nil, err
	}
	if e.styles.timestamp, err = numFmt(f, `yyyy-mm-dd"T"hh:mm:ss"Z"`); err != nil {
		return nil, err
	}
	if e.styles.integer, err = f.NewStyle(&excelize.Style{NumFmt: 1}); err != nil { // "0"
		return nil, err
	}
	if e.stream, err = f.NewStreamWriter(sheet); err != nil {
		return nil, err
	}
	// Column widths and panes must precede the first row.
	for i, c := range cols {
		if err := e.stream.SetColWidth(i+1, i+1, columnWidth(c)); err != nil {
			return nil, err
		}
	}
	if err := e.stream.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	return e, nil
}

func numFmt(f *excelize.File, format string) (int, error) {
	return f.NewStyle(&excelize.Style{CustomNumFmt: &format})
}

// columnWidth is a readable width, in characters, for a column of c's kind.
func columnWidth(c Column) float64 {
	w := map[Kind]float64{Text: 18, Amount: 14, Date: 11, Integer: 10, Timestamp: 21}[c.Kind]
	if h := float64(utf8.RuneCountInString(c.Header)) + 2; h > w {
		w = h
	}
	return w
}

// amountStyle is the number format showing exp decimals, made once per exponent.
func (e *xlsxEncoder) amountStyle(exp int) (int, error) {
	if s, ok := e.styles.amount[exp]; ok {
		return s, nil
	}
	format := "#,##0"
	if exp > 0 {
		format += "." + strings.Repeat("0", exp)
	}
	s, err := numFmt(e.file, format)
	if err != nil {
		return 0, err
	}
	e.styles.amount[exp] = s
	return s, nil
}

func (e *xlsxEncoder) row(cells []Cell) error {
	if e.rows >= maxRows {
		return errTooManyRows
	}
	header := e.rows == 0
	for i, c := range cells {
		v, err := e.value(c, header)
		if err != nil {
			return err
		}
		e.values[i] = v
	}
	e.rows++
	return e.stream.SetRow("A"+strconv.Itoa(e.rows), e.values)
}

// value is the excelize value of a checked cell; nil leaves the cell out.
func (e *xlsxEncoder) value(c Cell, header bool) (any, error) {
	if c.blank {
		return nil, nil
	}
	switch c.kind {
	case Amount:
		s, exp, _ := c.amount() // checked by WriteRow
		// The correctly rounded double of the exact decimal: Excel shows the decimal.
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		style, err := e.amountStyle(exp)
		return excelize.Cell{StyleID: style, Value: v}, err
	case Date:
		return excelize.Cell{StyleID: e.styles.date, Value: c.date.In(time.UTC)}, nil
	case Timestamp:
		return excelize.Cell{StyleID: e.styles.timestamp, Value: c.time}, nil
	case Integer:
		return excelize.Cell{StyleID: e.styles.integer, Value: c.n}, nil
	}
	v := excelize.Cell{Value: Neutralise(c.text)}
	if header {
		v.StyleID = e.styles.header
	}
	return v, nil
}

// finish writes the archive: the zip goes straight to the output instead of into
// the in-memory buffer excelize would otherwise build it in.
func (e *xlsxEncoder) finish() error {
	if err := e.stream.Flush(); err != nil {
		return err
	}
	e.file.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(e.out) })
	return e.file.Write(io.Discard)
}

func (e *xlsxEncoder) release() { _ = e.file.Close() }
