package imports_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/imports"
)

// BenchmarkApplyInvoices applies 10,000 invoices of three lines each (issued, so
// numbered) through the processor's apply path, chunk by chunk as the processor does,
// on the test database, and reports invoices per second. The upload (reading is not
// part of it: the records are built here) is timed separately as upload-invoices/s.
// Each iteration imports into a fresh tenant, so every invoice is created.
//
//	go test ./shared/imports/ -run '^$' -bench ApplyInvoices -benchtime 1x
func BenchmarkApplyInvoices(b *testing.B) {
	const n = 10_000
	f := newFixture(b)
	ctx := context.Background()
	var applying, uploading time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f.tenant = f.db.NewTenant(b, "Bench")
		f.actor.TenantID = f.tenant
		f.run(b, f.upload(b, counterpartyRecords(100), false))
		recs := invoiceRecords(n, 3, 100, true)
		start := time.Now()
		imp := f.upload(b, recs, false)
		uploading += time.Since(start)
		b.StartTimer()
		start = time.Now()
		for seq := 1; seq <= imp.Progress.ChunksTotal; seq++ {
			if _, err := f.svc.ApplyChunk(ctx, imports.ChunkMessage{TenantID: f.tenant, ImportID: imp.ID, Seq: seq}, "msg-bench", ""); err != nil {
				b.Fatal(err)
			}
		}
		applying += time.Since(start)
		b.StopTimer()
		got, err := f.svc.Get(ctx, f.tenant, imp.ID)
		require.NoError(b, err)
		require.Equal(b, imports.Completed, got.Status)
		require.Equal(b, n, *got.Counts.Created)
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/applying.Seconds(), "invoices/s")
	b.ReportMetric(float64(n*b.N)/uploading.Seconds(), "upload-invoices/s")
}

// BenchmarkCopyInvoices is the yardstick: PostgreSQL's COPY of the same rows
// (10,000 invoices and their 30,000 lines) into the same tables, with their indexes,
// constraints and RLS, as the superuser. It writes neither audit nor outbox rows.
func BenchmarkCopyInvoices(b *testing.B) {
	const n = 10_000
	f := newFixture(b)
	ctx := context.Background()
	var copying time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tenant := f.db.NewTenant(b, "Copy")
		cp := uuid.Must(uuid.NewV7())
		_, err := f.db.Admin.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, 'C', 'customer')`, cp, tenant)
		require.NoError(b, err)
		invRows := make([][]any, n)
		lineRows := make([][]any, 0, 3*n)
		now := time.Now().UTC()
		issue := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
		for k := 0; k < n; k++ {
			id := uuid.Must(uuid.NewV7())
			num := fmt.Sprintf("INV-%06d", k+1)
			invRows[k] = []any{id, tenant, "receivable", "open", num, cp, "USD", issue, issue.AddDate(0, 0, 30),
				fmt.Sprintf("EXT-%06d", k+1), int64(13509), int64(2702), int64(16211), now, now, now}
			for l := 0; l < 3; l++ {
				lineRows = append(lineRows, []any{uuid.Must(uuid.NewV7()), tenant, id, int32(l + 1), "Service", "3",
					int64(1500 + l), "20", int64(4500 + 3*l), int64(900)})
			}
		}
		b.StartTimer()
		start := time.Now()
		_, err = f.db.Admin.CopyFrom(ctx, pgx.Identifier{"invoices"}, []string{"id", "tenant_id", "direction", "status", "number",
			"counterparty_id", "currency", "issue_date", "due_date", "external_id", "subtotal_minor", "tax_minor", "total_minor",
			"created_at", "updated_at", "finalized_at"}, pgx.CopyFromRows(invRows))
		require.NoError(b, err)
		_, err = f.db.Admin.CopyFrom(ctx, pgx.Identifier{"invoice_lines"}, []string{"id", "tenant_id", "invoice_id", "position",
			"description", "quantity", "unit_amount_minor", "tax_rate", "amount_minor", "tax_minor"}, pgx.CopyFromRows(lineRows))
		require.NoError(b, err)
		copying += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/copying.Seconds(), "invoices/s")
}
