package imports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// Limits bound what one file may cost to read. A zero field takes its default.
type Limits struct {
	// MaxBytes bounds the file as uploaded. Larger files are refused with 413
	// import_too_large after reading MaxBytes+1 bytes, never more.
	MaxBytes int64
	// MaxRows bounds the data rows (non-blank rows after the header). One more is
	// refused with 413 import_too_many_rows as soon as it is read.
	MaxRows int
	// MaxUnzippedBytes bounds what an XLSX workbook unpacks to, all its parts
	// together, as the archive declares them (and archive/zip holds every part to its
	// declared size). A zip bomb is refused from the archive's directory, before
	// anything is inflated.
	MaxUnzippedBytes int64
}

// Default limits. 300,000 rows is an import of 100,000 invoices of three lines each;
// such a file is about 35 MB as CSV, and about 25 MB as XLSX unpacking to about
// 150 MB.
const (
	DefaultMaxBytes         = 50 << 20
	DefaultMaxRows          = 300_000
	DefaultMaxUnzippedBytes = 200 << 20
)

// DefaultLimits are the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxRows: DefaultMaxRows, MaxUnzippedBytes: DefaultMaxUnzippedBytes}
}

func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = d.MaxRows
	}
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = d.MaxUnzippedBytes
	}
	return l
}

// Codes of the errors that refuse a whole file. They are stable: clients branch on them.
const (
	// CodeTooLarge (413): the file is over Limits.MaxBytes.
	CodeTooLarge = "import_too_large"
	// CodeTooManyRows (413): the file has more data rows than Limits.MaxRows. 413, not
	// 422: nothing in the file is wrong, it is too big to take in one request, and the
	// remedy is the one for too many bytes (split the file), so clients handle both
	// alike.
	CodeTooManyRows = "import_too_many_rows"
	// CodeUnreadable (422): not a CSV or XLSX file as declared, corrupt, encrypted,
	// over Limits.MaxUnzippedBytes unpacked (a zip bomb), or CSV whose quoting breaks
	// the row structure.
	CodeUnreadable = "import_unreadable"
	// CodeEncoding (422): CSV text that is not UTF-8 (nor UTF-16 with a byte order
	// mark), or that holds NUL characters.
	CodeEncoding = "import_encoding"
	// CodeHeader (422): required columns missing or a column given twice; the message
	// and the error's fields list every problem.
	CodeHeader = "import_header"
	// CodeEmpty (422): no header row, or a header and no data rows.
	CodeEmpty = "import_empty"
)

func tooLarge(max int64) error {
	return apperr.New(apperr.TooLarge, CodeTooLarge,
		fmt.Sprintf("the file is larger than %s, the most one import takes; split it into several files", sizeText(max)))
}

func tooManyRows(max int) error {
	return apperr.New(apperr.TooLarge, CodeTooManyRows,
		fmt.Sprintf("the file has more than %d data rows, the most one import takes; split it into several files", max))
}

func unreadable(cause error, msg string) error {
	return apperr.Wrap(cause, apperr.Unprocessable, CodeUnreadable, msg)
}

func badEncoding(row int, why string) error {
	return apperr.New(apperr.Unprocessable, CodeEncoding,
		fmt.Sprintf("row %d %s; save the file as \"CSV UTF-8\" (Excel: File > Save As > CSV UTF-8 (Comma delimited)) and upload it again", row, why))
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errTooLarge is what capped returns once the file is over its limit.
var errTooLarge = errors.New("imports: file over the size limit")

// capped reads at most max+1 bytes of r (an io.LimitReader) and fails with
// errTooLarge when there are more than max: reading stops there, and no parser ever
// sees a truncated file as if it were whole.
type capped struct {
	r   io.Reader
	n   int64
	max int64
}

func newCapped(r io.Reader, max int64) *capped {
	return &capped{r: io.LimitReader(r, max+1), max: max}
}

func (c *capped) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return 0, errTooLarge
	}
	return n, err
}

// readFailure turns an error of the underlying reader into the file's refusal: over
// the limit (ours, or net/http's MaxBytesReader in front of us) is 413; anything else
// is the upload breaking off, which leaves no file to read.
func readFailure(err error, lim Limits) error {
	var mbe *http.MaxBytesError
	if errors.Is(err, errTooLarge) || errors.As(err, &mbe) {
		return tooLarge(lim.MaxBytes)
	}
	return unreadable(err, "the file could not be read to its end")
}

// Magic numbers at the start of files people upload by mistake.
var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1} // legacy .xls, encrypted .xlsx
)

const xlsxMediaType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// DetectFormat decides how to read an upload from its Content-Type, its file name
// (empty if unknown) and its first bytes (512 are plenty). In order:
//
//   - a zip archive (PK\x03\x04) is XLSX, whatever it claims to be; so is an OLE2
//     compound file (legacy .xls, or an .xlsx saved with a password), which Read then
//     refuses with a precise reason rather than the caller answering a bare 415;
//   - the XLSX media type, or a name ending in .xlsx, is XLSX;
//   - text/csv, text/plain, text/tab-separated-values, application/csv and
//     application/vnd.ms-excel (what browsers on Windows send for .csv) are CSV;
//   - application/octet-stream, or no type, is CSV when the name ends in .csv, .tsv
//     or .txt or the bytes look like text (UTF-8 without NUL, or a UTF-16 byte order
//     mark).
//
// Anything else is not an import (ok false): the caller answers 415.
func DetectFormat(contentType, filename string, head []byte) (tabular.Format, bool) {
	if bytes.HasPrefix(head, zipMagic) || bytes.HasPrefix(head, oleMagic) {
		return tabular.XLSX, true
	}
	media := ""
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			media = mt
		} else {
			media = strings.ToLower(strings.TrimSpace(contentType))
		}
	}
	ext := strings.ToLower(path.Ext(filename))
	if media == xlsxMediaType || ext == ".xlsx" {
		return tabular.XLSX, true
	}
	switch media {
	case "text/csv", "text/plain", "text/tab-separated-values", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel":
		return tabular.CSV, true
	case "", "application/octet-stream":
		if ext == ".csv" || ext == ".tsv" || ext == ".txt" || looksLikeText(head) {
			return tabular.CSV, true
		}
	}
	return "", false
}

// looksLikeText: a UTF-16 byte order mark, or UTF-8 without NUL (a rune cut off by the
// end of head is fine).
func looksLikeText(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return true
	}
	if len(head) == 0 || bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	for i := 0; i < len(head); {
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 {
			return len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += size
	}
	return true
}

// Read reads a whole file of kind and turns its rows into records (see Records).
//
// A returned error refuses the whole file; it is an *apperr.Error with one of the
// Code* codes above. Everything wrong with single rows is in Records.Errors instead,
// and never stops the other rows; every data row counted in Records.Rows ends up in
// exactly one record or has at least one row error.
//
// The file is streamed: CSV is parsed as it is read, never held whole. An XLSX
// workbook can only be opened whole: it is held in memory (at most lim.MaxBytes, and
// twice that while excelize opens it) while its first worksheet is read row by row.
// Worksheets bigger than 16 MiB unpacked are inflated to a temporary file by
// excelize; on Cloud Run that is memory too, bounded by lim.MaxUnzippedBytes.
func Read(r io.Reader, format tabular.Format, kind Kind, lim Limits) (Records, error) {
	if !kind.Valid() {
		return Records{}, apperr.InvalidParameters(map[string]string{"kind": "must be counterparties, invoices or payments"})
	}
	if !format.Valid() {
		return Records{}, apperr.InvalidParameters(map[string]string{"format": "must be csv or xlsx"})
	}
	lim = lim.orDefaults()
	var h *header
	b := newBuilder(kind)
	b.out.Cells = map[int]map[string]string{}
	err := scanFile(r, format, lim, &b.src, func(number int, raw []string) error {
		if h == nil {
			var err error
			h, err = resolveHeader(kind, raw)
			return err
		}
		row := Row{Number: number, Cells: make(map[string]string, h.read)}
		b.out.Cells[number] = row.Cells
		extra := 0
		for i, v := range raw {
			if v == "" {
				continue
			}
			if i >= len(h.names) {
				extra++
				continue
			}
			if name := h.names[i]; name != "" {
				row.Cells[name] = v
			}
		}
		var errs []RowError
		if extra > 0 {
			errs = append(errs, RowError{Row: number, Code: CodeExtraCells, Reason: fmt.Sprintf(
				"the row has %d values to the right of the last column of the header; in CSV a cell holding an unquoted separator is split in two and shifts the cells after it",
				extra)})
		}
		b.add(row, errs)
		return nil
	})
	if err != nil {
		return Records{}, err
	}
	if h == nil {
		return Records{}, apperr.New(apperr.Unprocessable, CodeEmpty, "the file is empty: it has no header row")
	}
	if b.out.Rows == 0 {
		return Records{}, apperr.New(apperr.Unprocessable, CodeEmpty, "the file has a header row but no data rows")
	}
	out := b.finish()
	out.IgnoredColumns = h.ignored
	return out, nil
}

// source is what the reader learnt about the file that changes how cells are read.
type source struct {
	xlsx     bool
	date1904 bool // the workbook counts dates from 1904 (old Mac Excel)
}

// Scan reads a file's rows as they are, with the decoding and limits of Read, and
// hands each non-blank row to fn: first the header, then every data row. number is
// the row's number as a spreadsheet shows it (see Row); cells are trimmed, and are
// only valid during the call. An error from fn stops the scan and is returned as it
// is. Scan is for reading a stored file again, for instance to copy its failed rows
// into an errors file.
func Scan(r io.Reader, format tabular.Format, lim Limits, fn func(number int, cells []string) error) error {
	if !format.Valid() {
		return apperr.InvalidParameters(map[string]string{"format": "must be csv or xlsx"})
	}
	var src source
	return scanFile(r, format, lim.orDefaults(), &src, fn)
}

// scanFile dispatches on the format and enforces the row limit.
func scanFile(r io.Reader, format tabular.Format, lim Limits, src *source, fn func(int, []string) error) error {
	rows := -1 // the header is not a data row
	counted := func(number int, cells []string) error {
		if rows++; rows > lim.MaxRows {
			return tooManyRows(lim.MaxRows)
		}
		return fn(number, cells)
	}
	if format == tabular.XLSX {
		src.xlsx = true
		return scanXLSX(r, lim, src, counted)
	}
	return scanCSV(r, lim, counted)
}

// cleanCell is a cell's value as imported: surrounding white space (including the
// no-break spaces ERP exports pad with) trimmed, and a quote that an export put before
// formula-looking text removed.
//
// Exports (shared/tabular, and the OWASP advice it follows) write text starting with
// = + - @ TAB or CR behind a single quote so that spreadsheets do not evaluate it;
// reading "'=1+1" back as "=1+1" makes export and import inverse. Nothing read is
// ever evaluated: formula-looking text is stored as the text it is, and exports
// neutralise it again.
func cleanCell(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[0] == '\'' {
		switch s[1] {
		case '=', '+', '-', '@', '\t', '\r':
			return s[1:]
		}
	}
	return s
}
