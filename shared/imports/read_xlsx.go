package imports

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// XLSX workbooks are read as follows.
//
// Which sheet: the first visible worksheet in tab order. Hidden sheets (lookup tables,
// settings) are passed over; a workbook with data on several sheets imports the first
// one only, so put each kind of data in its own file.
//
// Zip bombs and damage: a workbook whose parts declare more than
// Limits.MaxUnzippedBytes unpacked is refused from the archive's directory, before
// anything is inflated; every part is then checked against its declared size and its
// checksum (see checkArchive). Parts over 16 MiB unpacked are inflated by excelize to
// a temporary file rather than to memory.
//
// Memory: a zip archive is read from its end, so the file is held in memory, twice
// while excelize opens it (it takes its own copy), then once.
//
// Cells are read raw, as the workbook stores them, never as Excel would format them
// for a locale: numbers are plain decimals (so 1234.5 is never "1,234.50" or
// "1.234,50"), and dates are serial numbers, which date columns convert (respecting
// the workbook's 1904 date system). Text is what was typed. A cell holding a formula
// is read as its cached value, the result Excel computed when the file was last
// saved; formulas are never evaluated, and one that was never computed (as written by
// some libraries) reads as blank.
//
// Rows are numbered as the spreadsheet numbers them, gaps included.
//
// A worksheet whose XML is malformed within an intact archive ends where excelize's
// row iterator stops, which cannot be told from the end of the sheet; the archive's
// checksums make that a defect of the program that wrote the file, not damage.

// maxInMemoryPart is the size above which excelize inflates a worksheet to a temporary
// file instead of memory (its default).
const maxInMemoryPart = 16 << 20

func scanXLSX(r io.Reader, lim Limits, src *source, fn func(int, []string) error) error {
	in := newCapped(r, lim.MaxBytes)
	data, err := io.ReadAll(in)
	if err != nil {
		return readFailure(err, lim)
	}
	switch {
	case len(data) == 0:
		return apperr.New(apperr.Unprocessable, CodeEmpty, "the file is empty: it has no header row")
	case bytes.HasPrefix(data, oleMagic):
		return unreadable(nil, legacyExcel)
	case !bytes.HasPrefix(data, zipMagic):
		if looksLikeText(data[:min(len(data), 512)]) {
			return unreadable(nil, "the file is text, not an Excel workbook; upload it as CSV")
		}
		return unreadable(nil, "the file is not an Excel workbook (.xlsx)")
	}
	if err := checkArchive(data, lim); err != nil {
		return err
	}
	// excelize copies the file again; ours is garbage once it returns.
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    lim.MaxUnzippedBytes,
		UnzipXMLSizeLimit: min(maxInMemoryPart, lim.MaxUnzippedBytes),
	})
	data = nil
	if f != nil {
		defer func() { _ = f.Close() }() // removes the temporary files
	}
	if err != nil {
		return openFailure(err, lim)
	}
	sheet := ""
	for _, name := range f.GetSheetList() {
		if visible, err := f.GetSheetVisible(name); err == nil && visible {
			sheet = name
			break
		}
	}
	if sheet == "" {
		return apperr.New(apperr.Unprocessable, CodeEmpty, "the workbook has no visible worksheet")
	}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		src.date1904 = *props.Date1904
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return unreadable(err, fmt.Sprintf("worksheet %q cannot be read", sheet))
	}
	defer func() { _ = rows.Close() }()
	raw := excelize.Options{RawCellValue: true}
	cells := make([]string, 0, 32)
	for number := 1; rows.Next(); number++ {
		values, err := rows.Columns(raw)
		if err != nil {
			return unreadable(err, fmt.Sprintf("row %d of worksheet %q cannot be read", number, sheet))
		}
		cells = cells[:0]
		blank := true
		for _, v := range values {
			if strings.IndexByte(v, 0) >= 0 {
				return badEncoding(number, "holds NUL characters")
			}
			v = cleanCell(v)
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
	if err := rows.Error(); err != nil {
		return unreadable(err, fmt.Sprintf("worksheet %q cannot be read to its end", sheet))
	}
	return nil
}

// maxParts bounds the files in a workbook's archive; a workbook has a few dozen.
const maxParts = 10_000

// checkArchive refuses a zip bomb from the archive's directory, before anything is
// inflated, and then inflates every part once to check it against its declared size
// and checksum.
//
// excelize enforces the size limit too, but reads each part "as far as it goes": it
// ignores read errors, so a damaged part, or one that inflates to more than it
// declares, would be read cut short and rows would go missing without a word.
// Inflating to nowhere costs a fraction of what excelize then spends parsing.
func checkArchive(data []byte, lim Limits) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return unreadable(err, damagedWorkbook)
	}
	if len(zr.File) > maxParts {
		return unreadable(nil, fmt.Sprintf("the archive holds %d files, more than a workbook has", len(zr.File)))
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(lim.MaxUnzippedBytes) {
			return unreadable(nil, unzipTooLarge(lim))
		}
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			_ = rc.Close()
		}
		if err != nil {
			return unreadable(err, damagedWorkbook)
		}
	}
	return nil
}

const damagedWorkbook = "the file is not a readable Excel workbook (.xlsx); it may be damaged: open it in Excel and save it again"

func unzipTooLarge(lim Limits) string {
	return fmt.Sprintf("the workbook unpacks to more than %s, the most one import takes; split it into several files, or save it as CSV",
		sizeText(lim.MaxUnzippedBytes))
}

// openFailure explains why excelize could not open a workbook that checkArchive let
// through. excelize has no sentinel for its unzip limit, so its message is matched; a
// failure to match only makes the message less specific.
func openFailure(err error, lim Limits) error {
	switch {
	case strings.Contains(err.Error(), "unzip size"):
		return unreadable(err, unzipTooLarge(lim))
	case errors.Is(err, excelize.ErrWorkbookFileFormat), errors.Is(err, excelize.ErrWorkbookPassword):
		return unreadable(err, legacyExcel)
	}
	return unreadable(err, damagedWorkbook)
}
