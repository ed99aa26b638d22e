package closing

import (
	"github.com/ledgerline/ledgerline/shared/aging"
)

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

// snapshots are the stored form of aging reports' per-currency totals: the report's
// buckets with its "older" amount as the last, open-ended bucket. The close ages with
// the aging report itself, so a snapshot and the report as of the same date agree.
func snapshots(reports ...aging.Report) []Snapshot {
	var out []Snapshot
	for _, r := range reports {
		for _, t := range r.Totals {
			s := Snapshot{Direction: string(r.Direction), Currency: t.Currency, CurrentMinor: t.CurrentMinor,
				TotalMinor: t.TotalMinor, InvoiceCount: int(t.InvoiceCount)}
			for i, rg := range r.Buckets {
				s.Buckets = append(s.Buckets, Bucket{FromDays: rg.FromDays, ToDays: rg.ToDays, AmountMinor: t.Buckets[i]})
			}
			s.Buckets = append(s.Buckets, Bucket{FromDays: r.OlderFromDays, AmountMinor: t.OlderMinor})
			out = append(out, s)
		}
	}
	return out
}
