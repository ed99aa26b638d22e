// Package tabular streams a table to an HTTP response as CSV or XLSX: every export
// (invoices, reports) writes its rows through it, so typing, formula-injection
// neutralisation and the rules for failing half-way live in one place. It knows
// nothing of domains or databases; a caller hands it typed cells row by row.
//
// # Failing half-way
//
// A response can only become a problem document while none of it has reached the
// client. The Writer therefore sends nothing, not even the status line or headers,
// until its first block of output is full:
//
//   - CSV is buffered in blocks of [blockSize] bytes; each full block goes straight to
//     the client and is flushed through net/http's own buffers, so memory per export
//     is constant. The first block (the header row and the first hundred or so rows)
//     is the window in which a failure still answers problem+json.
//   - XLSX is a zip archive whose central directory comes last: rows go into
//     excelize's StreamWriter (in memory up to 16 MiB, then a temporary file) and the
//     archive is only written, streamed from that file, by Close. A failure while
//     rows are produced still answers problem+json; only a failure inside Close
//     happens mid-transfer.
//
// Once bytes are on the wire, a failure must not look like a complete file. Abort
// breaks the transfer (see Abort) so the client sees a truncated download, never a
// well-formed partial one. The handler pattern is:
//
//	tw, err := tabular.NewWriter(w, format, name, cols)
//	if err != nil {
//		return err
//	}
//	err = svc.Export(ctx, ..., func(row T) error { return tw.WriteRow(cells(row)...) })
//	if err == nil {
//		err = tw.Close()
//	}
//	if err != nil {
//		return tw.Abort(r.Context(), err) // returns err only while nothing was sent
//	}
//	return nil
//
// # Formula injection
//
// A text cell whose value starts with '=', '+', '-', '@', tab or carriage return is
// written with a leading single quote (OWASP, "CSV Injection"), so a spreadsheet
// shows it as text instead of evaluating it. Amounts, dates and integers are typed
// cells and are never prefixed: a negative amount stays a number. XLSX text cells are
// never evaluated, but they are neutralised the same way so that both formats carry
// the same values and a sheet re-saved as CSV stays safe.
package tabular

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/ledgerline/ledgerline/shared/money"
)

// Format is a file format of an export.
type Format string

const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// ParseFormat accepts "csv" or "xlsx", exactly (the values of the format query
// parameter); anything else is not a format.
func ParseFormat(s string) (Format, bool) {
	f := Format(s)
	return f, f.Valid()
}

// Valid reports whether f is a known format; it fits httpx.Enum.
func (f Format) Valid() bool { return f == CSV || f == XLSX }

// ContentType is the media type of a file in f.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		// RFC 4180 registers text/csv; UTF-8 is stated because the default charset of
		// text/* would otherwise be US-ASCII for some clients.
		return "text/csv; charset=utf-8"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return ""
}

// Kind is the type of a column and of the cells in it.
type Kind int

const (
	Text      Kind = iota // a string, neutralised against formula injection
	Amount                // money: a decimal in major units of the cell's currency
	Date                  // a calendar date, ISO 8601 yyyy-mm-dd
	Integer               // a whole number
	Timestamp             // an instant, RFC 3339 in UTC
)

func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case Amount:
		return "amount"
	case Date:
		return "date"
	case Integer:
		return "integer"
	case Timestamp:
		return "timestamp"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Column is one column of a table. Every cell written to it must be of its Kind (or
// blank), so a row with two columns swapped fails at once instead of producing a file
// with dates in the amount column.
type Column struct {
	Header string
	Kind   Kind
}

// Cell is one typed value; build it with the constructors below.
type Cell struct {
	kind     Kind
	blank    bool
	text     string
	n        int64 // Amount: minor units; Integer: the value
	currency string
	date     civil.Date
	time     time.Time
}

// TextCell is a string.
func TextCell(s string) Cell { return Cell{kind: Text, text: s} }

// AmountCell is an amount of minor units of currency, written as a decimal in major
// units with the currency's exponent from shared/money: 12345 USD → 123.45, 500 JPY →
// 500, -1234 KWD → -1.234. An unknown currency fails WriteRow.
func AmountCell(minor int64, currency string) Cell {
	return Cell{kind: Amount, n: minor, currency: currency}
}

// DateCell is a calendar date, written as ISO 8601 yyyy-mm-dd (a date cell in XLSX).
func DateCell(d civil.Date) Cell { return Cell{kind: Date, date: d} }

// TimeCell is an instant, written as RFC 3339 in UTC (a date-time cell in XLSX).
func TimeCell(t time.Time) Cell { return Cell{kind: Timestamp, time: t.UTC()} }

// IntCell is a whole number.
func IntCell(n int64) Cell { return Cell{kind: Integer, n: n} }

// BlankCell is an empty cell; it fits a column of any kind (a null).
func BlankCell() Cell { return Cell{blank: true} }

// Neutralise returns s as a text cell carries it: prefixed with a single quote when
// it starts with a character that makes spreadsheet software read a formula.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// amount is a cell's amount as a decimal string in major units.
func (c Cell) amount() (string, int, error) {
	exp, ok := money.Exponent(c.currency)
	if !ok {
		return "", 0, fmt.Errorf("tabular: amount in unknown currency %q", c.currency)
	}
	s, err := money.FormatMinor(c.n, c.currency)
	return s, exp, err
}

// blockSize is the output buffer: the unit in which output reaches the client, and so
// the window in which a failure can still become a problem response.
const blockSize = 32 << 10

// Writer streams one table to an HTTP response. It is not safe for concurrent use.
type Writer struct {
	cols   []Column
	out    *sink
	buf    *bufio.Writer
	enc    encoder
	rows   int
	closed bool
}

// encoder is one file format.
type encoder interface {
	// row encodes one row of checked cells into the output.
	row(cells []Cell) error
	// finish completes the file in the output.
	finish() error
	// release frees what the encoder holds (temporary files); safe to call twice.
	release()
}

// NewWriter prepares the response: Content-Type (text/csv; charset=utf-8, or the
// XLSX media type), Content-Disposition: attachment; filename="<name>.<ext>" (name
// reduced to [A-Za-z0-9._-]), Cache-Control: no-store, and the header row. Headers and
// status are sent with the first block of output, not here (see the package comment),
// so a failure before then can still answer with a problem.
func NewWriter(w http.ResponseWriter, f Format, name string, cols []Column) (*Writer, error) {
	if !f.Valid() {
		return nil, fmt.Errorf("tabular: unknown format %q", string(f))
	}
	if len(cols) == 0 {
		return nil, errors.New("tabular: a table needs at least one column")
	}
	filename := SafeName(name) + "." + string(f)
	out := &sink{rw: w, rc: http.NewResponseController(w), header: func(h http.Header) {
		h.Set("Content-Type", f.ContentType())
		h.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
		// Exports are a tenant's books: no shared cache may keep them.
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	tw := &Writer{cols: cols, out: out, buf: bufio.NewWriterSize(out, blockSize)}
	var err error
	switch f {
	case CSV:
		tw.enc = newCSV(tw.buf)
	case XLSX:
		tw.enc, err = newXLSX(tw.buf, SafeName(name), cols)
	}
	if err != nil {
		return nil, err
	}
	header := make([]Cell, len(cols))
	for i, c := range cols {
		header[i] = TextCell(c.Header)
	}
	if err := tw.enc.row(header); err != nil {
		tw.enc.release()
		return nil, err
	}
	return tw, nil
}

// SafeName reduces name to the characters [A-Za-z0-9._-], replacing each other
// character with '_', without leading dots (no hidden files) and at most 100 bytes
// long; an empty result is "export". The result is safe inside a quoted
// Content-Disposition filename and as a file name on every common system.
func SafeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if s == "" {
		return "export"
	}
	return s
}

// WriteRow writes one row: one cell per column, each of the column's kind or blank.
func (w *Writer) WriteRow(cells ...Cell) error {
	if w.closed {
		return errors.New("tabular: write to a closed writer")
	}
	if len(cells) != len(w.cols) {
		return fmt.Errorf("tabular: row has %d cells for %d columns", len(cells), len(w.cols))
	}
	for i, c := range cells {
		if !c.blank && c.kind != w.cols[i].Kind {
			return fmt.Errorf("tabular: column %s holds %s cells, not %s", w.cols[i].Header, w.cols[i].Kind, c.kind)
		}
		if c.blank {
			continue
		}
		switch c.kind {
		case Amount:
			if _, _, err := c.amount(); err != nil {
				return err
			}
		case Date:
			if !c.date.IsValid() {
				return fmt.Errorf("tabular: column %s: invalid date %v", w.cols[i].Header, c.date)
			}
		}
	}
	if err := w.enc.row(cells); err != nil {
		return err
	}
	w.rows++
	return nil
}

// Rows is the number of rows written after the header row.
func (w *Writer) Rows() int { return w.rows }

// Sent reports whether any of the response has been sent: from then on a failure can
// no longer be answered with a problem, only by Abort breaking the transfer.
func (w *Writer) Sent() bool { return w.out.sent }

// Close completes the file and sends what remains of it. Its error may come before or
// after the first byte was sent; hand it to Abort.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.enc.release()
	if err := w.enc.finish(); err != nil {
		return err
	}
	return w.buf.Flush()
}

// Abort ends an export that failed with err and releases what the writer holds.
//
// While nothing has been sent it discards the buffered output and returns err, so the
// handler answers with a problem as for any other failure.
//
// Once the response has started it logs err and breaks the transfer, and does not
// return: it ends the connection's ability to deliver more (a write deadline in the
// past, which aborts an HTTP/2 stream and fails the HTTP/1.1 connection before the
// closing chunk; hijacking and closing the connection where deadlines are not
// supported), then panics with http.ErrAbortHandler, which net/http treats as a quiet
// abort. The transfer is broken before the panic because the functions framework
// recovers every panic from a handler and would otherwise finish the response
// normally, with its error text appended to the partial file.
func (w *Writer) Abort(ctx context.Context, err error) error {
	w.closed = true
	w.enc.release()
	if err == nil || !w.out.sent {
		return err
	}
	slog.ErrorContext(ctx, "export failed after the response started; transfer aborted",
		"error", err.Error(), "rows", w.rows)
	breakTransfer(w.out.rc)
	panic(http.ErrAbortHandler)
}

// breakTransfer makes sure the client never receives the end of the response.
func breakTransfer(rc *http.ResponseController) {
	if rc.SetWriteDeadline(time.Unix(1, 0)) == nil {
		return
	}
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}

// sink is the response body: it sends status and headers with the first write and
// flushes each block through to the client.
type sink struct {
	rw     http.ResponseWriter
	rc     *http.ResponseController
	header func(http.Header)
	sent   bool
}

func (s *sink) Write(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		s.header(s.rw.Header())
		s.rw.WriteHeader(http.StatusOK)
	}
	n, err := s.rw.Write(p)
	if err != nil {
		return n, err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return n, err
	}
	return n, nil
}
