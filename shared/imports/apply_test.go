package imports_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// fixture is one tenant's database and the import service over it.
type fixture struct {
	db     *dbtest.Database
	tenant uuid.UUID
	svc    *imports.Service
	actor  audit.Actor
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Imports")
	return &fixture{db: d, tenant: tenant, svc: &imports.Service{DB: d.App, Now: time.Now},
		actor: audit.Actor{TenantID: tenant, Type: "user", ID: "importer", RequestID: "req-import"}}
}

func ptr[T any](v T) *T { return &v }

// upload records an import of recs and returns it.
func (f *fixture) upload(t testing.TB, recs imports.Records, dryRun bool) imports.Import {
	t.Helper()
	imp, err := f.svc.Create(context.Background(), f.actor, imports.Upload{
		Kind: recs.Kind, DryRun: dryRun, FileName: "test.csv", Format: tabular.CSV, Size: 1,
		SHA256: sha256.Sum256([]byte(fmt.Sprint(recs.Rows))), Records: recs,
	})
	require.NoError(t, err)
	return imp
}

// run applies every chunk of imp, as the processor would, and returns the import.
func (f *fixture) run(t testing.TB, imp imports.Import) imports.Import {
	t.Helper()
	for seq := 1; seq <= imp.Progress.ChunksTotal; seq++ {
		_, err := f.svc.ApplyChunk(context.Background(), imports.ChunkMessage{TenantID: f.tenant, ImportID: imp.ID, Seq: seq}, "msg-test", "")
		require.NoError(t, err)
	}
	got, err := f.svc.Get(context.Background(), f.tenant, imp.ID)
	require.NoError(t, err)
	return got
}

// counterpartyRecords are n customers C-0001... with cells for each row.
func counterpartyRecords(n int) imports.Records {
	recs := imports.Records{Kind: imports.Counterparties, Rows: n, Cells: map[int]map[string]string{}}
	for i := 0; i < n; i++ {
		row := i + 2
		ext := fmt.Sprintf("C-%04d", i+1)
		recs.Counterparties = append(recs.Counterparties, imports.CounterpartyRecord{Rows: []int{row},
			Input: counterparties.CreateInput{Name: "Customer " + ext, Kind: counterparties.Customer, ExternalID: ptr(ext)}})
		recs.Cells[row] = map[string]string{"external_id": ext, "name": "Customer " + ext, "kind": "customer"}
	}
	return recs
}

// invoiceRecords are n invoices of lines lines each, to customers C-0001.. cycling
// over customers, issued when open.
func invoiceRecords(n, lines, customers int, open bool) imports.Records {
	recs := imports.Records{Kind: imports.Invoices, Cells: map[int]map[string]string{}}
	row := 2
	for i := 0; i < n; i++ {
		ext := fmt.Sprintf("INV-%06d", i+1)
		cp := fmt.Sprintf("C-%04d", i%customers+1)
		in := invoices.CreateInput{Direction: invoices.Receivable, Currency: "USD", IssueDate: civil.Date{Year: 2026, Month: 1, Day: 15},
			ExternalID: ptr(ext)}
		if open {
			in.Status = ptr(invoices.Open)
		}
		rec := imports.InvoiceRecord{CounterpartyExternalID: cp}
		for l := 0; l < lines; l++ {
			in.Lines = append(in.Lines, invoices.LineInput{Description: fmt.Sprintf("Service %d", l+1), Quantity: "3",
				UnitAmountMinor: ptr(int64(1500 + l)), TaxRate: ptr("20")})
			rec.Rows = append(rec.Rows, row)
			recs.Cells[row] = map[string]string{"external_id": ext, "direction": "receivable", "counterparty_external_id": cp,
				"currency": "USD", "issue_date": "2026-01-15", "description": fmt.Sprintf("Service %d", l+1), "quantity": "3",
				"unit_amount": fmt.Sprintf("%d.%02d", (1500+l)/100, (1500+l)%100), "tax_rate": "20"}
			row++
		}
		rec.Input = in
		recs.Invoices = append(recs.Invoices, rec)
	}
	recs.Rows = row - 2
	return recs
}

func TestImportCounterpartiesTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	recs := counterpartyRecords(1500)
	imp := f.run(t, f.upload(t, recs, false))
	require.Equal(t, imports.Completed, imp.Status)
	require.Equal(t, 2, imp.Progress.ChunksTotal)
	require.Equal(t, 1500, *imp.Counts.Created)
	require.Equal(t, 1500, imp.RowsSucceeded)

	again := f.run(t, f.upload(t, recs, false))
	require.Equal(t, imports.Completed, again.Status)
	require.Equal(t, 0, *again.Counts.Created)
	require.Equal(t, 0, *again.Counts.Updated)
	require.Equal(t, 1500, *again.Counts.Unchanged)
}

// actions lists the tenant's audit actions on entity type, in order.
func (f *fixture) actions(t testing.TB, entity string) []string {
	t.Helper()
	rows, err := f.db.Admin.Query(context.Background(),
		`SELECT action || ' v' || coalesce(after->>'version', '') FROM audit_events WHERE tenant_id = $1 AND entity_type = $2 ORDER BY seq`,
		f.tenant, entity)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestImportUpdatesCounterpartiesAndReplacesDrafts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.run(t, f.upload(t, counterpartyRecords(2), false))
	changed := counterpartyRecords(2)
	changed.Counterparties[1].Input.Name = "Renamed"
	imp := f.run(t, f.upload(t, changed, false))
	require.Equal(t, 1, *imp.Counts.Updated)
	require.Equal(t, 1, *imp.Counts.Unchanged)
	require.Equal(t, []string{"counterparty.created v1", "counterparty.created v1", "counterparty.updated v2"}, f.actions(t, "counterparty"))

	// A draft imported again with other lines is replaced, and issued when the file
	// says open; then it is unchanged, and a different version of it is refused.
	drafts := invoiceRecords(1, 2, 2, false)
	f.run(t, f.upload(t, drafts, false))
	issued := invoiceRecords(1, 3, 2, true)
	imp = f.run(t, f.upload(t, issued, false))
	require.Equal(t, imports.Completed, imp.Status)
	require.Equal(t, 1, *imp.Counts.Updated)
	require.Equal(t, []string{"invoice.created v1", "invoice.updated v2", "invoice.finalized v3"}, f.actions(t, "invoice"))
	var status, number string
	var lines int
	require.NoError(t, f.db.Admin.QueryRow(context.Background(), `SELECT status, number,
       (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id) FROM invoices i WHERE tenant_id = $1`, f.tenant).
		Scan(&status, &number, &lines))
	require.Equal(t, "open", status)
	require.Equal(t, "INV-000001", number)
	require.Equal(t, 3, lines)

	imp = f.run(t, f.upload(t, issued, false))
	require.Equal(t, 1, *imp.Counts.Unchanged)
	imp = f.run(t, f.upload(t, invoiceRecords(1, 1, 2, true), false))
	require.Equal(t, imports.Failed, imp.Status)
	require.Equal(t, 1, imp.RowsFailed)
	var failed []imports.FailedRow
	require.NoError(t, f.svc.FailedRows(context.Background(), f.tenant, imp.ID,
		func(imports.Kind, []string) error { return nil },
		func(r imports.FailedRow) error { failed = append(failed, r); return nil }))
	require.Len(t, failed, 1)
	require.Equal(t, "invoice_already_issued", failed[0].Errors[0].Code)
	require.Equal(t, "Service 1", failed[0].Cells["description"])
}

// A chunk of records that all fail still finishes its import, and the dry run of a
// file plans exactly what the real run then does.
func TestImportDryRunPlansTheRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.run(t, f.upload(t, counterpartyRecords(3), false))
	recs := invoiceRecords(5, 2, 3, true)
	recs.Invoices[4].CounterpartyExternalID = "C-404"
	dry := f.run(t, f.upload(t, recs, true))
	real := f.run(t, f.upload(t, recs, false))
	require.Equal(t, *dry.Counts.WouldCreate, *real.Counts.Created)
	require.Equal(t, 4, *real.Counts.Created)
	require.Equal(t, dry.RowsFailed, real.RowsFailed)
	require.Equal(t, dry.Status, real.Status)
	require.Equal(t, imports.CompletedWithErrors, real.Status)
}
