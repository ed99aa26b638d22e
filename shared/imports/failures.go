package imports

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// FailedRow is a row of an import that was not imported: the cells it was uploaded
// with and every reason it failed.
type FailedRow struct {
	Row    int               `json:"row"`
	Cells  map[string]string `json:"cells"`
	Errors []RowError        `json:"errors"`
}

// Describe is the row's errors as one text, for the error column of the errors file:
// "row 7, quantity: must be greater than zero; row 7, tax_rate: ...".
func (f FailedRow) Describe() string {
	parts := make([]string, len(f.Errors))
	for i, e := range f.Errors {
		where := fmt.Sprintf("row %d", f.Row)
		if e.Column != "" {
			where += ", " + e.Column
		}
		parts[i] = where + ": " + e.Reason
	}
	return strings.Join(parts, "; ")
}

// ErrorColumn is the column the errors file adds after the row's own cells. Imports
// ignore columns they do not know, so a fixed errors file can be uploaded as it is.
const ErrorColumn = "error"

// FailedRows hands an import's failed rows, in row order, to row, after calling start
// with the import's kind and the columns those rows have cells in, in the kind's
// documented order: what an errors file needs to be uploaded again once fixed. The
// rows come off the database as they are read, so memory does not grow with them.
func (s *Service) FailedRows(ctx context.Context, tenantID, id uuid.UUID, start func(kind Kind, columns []string) error,
	row func(FailedRow) error) error {
	return s.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		var imp Import
		var found bool
		present := map[string]bool{}
		b := &pgx.Batch{}
		b.Queue(`SET TRANSACTION READ ONLY`)
		queueGet(b, tenantID, id, &imp, &found)
		queueErrorColumns(b, tenantID, id, present)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("import")
		}
		var cols []string
		for _, c := range Columns(imp.Kind) {
			if present[c.Name] {
				cols = append(cols, c.Name)
				delete(present, c.Name)
			}
		}
		if len(cols) == 0 {
			// No failed rows: the file still has the kind's header, to fill in.
			for _, c := range Columns(imp.Kind) {
				cols = append(cols, c.Name)
			}
		}
		if err := start(imp.Kind, cols); err != nil {
			return err
		}
		// Stopping early must not drain the rest of a large result off the connection.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		rows, err := tx.Query(ctx, errorsSQL, tenantID, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		var cur *FailedRow
		for rows.Next() {
			var n int
			var column *string
			var code, reason string
			var cells []byte
			if err := rows.Scan(&n, &column, &code, &reason, &cells); err != nil {
				return err
			}
			if cur != nil && cur.Row != n {
				if err := row(*cur); err != nil {
					cancel()
					return err
				}
				cur = nil
			}
			if cur == nil {
				cur = &FailedRow{Row: n}
				if err := json.Unmarshal(cells, &cur.Cells); err != nil {
					return err
				}
			}
			e := RowError{Row: n, Code: code, Reason: reason}
			if column != nil {
				e.Column = *column
			}
			cur.Errors = append(cur.Errors, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if cur != nil {
			return row(*cur)
		}
		return nil
	})
}
