package invoices

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// exportFixture is a tenant with n open invoices of one customer, inserted in one
// statement: enough rows to span many list pages.
func exportFixture(t *testing.T, n int) (*dbtest.Database, uuid.UUID, *Service) {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Export")
	ctx := context.Background()
	cp := uuid.Must(uuid.NewV7())
	_, err := d.Admin.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, 'Acme', 'customer')`, cp, tenant)
	require.NoError(t, err)
	_, err = d.Admin.Exec(ctx, `INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency,
    issue_date, due_date, subtotal_minor, tax_minor, total_minor, finalized_at)
SELECT gen_random_uuid(), $1, 'receivable', 'open', 'INV-' || lpad(i::text, 6, '0'), $2, 'USD',
       date '2026-01-01', date '2026-01-01' + (i % 90), i, 0, i, now()
  FROM generate_series(1, $3::int) AS i`, tenant, cp, n)
	require.NoError(t, err)
	svc := &Service{DB: d.App, Now: func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }}
	return d, tenant, svc
}

func TestExportDeliversEverySelectedInvoiceInListOrder(t *testing.T) {
	t.Parallel()
	_, tenant, svc := exportFixture(t, 1000)
	ctx := context.Background()
	for _, f := range []ListFilter{
		{Sort: SortCreated},
		{Sort: SortDueDate},
		{Sort: SortDueDate, DueBefore: &civil.Date{Year: 2026, Month: 1, Day: 31}, Overdue: ptr(true)},
	} {
		var exported []uuid.UUID
		var names []string
		require.NoError(t, svc.Export(ctx, tenant, f, func(r ExportRow) error {
			names = append(names, r.CounterpartyName)
			exported = append(exported, r.ID)
			return nil
		}))
		require.Equal(t, []string{"Acme"}, slices.Compact(names))

		var listed []uuid.UUID
		p := page.Params{Limit: 100}
		for {
			l, err := svc.List(ctx, tenant, f, p)
			require.NoError(t, err)
			for _, s := range l.Data {
				listed = append(listed, s.ID)
			}
			if !l.HasMore {
				break
			}
			p.StartingAfter = &l.Data[len(l.Data)-1].ID
		}
		require.Greater(t, len(listed), 100, "more than one page")
		require.Equal(t, listed, exported, "%+v", f)
	}
}

func TestExportIsOneSnapshot(t *testing.T) {
	t.Parallel()
	d, tenant, svc := exportFixture(t, 300)
	ctx := context.Background()
	n, changed := 0, 0
	// The callback reports failures as errors, not with require: FailNow inside the
	// transaction would leave it open.
	require.NoError(t, svc.Export(ctx, tenant, ListFilter{}, func(r ExportRow) error {
		if n == 0 {
			// Changes that commit while the export runs belong to the next export.
			if _, err := d.Admin.Exec(ctx, `UPDATE invoices SET memo = 'changed' WHERE tenant_id = $1`, tenant); err != nil {
				return err
			}
			if _, err := d.Admin.Exec(ctx, `DELETE FROM invoices WHERE tenant_id = $1
   AND id = (SELECT id FROM invoices WHERE tenant_id = $1 ORDER BY id LIMIT 1)`, tenant); err != nil {
				return err
			}
		}
		if r.Memo != nil {
			changed++
		}
		n++
		return nil
	}))
	require.Equal(t, 300, n)
	require.Zero(t, changed)

	n = 0
	require.NoError(t, svc.Export(ctx, tenant, ListFilter{}, func(r ExportRow) error { n++; return nil }))
	require.Equal(t, 299, n, "the next export sees them")
}

func TestExportTransactionIsReadOnly(t *testing.T) {
	t.Parallel()
	d, tenant, svc := exportFixture(t, 3)
	ctx := context.Background()
	err := d.App.InTenantTxIso(ctx, tenant, db.RepeatableRead, func(tx pgx.Tx) error {
		if err := exportRows(ctx, tx, tenant, ListFilter{}, civil.DateOf(svc.Now()), func(ExportRow) error { return nil }); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE invoices SET memo = 'x' WHERE tenant_id = $1`, tenant)
		return err
	})
	require.ErrorContains(t, err, "read-only transaction")
}

func TestExportStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	d, tenant, svc := exportFixture(t, 5000)
	ctx := context.Background()
	boom := errors.New("client went away")
	n := 0
	err := svc.Export(ctx, tenant, ListFilter{}, func(ExportRow) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 10, n)

	// The pool is still good for the next request.
	n = 0
	require.NoError(t, svc.Export(ctx, tenant, ListFilter{Status: ptr(Open)}, func(ExportRow) error { n++; return nil }))
	require.Equal(t, 5000, n)
	var count int
	require.NoError(t, d.Admin.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE tenant_id = $1`, tenant).Scan(&count))
	require.Equal(t, 5000, count)
}

func TestExportSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	d, tenant, svc := exportFixture(t, 3)
	other := d.NewTenant(t, "Other")
	n := 0
	require.NoError(t, svc.Export(context.Background(), other, ListFilter{}, func(ExportRow) error { n++; return nil }))
	require.Zero(t, n)
	require.NoError(t, svc.Export(context.Background(), tenant, ListFilter{}, func(ExportRow) error { n++; return nil }))
	require.Equal(t, 3, n)
}

func TestExportCells(t *testing.T) {
	number, memo := "INV-000007", "=SUM(A1)"
	finalized := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := ExportRow{Summary: Summary{
		ID: uuid.Must(uuid.NewV7()), Direction: Receivable, Status: Open, Number: &number, CounterpartyID: uuid.Must(uuid.NewV7()),
		Currency: "KWD", IssueDate: civil.Date{Year: 2026, Month: 1, Day: 1}, DueDate: civil.Date{Year: 2026, Month: 1, Day: 31},
		Memo: &memo, SubtotalMinor: 1000, TaxMinor: 50, TotalMinor: 1050, AmountDueMinor: 1050, FinalizedAt: &finalized,
		CreatedAt: finalized,
	}, CounterpartyName: "Acme"}
	// The cells fit the columns: the writer refuses a row whose kinds do not.
	for _, f := range []tabular.Format{tabular.CSV, tabular.XLSX} {
		w, err := tabular.NewWriter(discardResponse{}, f, "x", ExportColumns)
		require.NoError(t, err)
		require.NoError(t, w.WriteRow(ExportCells(r)...))
		r.Number, r.Memo, r.FinalizedAt = nil, nil, nil
		require.NoError(t, w.WriteRow(ExportCells(r)...), "nulls are blank cells")
		require.NoError(t, w.Abort(context.Background(), nil))
	}
}

type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) WriteHeader(int)             {}
func (discardResponse) Write(p []byte) (int, error) { return len(p), nil }
