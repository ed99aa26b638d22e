package imports

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// CSV files are read as follows.
//
// Encoding: UTF-8, with or without a byte order mark (Excel's "CSV UTF-8" writes one),
// or UTF-16 with a byte order mark (Excel's "Unicode Text", tab separated), which is
// converted to UTF-8 as it is read. Anything else, typically Windows-1252 from an
// older "CSV (Comma delimited)", is refused with the first row that is not UTF-8: guessing
// a legacy code page would put wrong letters into names without anyone noticing. So
// is text with NUL characters, which PostgreSQL cannot store and which is what UTF-16
// without a byte order mark looks like.
//
// Separator: the one of , ; TAB | that occurs most often outside quotes in the header
// row (the first non-blank line), ties going to the earlier in that list; a header
// with none of them is a single column, separated by commas. A first line "sep=;" (which Excel
// writes and reads) names the separator and is not a row.
//
// Records: RFC 4180 as encoding/csv reads it: cells with the separator, quotes or line
// breaks enclosed in double quotes, quotes inside doubled. Line ends may be CRLF, LF,
// or CR alone (old Mac exports). A quote where RFC 4180 allows none refuses the whole
// file: after it, where one row ends and the next begins is a guess, and a guessed row
// boundary could import an invoice without one of its lines.
//
// Rows are numbered as a spreadsheet shows the file: a record with line breaks inside
// quotes is one row, and a blank line is a row (which is skipped).

const csvBuffer = 64 << 10

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

const legacyExcel = "the file is a legacy Excel workbook (.xls) or a password-protected one; save it as an Excel Workbook (.xlsx) without a password, or as CSV UTF-8"

func scanCSV(r io.Reader, lim Limits, fn func(int, []string) error) error {
	in := newCapped(r, lim.MaxBytes)
	br := bufio.NewReaderSize(in, csvBuffer)
	head, err := br.Peek(8)
	if err != nil && !errors.Is(err, io.EOF) {
		return readFailure(err, lim)
	}
	switch {
	case bytes.HasPrefix(head, zipMagic):
		return unreadable(nil, "the file is a zip archive, such as an Excel workbook, not CSV text; upload it as XLSX")
	case bytes.HasPrefix(head, oleMagic):
		return unreadable(nil, legacyExcel)
	}
	text := br
	switch {
	case bytes.HasPrefix(head, utf8BOM):
		_, _ = br.Discard(len(utf8BOM))
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		_, _ = br.Discard(2)
		text = bufio.NewReaderSize(&utf16Reader{r: br, little: true}, csvBuffer)
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		_, _ = br.Discard(2)
		text = bufio.NewReaderSize(&utf16Reader{r: br}, csvBuffer)
	}
	sniff, err := text.Peek(csvBuffer)
	if err != nil && !errors.Is(err, io.EOF) {
		return readFailure(err, lim)
	}
	delim, skip := sniffSeparator(sniff)
	crOnly := hasBareCR(sniff[skip:])
	_, _ = text.Discard(skip)
	var src io.Reader = text
	if crOnly {
		src = &crReader{r: text}
	}

	cr := csv.NewReader(src)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	// Leading spaces before an opening quote (a, "b") are common in hand-made files;
	// with TAB as the separator, trimming would swallow empty cells.
	cr.TrimLeadingSpace = delim != '\t'

	number, endLine := 0, 0 // the last record's row number and the line it ended on
	cells := make([]string, 0, 32)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if in.n > in.max {
				return tooLarge(lim.MaxBytes)
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)) {
				row := number + pe.StartLine - endLine
				return apperr.Wrap(err, apperr.Unprocessable, CodeUnreadable, fmt.Sprintf(
					"row %d (line %d of the file) has a double quote where CSV allows none: a cell holding a quote, a separator or a line break must be enclosed in double quotes, with each quote inside doubled (\"12\"\" pipe\"), as spreadsheets save CSV. After it the rows cannot be told apart reliably, so the file was not read",
					row, pe.Line))
			}
			return readFailure(err, lim)
		}
		start, _ := cr.FieldPos(0)
		number += start - endLine
		last := len(rec) - 1
		lastLine, _ := cr.FieldPos(last)
		endLine = lastLine + strings.Count(rec[last], "\n")

		cells = cells[:0]
		blank := true
		for _, f := range rec {
			if !utf8.ValidString(f) {
				return badEncoding(number, "is not UTF-8 text: the file is probably in a legacy encoding such as Windows-1252")
			}
			if strings.IndexByte(f, 0) >= 0 {
				return badEncoding(number, "holds NUL characters: the file is probably UTF-16 text without a byte order mark")
			}
			v := cleanCell(f)
			if v != "" {
				blank = false
			}
			cells = append(cells, v)
		}
		if blank {
			continue
		}
		if err := fn(number, cells); err != nil {
			return err
		}
	}
}

var separators = []rune{',', ';', '\t', '|'}

// sniffSeparator picks the separator from the first non-blank line of b (see above)
// and says how many bytes of b a "sep=" line takes.
func sniffSeparator(b []byte) (sep rune, skip int) {
	if len(b) >= 5 && bytes.EqualFold(b[:4], []byte("sep=")) {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		if v := bytes.TrimRight(line[4:], "\r"); len(v) == 1 && strings.ContainsRune(",;\t|", rune(v[0])) {
			return rune(v[0]), min(len(line)+1, len(b))
		}
	}
	var counts [4]int
	inQuotes, content := false, false
	for _, c := range b {
		if c == '"' {
			inQuotes, content = !inQuotes, true
			continue
		}
		if inQuotes {
			continue
		}
		switch c {
		case '\n', '\r':
			if content {
				goto pick
			}
			counts = [4]int{} // a blank line before the header
		case ',':
			counts[0]++
		case ';':
			counts[1]++
		case '\t':
			counts[2]++
		case '|':
			counts[3]++
		case ' ':
		default:
			content = true
		}
	}
pick:
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return separators[best], 0
}

// hasBareCR reports whether b has a CR not followed by LF (a CR at the very end may
// be the first half of a CRLF and does not count).
func hasBareCR(b []byte) bool {
	for i := 0; i < len(b)-1; i++ {
		if b[i] == '\r' && b[i+1] != '\n' {
			return true
		}
	}
	return false
}

// crReader turns CR line ends into LF (and CRLF into LF), for files from old Mac
// software, which encoding/csv would read as one endless line.
type crReader struct {
	r      io.Reader
	lastCR bool
}

func (c *crReader) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		w := 0
		for _, b := range p[:n] {
			switch {
			case b == '\r':
				p[w] = '\n'
				w++
				c.lastCR = true
			case b == '\n' && c.lastCR:
				c.lastCR = false
			default:
				p[w] = b
				w++
				c.lastCR = false
			}
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// utf16Reader decodes UTF-16 (after its byte order mark) to UTF-8 as it is read. A
// unit that is not valid UTF-16 (an unpaired surrogate, an odd last byte) becomes the
// byte 0xFF, which is never valid UTF-8, so that the row holding it is refused by the
// UTF-8 check with its row number, as any other encoding error.
type utf16Reader struct {
	r      io.Reader
	little bool
	in     [8 << 10]byte
	inN    int
	out    []byte
	buf    []byte
	err    error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		n, err := u.r.Read(u.in[u.inN:])
		u.inN += n
		if err != nil {
			u.err = err
		}
		u.decode(err != nil)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

func (u *utf16Reader) unit(i int) uint16 {
	if u.little {
		return uint16(u.in[i]) | uint16(u.in[i+1])<<8
	}
	return uint16(u.in[i])<<8 | uint16(u.in[i+1])
}

// decode converts the complete units of u.in to u.out, keeping an incomplete unit or
// surrogate pair for the next read unless final.
func (u *utf16Reader) decode(final bool) {
	buf := u.buf[:0]
	i := 0
	for ; i+1 < u.inN; i += 2 {
		c := u.unit(i)
		switch {
		case utf16.IsSurrogate(rune(c)) && c < 0xDC00: // a high surrogate
			if i+3 >= u.inN {
				if !final {
					goto keep
				}
				buf = append(buf, 0xFF)
				continue
			}
			lo := u.unit(i + 2)
			if r := utf16.DecodeRune(rune(c), rune(lo)); r != utf8.RuneError {
				buf = utf8.AppendRune(buf, r)
				i += 2
			} else {
				buf = append(buf, 0xFF)
			}
		case utf16.IsSurrogate(rune(c)): // a low surrogate alone
			buf = append(buf, 0xFF)
		default:
			buf = utf8.AppendRune(buf, rune(c))
		}
	}
keep:
	if final && i < u.inN {
		buf = append(buf, 0xFF) // an odd byte at the end
		i = u.inN
	}
	u.inN = copy(u.in[:], u.in[i:u.inN])
	u.buf = buf
	u.out = buf
}
