package functions_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

var exportHeader = []string{"id", "number", "direction", "status", "counterparty_id", "counterparty_name", "currency",
	"issue_date", "due_date", "subtotal", "tax", "total", "amount_paid", "amount_credited", "amount_due", "external_id",
	"memo", "finalized_at", "voided_at", "created_at"}

// exportFile is a downloaded export as records, header row first.
type exportFile [][]string

// export downloads GET /v1/exports/invoices?query as the fixture's admin.
func (f fixture) export(t *testing.T, query string) apitest.Response {
	t.Helper()
	return f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/exports/invoices?" + query, Token: f.token})
}

func (f fixture) exportCSV(t *testing.T, query string) exportFile {
	t.Helper()
	resp := f.export(t, query)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	records, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, exportHeader, records[0])
	return records
}

// column is the value of the named column in row.
func (e exportFile) column(row int, name string) string {
	return e[row][slices.Index(exportHeader, name)]
}

func (e exportFile) ids() []string {
	var ids []string
	for _, r := range e[1:] {
		ids = append(ids, r[0])
	}
	return ids
}

func (f fixture) listIDs(t *testing.T, query string) []string {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices?limit=100&" + query, Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l invoiceList
	resp.JSON(t, &l)
	require.False(t, l.HasMore)
	var ids []string
	for _, inv := range l.Data {
		ids = append(ids, inv.ID)
	}
	return ids
}

func TestInvoicesExport(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Exporter")
	today := time.Now().UTC().Format(time.DateOnly)

	// A customer whose name is a formula, an invoice with a formula memo and a negative-
	// looking external id, partly paid; a draft in yen; a bill in dinars; a void one.
	evil := f.counterparty(t, map[string]any{"name": `=HYPERLINK("http://evil.example","Click")`, "kind": "customer"})
	paid := f.openInvoice(t, map[string]any{"memo": "=1+1", "external_id": "-42", "due_date": "2026-11-20"})
	resp, _ := f.pay(t, map[string]any{"amount_minor": 10000, "allocations": []any{alloc(paid.ID, 10000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	_, draft := f.create(t, f.invoiceBody(map[string]any{"counterparty_id": evil, "currency": "JPY", "due_date": "2026-12-31",
		"memo":  "line one\nline two, \"quoted\"",
		"lines": []map[string]any{{"description": "Item", "quantity": "1", "unit_amount_minor": 5000}}}))
	bill := f.openInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor, "currency": "KWD", "issue_date": "2026-10-01",
		"lines": []map[string]any{{"description": "Rent", "quantity": "1", "unit_amount_minor": 1234}}})
	void := f.openInvoice(t, map[string]any{"due_date": "2026-11-05"})
	require.Equal(t, http.StatusOK, f.call(t, "POST", "/v1/invoices/"+void.ID+"/void", map[string]any{"reason": "duplicate"}).Status)

	t.Run("CSV is the default, one row per invoice in list order", func(t *testing.T) {
		resp := f.export(t, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="invoices-`+today+`.csv"`, resp.Header.Get("Content-Disposition"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

		e := f.exportCSV(t, "")
		require.Len(t, e, 5)
		require.Equal(t, []string{void.ID, bill.ID, draft.ID, paid.ID}, e.ids(), "newest first, as the list")
		require.Equal(t, f.listIDs(t, ""), e.ids())
	})

	t.Run("CSV values: decimal money, ISO dates, RFC 3339 times, neutralised text", func(t *testing.T) {
		e := f.exportCSV(t, "format=csv")
		full := f.getInvoice(t, paid.ID)
		row := slices.Index(e.ids(), paid.ID) + 1
		require.Equal(t, []string{
			paid.ID, "INV-000001", "receivable", "open", f.customer, "Exporter customer", "USD", "2026-11-01", "2026-11-20",
			"450.00", "0.00", "450.00", "100.00", "0.00", "350.00", "'-42", "'=1+1",
			e.column(row, "finalized_at"), "", e.column(row, "created_at"),
		}, e[row])
		require.Equal(t, int64(35000), full.AmountDueMinor)
		finalized, err := time.Parse(time.RFC3339Nano, e.column(row, "finalized_at"))
		require.NoError(t, err)
		jsonFinalized, err := time.Parse(time.RFC3339Nano, *full.FinalizedAt)
		require.NoError(t, err)
		require.True(t, finalized.Equal(jsonFinalized))
		require.Equal(t, time.UTC, finalized.Location(), "timestamps are UTC")

		row = slices.Index(e.ids(), draft.ID) + 1
		require.Equal(t, "", e.column(row, "number"), "a draft has no number")
		require.Equal(t, "draft", e.column(row, "status"))
		require.Equal(t, `'=HYPERLINK("http://evil.example","Click")`, e.column(row, "counterparty_name"))
		require.Equal(t, "JPY", e.column(row, "currency"))
		require.Equal(t, "5000", e.column(row, "total"), "yen have no decimals")
		require.Equal(t, "line one\nline two, \"quoted\"", e.column(row, "memo"))
		require.Equal(t, "", e.column(row, "finalized_at"))

		row = slices.Index(e.ids(), bill.ID) + 1
		require.Equal(t, []string{"BILL-000001", "payable", "Exporter vendor", "KWD", "2026-10-01", "1.234", "1.234"},
			[]string{e.column(row, "number"), e.column(row, "direction"), e.column(row, "counterparty_name"), e.column(row, "currency"),
				e.column(row, "issue_date"), e.column(row, "total"), e.column(row, "amount_due")})

		row = slices.Index(e.ids(), void.ID) + 1
		require.Equal(t, "void", e.column(row, "status"))
		_, err = time.Parse(time.RFC3339Nano, e.column(row, "voided_at"))
		require.NoError(t, err)
	})

	t.Run("XLSX has typed cells", func(t *testing.T) {
		resp := f.export(t, "format=xlsx")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="invoices-`+today+`.xlsx"`, resp.Header.Get("Content-Disposition"))

		x, err := excelize.OpenReader(bytes.NewReader(resp.Body))
		require.NoError(t, err)
		defer x.Close()
		sheet := "invoices-" + today
		rows, err := x.GetRows(sheet)
		require.NoError(t, err)
		require.Len(t, rows, 5)
		require.Equal(t, exportHeader, rows[0])
		r := 0
		for i, row := range rows {
			if row[0] == paid.ID {
				r = i + 1 // 1-based sheet row
			}
		}
		require.NotZero(t, r)
		cell := func(name string) string {
			c, err := excelize.CoordinatesToCellName(slices.Index(exportHeader, name)+1, r)
			require.NoError(t, err)
			return c
		}
		for name, want := range map[string]float64{"total": 450, "amount_paid": 100, "amount_due": 350, "tax": 0} {
			typ, err := x.GetCellType(sheet, cell(name))
			require.NoError(t, err)
			require.Contains(t, []excelize.CellType{excelize.CellTypeUnset, excelize.CellTypeNumber}, typ, "%s is a number", name)
			raw, err := x.GetCellValue(sheet, cell(name), excelize.Options{RawCellValue: true})
			require.NoError(t, err)
			got, err := strconv.ParseFloat(raw, 64)
			require.NoError(t, err)
			require.Equal(t, want, got, name)
		}
		shown, err := x.GetCellValue(sheet, cell("total"))
		require.NoError(t, err)
		require.Equal(t, "450.00", shown, "formatted with the currency's two decimals")
		raw, err := x.GetCellValue(sheet, cell("due_date"), excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		serial, err := strconv.ParseFloat(raw, 64)
		require.NoError(t, err, "a date is a date cell, not text")
		due, err := excelize.ExcelDateToTime(serial, false)
		require.NoError(t, err)
		require.Equal(t, "2026-11-20", due.Format(time.DateOnly))
		shown, err = x.GetCellValue(sheet, cell("due_date"))
		require.NoError(t, err)
		require.Equal(t, "2026-11-20", shown)
		memo, err := x.GetCellValue(sheet, cell("memo"))
		require.NoError(t, err)
		require.Equal(t, "'=1+1", memo)
		typ, err := x.GetCellType(sheet, cell("memo"))
		require.NoError(t, err)
		require.Equal(t, excelize.CellTypeInlineString, typ)
	})

	t.Run("filters select what the list selects", func(t *testing.T) {
		for _, q := range []string{
			"direction=payable",
			"direction=receivable&status=open",
			"status=draft",
			"currency=KWD",
			"counterparty_id=" + evil,
			"due_before=2026-11-20&due_after=2026-11-06",
			"issued_from=2026-10-02",
			"issued_to=2026-10-31",
			"overdue=true",
			"overdue=false",
			"sort=due_date",
			"sort=due_date&direction=receivable",
		} {
			t.Run(q, func(t *testing.T) {
				require.Equal(t, f.listIDs(t, q), f.exportCSV(t, q).ids())
			})
		}
		require.Equal(t, []string{bill.ID}, f.exportCSV(t, "direction=payable&format=csv").ids())
		require.Equal(t, []string{void.ID, paid.ID, draft.ID}, f.exportCSV(t, "sort=due_date&direction=receivable").ids())
	})

	t.Run("another tenant's invoices never appear", func(t *testing.T) {
		other := newFixture(t, s, "Other")
		theirs := other.openInvoice(t, nil)
		require.Equal(t, []string{theirs.ID}, other.exportCSV(t, "").ids())
		require.NotContains(t, f.exportCSV(t, "").ids(), theirs.ID)
		require.Empty(t, f.exportCSV(t, "counterparty_id="+other.customer).ids(), "not even by naming their counterparty")
		require.Empty(t, other.exportCSV(t, "counterparty_id="+f.customer).ids())
	})

	t.Run("an empty selection is the header row", func(t *testing.T) {
		require.Len(t, f.exportCSV(t, "currency=CHF"), 1)
		resp := f.export(t, "currency=CHF&format=xlsx")
		require.Equal(t, http.StatusOK, resp.Status)
		x, err := excelize.OpenReader(bytes.NewReader(resp.Body))
		require.NoError(t, err)
		defer x.Close()
		rows, err := x.GetRows("invoices-" + today)
		require.NoError(t, err)
		require.Equal(t, [][]string{exportHeader}, rows)
	})

	t.Run("every reading role may export, nobody else", func(t *testing.T) {
		for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAuditor, auth.RoleAgent} {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/exports/invoices?format=xlsx", Token: s.Token(t, f.tenant, role)})
			require.Equal(t, http.StatusOK, resp.Status, "%s: %s", role, resp.Body)
		}
		wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/exports/invoices", Token: s.Token(t, f.tenant)}), http.StatusForbidden, "forbidden")
		wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/exports/invoices"}), http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("bad parameters are a 400 problem naming them", func(t *testing.T) {
		for q, field := range map[string]string{
			"format=pdf":             "format",
			"format=CSV":             "format",
			"format=":                "format",
			"due_before=yesterday":   "due_before",
			"status=paid-ish":        "status",
			"currency=usd":           "currency",
			"overdue=maybe":          "overdue",
			"sort=amount":            "sort",
			"counterparty_id=nobody": "counterparty_id",
		} {
			t.Run(q, func(t *testing.T) {
				resp := f.export(t, q)
				p := wantProblem(t, resp, http.StatusBadRequest, "invalid_parameter")
				require.Contains(t, p.Errors, field)
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				require.Empty(t, resp.Header.Get("Content-Disposition"), "a problem is not a download")
			})
		}
	})
}

// A failure after the download started must not leave the client with a file that
// looks complete: through the whole middleware chain and a real connection, behind a
// wrapper that recovers panics and writes an error as functions-framework-go does, the
// client sees the transfer break.
func TestInvoicesExportFailingMidStreamBreaksTheTransfer(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Big")
	ctx := context.Background()
	// Far more rows than the socket buffers between the database, the function and the
	// client hold, so the export is still reading when its connection is killed.
	_, err := s.DB.Admin.Exec(ctx, `INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency,
    issue_date, due_date, memo, subtotal_minor, tax_minor, total_minor, finalized_at)
SELECT gen_random_uuid(), $1, 'receivable', 'open', 'INV-' || lpad(i::text, 6, '0'), $2, 'USD',
       date '2026-01-01', date '2026-02-01', repeat('x', 200), i, 0, i, now()
  FROM generate_series(1, 60000) AS i`, f.tenant, f.customer)
	require.NoError(t, err)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "A panic occurred during user function execution\n")
			}
		}()
		s.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/exports/invoices", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the first block went out")
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))

	_, err = s.DB.Admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%FROM invoices WHERE%'`)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the client sees a broken transfer, not a complete file")
	require.NotContains(t, string(body), "panic occurred")
	records, _ := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.Less(t, len(records), 60001)
}
