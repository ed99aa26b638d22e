package closing

import (
	"encoding/json"
	"sort"

	"cloud.google.com/go/civil"
)

// DefaultBuckets are the aging bucket edges (days past due) when a tenant sets none.
var DefaultBuckets = []int{30, 60, 90}

// Buckets reads settings.aging_buckets (ascending positive day counts), falling back to
// the default for anything else, as Schedule does.
func Buckets(settings []byte) []int {
	var s struct {
		Buckets []int `json:"aging_buckets"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || len(s.Buckets) == 0 {
		return DefaultBuckets
	}
	edges := append([]int(nil), s.Buckets...)
	sort.Ints(edges)
	for i, d := range edges {
		if d <= 0 || (i > 0 && d == edges[i-1]) {
			return DefaultBuckets
		}
	}
	return edges
}

// Bucket is one aging bucket: invoices from FromDays to ToDays (inclusive; nil = no
// upper bound) days past due.
type Bucket struct {
	FromDays    int   `json:"from_days"`
	ToDays      *int  `json:"to_days"`
	AmountMinor int64 `json:"amount_minor"`
}

// Snapshot is one direction and currency of a tenant's aging.
type Snapshot struct {
	Direction    string
	Currency     string
	CurrentMinor int64 // not yet due (due on or after the close date)
	Buckets      []Bucket
	TotalMinor   int64
	InvoiceCount int
}

// openBalance is the amount due of one or more invoices sharing direction, currency and
// due date.
type openBalance struct {
	direction, currency string
	dueDate             civil.Date
	amountDue           int64
	count               int
}

// age buckets open balances as of date. Day 0 (due on the close date) is current; day 1
// through the first edge is the first bucket; beyond the last edge is the open bucket.
func age(edges []int, balances []openBalance, date civil.Date) []Snapshot {
	index := map[[2]string]int{}
	var out []Snapshot
	for _, b := range balances {
		key := [2]string{b.direction, b.currency}
		i, ok := index[key]
		if !ok {
			s := Snapshot{Direction: b.direction, Currency: b.currency}
			from := 1
			for _, e := range edges {
				to := e
				s.Buckets = append(s.Buckets, Bucket{FromDays: from, ToDays: &to})
				from = e + 1
			}
			s.Buckets = append(s.Buckets, Bucket{FromDays: from})
			out = append(out, s)
			i = len(out) - 1
			index[key] = i
		}
		s := &out[i]
		s.TotalMinor += b.amountDue
		s.InvoiceCount += b.count
		days := date.DaysSince(b.dueDate)
		if days <= 0 {
			s.CurrentMinor += b.amountDue
			continue
		}
		for j := range s.Buckets {
			if s.Buckets[j].ToDays == nil || days <= *s.Buckets[j].ToDays {
				s.Buckets[j].AmountMinor += b.amountDue
				break
			}
		}
	}
	return out
}
