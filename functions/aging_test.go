package functions_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

type agingReport struct {
	Object      string `json:"object"`
	Direction   string `json:"direction"`
	AsOf        string `json:"as_of"`
	Basis       string `json:"basis"`
	BucketEdges []int  `json:"bucket_edges"`
	Lines       []struct {
		CounterpartyID   string  `json:"counterparty_id"`
		CounterpartyName string  `json:"counterparty_name"`
		Currency         string  `json:"currency"`
		CurrentMinor     int64   `json:"current_minor"`
		Buckets          []int64 `json:"buckets"`
		OlderMinor       int64   `json:"older_minor"`
		TotalMinor       int64   `json:"total_minor"`
		InvoiceCount     int64   `json:"invoice_count"`
	} `json:"lines"`
	Totals []struct {
		Currency   string `json:"currency"`
		TotalMinor int64  `json:"total_minor"`
	} `json:"totals"`
	TieOut []struct {
		Currency        string `json:"currency"`
		DifferenceMinor int64  `json:"difference_minor"`
		TiesOut         bool   `json:"ties_out"`
	} `json:"tie_out"`
}

func (f fixture) aging(t *testing.T, query string) agingReport {
	t.Helper()
	resp := f.s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/aging" + query, Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var r agingReport
	resp.JSON(t, &r)
	return r
}

func TestAgingReportOverHTTP(t *testing.T) {
	s := apitest.New(t)
	f := newFixture(t, s, "Aging")
	// Due 2026-11-15 (issued 11-01, 14 days' terms): 45000 open.
	f.openInvoice(t, nil)
	// Due 2026-09-30: 45000, 20000 paid on 10-20 and 5000 more effective 11-25.
	b := f.openInvoice(t, map[string]any{"issue_date": "2026-09-01", "due_date": "2026-09-30"})
	resp, _ := f.pay(t, map[string]any{"amount_minor": 25000, "value_date": "2026-10-20", "allocations": []map[string]any{
		alloc(b.ID, 20000), {"invoice_id": b.ID, "amount_minor": 5000, "effective_date": "2026-11-25"}}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	// A bill, in EUR: never mixed into the receivables or the USD totals.
	f.openInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor, "currency": "EUR"})

	r := f.aging(t, "?as_of=2026-11-20&buckets=30,60")
	require.Equal(t, "aging_report", r.Object)
	require.Equal(t, "receivable", r.Direction)
	require.Equal(t, "due_date", r.Basis)
	require.Equal(t, []int{30, 60}, r.BucketEdges)
	require.Len(t, r.Lines, 1)
	line := r.Lines[0]
	require.Equal(t, "Aging customer", line.CounterpartyName)
	require.Equal(t, int64(0), line.CurrentMinor)
	require.Equal(t, int64(45000), line.Buckets[0], "a: 5 days late")
	require.Equal(t, int64(25000), line.Buckets[1], "b: 51 days late, the 11-25 payment not yet in force")
	require.Equal(t, int64(70000), line.TotalMinor)
	require.Equal(t, int64(2), line.InvoiceCount)
	require.Len(t, r.TieOut, 1)
	require.True(t, r.TieOut[0].TiesOut)

	// As of 11-25 the second payment counts; as of 10-01 only b existed, all of it due.
	require.Equal(t, int64(65000), f.aging(t, "?as_of=2026-11-25").Lines[0].TotalMinor)
	early := f.aging(t, "?as_of=2026-10-01")
	require.Equal(t, int64(45000), early.Lines[0].TotalMinor)
	require.Equal(t, int64(45000), early.Lines[0].Buckets[0], "1 day late")

	bills := f.aging(t, "?direction=payable&as_of=2026-11-20")
	require.Len(t, bills.Lines, 1)
	require.Equal(t, "EUR", bills.Lines[0].Currency)
	require.Equal(t, []int{30, 60, 90}, bills.BucketEdges, "the default edges")

	// Another tenant sees none of it.
	other := newFixture(t, s, "Other")
	require.Empty(t, other.aging(t, "?as_of=2026-11-20").Lines)

	// Every role that reads the books may read reports.
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleAuditor, auth.RoleApprover, auth.RoleAgent} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/aging", Token: s.Token(t, f.tenant, role)})
		require.Equal(t, http.StatusOK, resp.Status, role)
	}
}

func TestAgingReportUsesTenantBuckets(t *testing.T) {
	s := apitest.New(t)
	f := newFixture(t, s, "Buckets")
	_, err := s.DB.Admin.Exec(t.Context(), `UPDATE tenants SET settings = '{"aging_buckets": [15, 45]}' WHERE id = $1`, f.tenant)
	require.NoError(t, err)
	f.openInvoice(t, nil)
	r := f.aging(t, "?as_of=2026-12-01")
	require.Equal(t, []int{15, 45}, r.BucketEdges)
	require.Zero(t, r.Lines[0].Buckets[0])
	require.Equal(t, int64(45000), r.Lines[0].Buckets[1], "16 days late: in 16–45")
}

func TestAgingReportValidation(t *testing.T) {
	s := apitest.New(t)
	f := newFixture(t, s, "Bad")
	for _, q := range []string{
		"?direction=sideways", "?as_of=2026-02-30", "?basis=posting_date", "?buckets=60,30", "?buckets=0",
		"?buckets=30,30", "?buckets=1,2,3,4,5,6,7,8,9,10,11,12,13", "?currency=usd", "?counterparty_id=x", "?format=pdf",
	} {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/aging" + q, Token: f.token})
		require.Equal(t, http.StatusBadRequest, resp.Status, q)
		require.Contains(t, []string{"invalid_parameter", "invalid_parameters"}, resp.Problem(t).Code, q)
	}
}

func TestAgingReportAsSpreadsheet(t *testing.T) {
	s := apitest.New(t)
	f := newFixture(t, s, "Sheet")
	_, err := s.DB.Admin.Exec(t.Context(), `UPDATE counterparties SET name = '=HYPERLINK("x")' WHERE id = $1`, f.customer)
	require.NoError(t, err)
	f.openInvoice(t, nil)

	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/aging?as_of=2026-11-20&format=csv&buckets=30", Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, `attachment; filename="aging-receivable-2026-11-20.csv"`, resp.Header.Get("Content-Disposition"))
	rows, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"counterparty_id", "counterparty_name", "currency", "current", "days_1_30", "days_31_plus", "total", "invoice_count"}, rows[0])
	require.Equal(t, []string{f.customer, `'=HYPERLINK("x")`, "USD", "0.00", "450.00", "0.00", "450.00", "1"}, rows[1])
	require.Equal(t, []string{"", "Total", "USD", "0.00", "450.00", "0.00", "450.00", "1"}, rows[2])

	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/reports/aging?as_of=2026-11-20&format=xlsx", Token: f.token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	x, err := excelize.OpenReader(bytes.NewReader(resp.Body))
	require.NoError(t, err)
	sheet := x.GetSheetName(0)
	total, err := x.GetCellValue(sheet, "I2", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Equal(t, "450", total, "amounts are numbers")
	typ, err := x.GetCellType(sheet, "I2")
	require.NoError(t, err)
	require.NotEqual(t, excelize.CellTypeSharedString, typ)
	require.NotEqual(t, excelize.CellTypeInlineString, typ)
}
