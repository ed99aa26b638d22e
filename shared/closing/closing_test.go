package closing

import (
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
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

func TestBuckets(t *testing.T) {
	require.Equal(t, DefaultBuckets, Buckets(nil))
	require.Equal(t, DefaultBuckets, Buckets([]byte(`{"aging_buckets": [30, 30]}`)))
	require.Equal(t, DefaultBuckets, Buckets([]byte(`{"aging_buckets": [-1]}`)))
	require.Equal(t, []int{15, 45}, Buckets([]byte(`{"aging_buckets": [45, 15]}`)))
}

// Bucket edges: due on the close date is current (day 0); day 1 to 30 is the first
// bucket, day 30 its last day; day 31 starts the next; beyond the last edge is open.
func TestAgeBucketEdges(t *testing.T) {
	date := civil.Date{Year: 2026, Month: 11, Day: 21}
	bal := func(daysPast int, amount int64) openBalance {
		return openBalance{direction: "receivable", currency: "USD", dueDate: date.AddDays(-daysPast), amountDue: amount, count: 1}
	}
	got := age([]int{30, 60, 90}, []openBalance{
		bal(-5, 1), bal(0, 2), bal(1, 4), bal(30, 8), bal(31, 16), bal(60, 32), bal(61, 64), bal(90, 128), bal(91, 256), bal(400, 512),
		{direction: "payable", currency: "EUR", dueDate: date, amountDue: 7, count: 2},
	}, date)
	require.Len(t, got, 2)
	r := got[0]
	require.Equal(t, int64(1+2), r.CurrentMinor)
	amounts := []int64{}
	for _, b := range r.Buckets {
		amounts = append(amounts, b.AmountMinor)
	}
	require.Equal(t, []int64{4 + 8, 16 + 32, 64 + 128, 256 + 512}, amounts)
	require.Equal(t, 1, r.Buckets[0].FromDays)
	require.Equal(t, 30, *r.Buckets[0].ToDays)
	require.Equal(t, 91, r.Buckets[3].FromDays)
	require.Nil(t, r.Buckets[3].ToDays)
	require.Equal(t, int64(1023), r.TotalMinor, "the buckets tie out to the total")
	require.Equal(t, 10, r.InvoiceCount)
	require.Equal(t, Snapshot{Direction: "payable", Currency: "EUR", CurrentMinor: 7, TotalMinor: 7, InvoiceCount: 2,
		Buckets: got[1].Buckets}, got[1])
}
