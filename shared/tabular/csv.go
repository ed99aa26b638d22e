package tabular

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvEncoder writes RFC 4180 CSV: comma separated, fields quoted when they need it,
// records ended by CRLF, UTF-8.
//
// No byte order mark. A BOM makes Excel on Windows guess UTF-8 when a file is
// double-clicked, but it is a stray U+FEFF glued to the first header for every other
// consumer (scripts, ERPs, databases' COPY, the csv readers of most languages), and
// those are who CSV exports are for: people who want a spreadsheet ask for XLSX, which
// has no encoding to guess.
//
// Line breaks inside a field: encoding/csv writes each LF as CRLF when records end in
// CRLF and drops a CR on its own, so a bare CR is turned into LF first; a memo with
// line breaks therefore comes back with LF line breaks, and nothing is lost.
type csvEncoder struct {
	w      *csv.Writer
	record []string
}

func newCSV(out io.Writer) *csvEncoder {
	w := csv.NewWriter(out) // out is a large bufio.Writer, which csv uses as it is
	w.UseCRLF = true
	return &csvEncoder{w: w}
}

func (e *csvEncoder) row(cells []Cell) error {
	e.record = e.record[:0]
	for _, c := range cells {
		e.record = append(e.record, csvField(c))
	}
	return e.w.Write(e.record)
}

func (e *csvEncoder) finish() error {
	e.w.Flush()
	return e.w.Error()
}

func (e *csvEncoder) release() {}

// csvField is the text of a checked cell.
func csvField(c Cell) string {
	if c.blank {
		return ""
	}
	switch c.kind {
	case Amount:
		s, _, _ := c.amount() // checked by WriteRow
		return s
	case Date:
		return c.date.String()
	case Timestamp:
		return c.time.Format(time.RFC3339Nano)
	case Integer:
		return strconv.FormatInt(c.n, 10)
	}
	return csvText(Neutralise(c.text))
}

// crlf normalises line breaks inside a field to LF, which encoding/csv writes as CRLF.
var crlf = strings.NewReplacer("\r\n", "\n", "\r", "\n")

func csvText(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return crlf.Replace(s)
}
