package functions_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/platform"
)

type rawSink struct {
	mu   sync.Mutex
	msgs []events.RawMessage
}

func (r *rawSink) PublishRaw(_ context.Context, topic string, m events.RawMessage) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if topic != "ledgerline-tenant-close" {
		return "", nil
	}
	r.msgs = append(r.msgs, m)
	return uuid.NewString(), nil
}

func TestDailyCloseMarksOverdueAndProposesDunning(t *testing.T) {
	t.Parallel()
	sink := &rawSink{}
	s := apitest.New(t, func(d *platform.Deps) { d.RawPublisher = sink })
	f := newFixture(t, s, "Closer")
	late := f.openInvoice(t, map[string]any{"issue_date": "2026-09-01", "due_date": "2026-09-15"})
	recent := f.openInvoice(t, map[string]any{"issue_date": "2026-11-01", "due_date": "2026-11-18"})
	notDue := f.openInvoice(t, map[string]any{"issue_date": "2026-11-01", "due_date": "2026-12-31"})
	bill := f.openInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor, "issue_date": "2026-09-01", "due_date": "2026-09-15"})
	quiet := newFixture(t, s, "Quiet") // a tenant with nothing overdue

	tick := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	require.NoError(t, s.Deliver(t, "DailyClose", platform.Message{PublishTime: tick}))
	require.GreaterOrEqual(t, len(sink.msgs), 2, "one close per tenant")
	var forUs platform.Message
	for _, m := range sink.msgs {
		if m.Attributes["tenant_id"] == f.tenant.String() {
			forUs = platform.Message{Data: m.Data, Attributes: m.Attributes}
		}
		require.Equal(t, "2026-11-01", m.Attributes["close_date"])
	}
	require.NotNil(t, forUs.Data)
	for i := 0; i < 2; i++ { // a redelivered close changes nothing
		require.NoError(t, s.Deliver(t, "TenantClose", forUs))
	}

	ctx := context.Background()
	overdueSince := func(id string) *time.Time {
		var d *time.Time
		require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT overdue_since FROM invoices WHERE id = $1`, id).Scan(&d))
		return d
	}
	require.NotNil(t, overdueSince(late.ID))
	require.NotNil(t, overdueSince(bill.ID), "bills become overdue too")
	require.Nil(t, overdueSince(recent.ID), "due 2026-11-18 is not overdue on 2026-11-01")
	require.Nil(t, overdueSince(notDue.ID))

	var stage, days int
	var invoiceIDs []string
	var amounts []byte
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT stage, days_overdue, invoice_ids::text[], amounts_due
  FROM dunning_proposals WHERE tenant_id = $1`, f.tenant).Scan(&stage, &days, &invoiceIDs, &amounts))
	require.Equal(t, 47, days)
	require.Equal(t, 3, stage, "past 7, 14 and 30 days")
	require.Equal(t, []string{late.ID}, invoiceIDs, "only receivables are dunned")
	require.JSONEq(t, `[{"currency":"USD","amount_due_minor":45000}]`, string(amounts))

	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, s.DB.Admin.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	require.Equal(t, 2, count(`SELECT count(*) FROM outbox_events WHERE tenant_id = $1 AND event_type = 'invoice.overdue'`, f.tenant))
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'dunning_proposal.created'`, f.tenant))
	require.Zero(t, count(`SELECT count(*) FROM dunning_proposals WHERE tenant_id = $1`, quiet.tenant))

	// The aging snapshot of the close date: 45000 due 47 days ago, 90000 not yet due.
	var current, total int64
	var invoices int
	var buckets []byte
	require.NoError(t, s.DB.Admin.QueryRow(ctx, `SELECT current_minor, buckets, total_minor, invoice_count FROM aging_snapshots
 WHERE tenant_id = $1 AND close_date = '2026-11-01' AND direction = 'receivable' AND currency = 'USD'`, f.tenant).
		Scan(&current, &buckets, &total, &invoices))
	require.Equal(t, int64(90000), current)
	require.Equal(t, int64(135000), total)
	require.Equal(t, 3, invoices)
	require.JSONEq(t, `[{"from_days":1,"to_days":30,"amount_minor":0},{"from_days":31,"to_days":60,"amount_minor":45000},
		{"from_days":61,"to_days":90,"amount_minor":0},{"from_days":91,"to_days":null,"amount_minor":0}]`, string(buckets))
	require.Equal(t, 1, count(`SELECT count(*) FROM aging_snapshots WHERE tenant_id = $1 AND direction = 'payable'`, f.tenant))

	// The next day: the invoice due on the 18th is still not overdue on the 2nd; nothing
	// is marked twice and the customer's stage-3 proposal is not repeated.
	next, _ := json.Marshal(map[string]any{"tenant_id": f.tenant, "close_date": "2026-11-02"})
	require.NoError(t, s.Deliver(t, "TenantClose", platform.Message{Data: next}))
	require.Equal(t, 2, count(`SELECT count(*) FROM outbox_events WHERE tenant_id = $1 AND event_type = 'invoice.overdue'`, f.tenant))
	require.Equal(t, 1, count(`SELECT count(*) FROM dunning_proposals WHERE tenant_id = $1`, f.tenant))

	// A tenant's own schedule decides the stages.
	_, err := s.DB.Admin.Exec(ctx, `UPDATE tenants SET settings = '{"dunning_schedule": [60]}' WHERE id = $1`, quiet.tenant)
	require.NoError(t, err)
	other := quiet.openInvoice(t, map[string]any{"issue_date": "2026-09-01", "due_date": "2026-09-15"})
	req, _ := json.Marshal(map[string]any{"tenant_id": quiet.tenant, "close_date": "2026-11-01"})
	require.NoError(t, s.Deliver(t, "TenantClose", platform.Message{Data: req}))
	require.NotNil(t, overdueSince(other.ID))
	require.Zero(t, count(`SELECT count(*) FROM dunning_proposals WHERE tenant_id = $1`, quiet.tenant), "47 days is before its first stage")

	require.NoError(t, s.Deliver(t, "TenantClose", platform.Message{Data: []byte("not json")}), "poison is acknowledged")
}
