package tabular

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// A worksheet ends at row 1,048,576; one row more is a problem response, which is
// still possible because nothing of an XLSX file is sent before Close.
func TestXLSXTooManyRowsIsAProblem(t *testing.T) {
	rec := httptest.NewRecorder()
	w, err := NewWriter(rec, XLSX, "big", []Column{{Header: "n", Kind: Integer}})
	require.NoError(t, err)
	w.enc.(*xlsxEncoder).rows = maxRows - 1 // as if the rows in between had been written
	require.NoError(t, w.WriteRow(IntCell(1)), "the last row of a sheet")
	err = w.WriteRow(IntCell(2))
	require.Equal(t, apperr.Unprocessable, apperr.KindOf(err))
	require.Equal(t, "export_too_large", apperr.From(err).Code)
	require.False(t, w.Sent())
	require.Same(t, err, w.Abort(context.Background(), err))

	// The same sheet without the extra row is a valid file ending at the last row.
	rec = httptest.NewRecorder()
	w, err = NewWriter(rec, XLSX, "big", []Column{{Header: "n", Kind: Integer}})
	require.NoError(t, err)
	w.enc.(*xlsxEncoder).rows = maxRows - 1
	require.NoError(t, w.WriteRow(IntCell(1)))
	require.NoError(t, w.Close())
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	v, err := f.GetCellValue("big", "A1048576")
	require.NoError(t, err)
	require.Equal(t, "1", v)
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Text: "text", Amount: "amount", Date: "date", Integer: "integer", Timestamp: "timestamp", Kind(42): "kind(42)"} {
		require.Equal(t, want, k.String())
	}
}

// hijackable is a response whose connection can be taken over but which has no write
// deadlines, and whose writes fail once the client has gone.
type hijackable struct {
	*httptest.ResponseRecorder
	conn net.Conn
	gone bool
}

func (h *hijackable) Write(p []byte) (int, error) {
	if h.gone {
		return 0, errors.New("write: broken pipe")
	}
	return h.ResponseRecorder.Write(p)
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, nil, nil }

func TestAbortClosesTheConnectionWhereThereAreNoDeadlines(t *testing.T) {
	server, client := net.Pipe()
	rw := &hijackable{ResponseRecorder: httptest.NewRecorder(), conn: server}
	cols := []Column{{Header: "a column with a header longer than its kind's width", Kind: Text}}
	w, err := NewWriter(rw, CSV, "x", cols)
	require.NoError(t, err)
	require.Equal(t, float64(len(cols[0].Header)+2), columnWidth(cols[0]))
	rw.gone = true
	var werr error
	for werr == nil {
		werr = w.WriteRow(TextCell("row"))
	}
	require.ErrorContains(t, werr, "broken pipe")
	require.True(t, w.Sent(), "the status line went out before the write failed")
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { _ = w.Abort(context.Background(), werr) })
	_, err = client.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the connection was closed")
}
