// Package errors is the ImportsErrors function: GET /v1/imports/{id}/errors, the rows
// of an import that were not imported, as they were uploaded plus an error column:
// fixed, the file can be uploaded again as it is (imports ignore the error column).
// CSV (default) or XLSX through shared/tabular, or JSON with each error's row, column,
// code and reason.
package errors

import (
	"bufio"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

func init() { platform.HTTP("ImportsErrors", New) }

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &imports.Service{DB: d.DB, Now: d.Now}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := platform.PathID(r, "id", "import")
		if err != nil {
			return err
		}
		q := httpx.NewQuery(r)
		format := "csv"
		if f := httpx.Enum(q, "format", func(s string) bool { return s == "csv" || s == "xlsx" || s == "json" },
			"must be csv, xlsx or json"); f != nil {
			format = *f
		}
		if err := q.Err(); err != nil {
			return err
		}
		tenant := platform.Principal(r).TenantID
		if format == "json" {
			return writeJSON(w, r, svc, id)
		}
		var out *tabular.Writer
		var cols []string
		err = svc.FailedRows(r.Context(), tenant, id, func(_ imports.Kind, columns []string) error {
			cols = columns
			header := make([]tabular.Column, 0, len(cols)+1)
			for _, c := range cols {
				header = append(header, tabular.Column{Header: c, Kind: tabular.Text})
			}
			header = append(header, tabular.Column{Header: imports.ErrorColumn, Kind: tabular.Text})
			var err error
			out, err = tabular.NewWriter(w, tabular.Format(format), "import-"+id.String()+"-errors", header)
			return err
		}, func(row imports.FailedRow) error {
			cells := make([]tabular.Cell, 0, len(cols)+1)
			for _, c := range cols {
				if v, ok := row.Cells[c]; ok {
					cells = append(cells, tabular.TextCell(v))
				} else {
					cells = append(cells, tabular.BlankCell())
				}
			}
			return out.WriteRow(append(cells, tabular.TextCell(row.Describe()))...)
		})
		if err == nil {
			err = out.Close()
		}
		if err != nil {
			if out == nil {
				return err
			}
			// A problem response while nothing was sent; a broken transfer after.
			return out.Abort(r.Context(), err)
		}
		return nil
	})
}

// writeJSON streams the failed rows as a list: {"object":"list","data":[...]}.
func writeJSON(w http.ResponseWriter, r *http.Request, svc *imports.Service, id uuid.UUID) error {
	sw := &sentWriter{w: w}
	buf := bufio.NewWriterSize(sw, 32<<10)
	enc := json.NewEncoder(buf)
	n := 0
	err := svc.FailedRows(r.Context(), platform.Principal(r).TenantID, id, func(imports.Kind, []string) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, err := buf.WriteString(`{"object":"list","data":[`)
		return err
	}, func(row imports.FailedRow) error {
		if n > 0 {
			if err := buf.WriteByte(','); err != nil {
				return err
			}
		}
		n++
		return enc.Encode(row)
	})
	if err == nil {
		if _, err = buf.WriteString(`],"has_more":false}` + "\n"); err == nil {
			err = buf.Flush()
		}
	}
	if err != nil && sw.sent {
		// The response has started: break it, so the client never takes a partial
		// list for the whole.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Unix(1, 0))
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		w.Header().Del("Content-Type")
	}
	return err
}

type sentWriter struct {
	w    http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	s.sent = true
	return s.w.Write(p)
}
