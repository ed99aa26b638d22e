package closing

import (
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/aging"
)

func TestSchedule(t *testing.T) {
	cases := map[string][]int{
		``:                               DefaultSchedule,
		`{}`:                             DefaultSchedule,
		`{"dunning_schedule": []}`:       DefaultSchedule,
		`{"dunning_schedule": [0, 10]}`:  DefaultSchedule,
		`{"dunning_schedule": "weekly"}`: DefaultSchedule,
		`{"dunning_schedule": [30, 5]}`:  {5, 30},
	}
	for in, want := range cases {
		require.Equal(t, want, Schedule([]byte(in)), in)
	}
}

func TestStage(t *testing.T) {
	s := []int{7, 14, 30}
	for days, want := range map[int]int{0: 0, 6: 0, 7: 1, 13: 1, 14: 2, 29: 2, 30: 3, 400: 3} {
		require.Equal(t, want, Stage(s, days), "%d days", days)
	}
}

func TestProposeUsesTheOldestInvoiceAcrossCurrencies(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	date := civil.Date{Year: 2026, Month: 11, Day: 21}
	groups := []overdueGroup{
		{counterparty: a, currency: "EUR", oldestDue: date.AddDays(-3), invoices: []uuid.UUID{uuid.New()}, amountDue: 100},
		{counterparty: a, currency: "USD", oldestDue: date.AddDays(-20), invoices: []uuid.UUID{uuid.New(), uuid.New()}, amountDue: 250},
		{counterparty: b, currency: "USD", oldestDue: date.AddDays(-2), invoices: []uuid.UUID{uuid.New()}, amountDue: 5},
	}
	got := propose([]int{7, 14, 30}, groups, date)
	require.Len(t, got, 1, "b is not yet at a stage")
	require.Equal(t, a, got[0].CounterpartyID)
	require.Equal(t, 20, got[0].DaysOverdue)
	require.Equal(t, 2, got[0].Stage)
	require.Len(t, got[0].InvoiceIDs, 3)
	require.Equal(t, []AmountDue{{"EUR", 100}, {"USD", 250}}, got[0].AmountsDue)
}

// The snapshot keeps the report's buckets and adds its "older" amount as the last,
// open-ended bucket.
func TestSnapshotsFromReports(t *testing.T) {
	thirty := 30
	r := aging.Report{Direction: aging.Payable, Edges: []int{30}, Buckets: []aging.Range{{FromDays: 1, ToDays: &thirty}},
		OlderFromDays: 31, Totals: []aging.Total{{Currency: "EUR", CurrentMinor: 1, OlderMinor: 4, TotalMinor: 7,
			InvoiceCount: 3, Buckets: []int64{2}}}}
	require.Equal(t, []Snapshot{{Direction: "payable", Currency: "EUR", CurrentMinor: 1, TotalMinor: 7, InvoiceCount: 3,
		Buckets: []Bucket{{FromDays: 1, ToDays: &thirty, AmountMinor: 2}, {FromDays: 31, AmountMinor: 4}}}}, snapshots(r))
	require.Empty(t, snapshots(aging.Report{Direction: aging.Receivable, Edges: []int{30}}))
}
