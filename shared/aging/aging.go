// Package aging is the aging report: who owes what, and how late, as of any date.
//
// Balances as of a date D follow the documents' own dates, so a report for a past date
// is the same whenever it is run, unless documents are later back-dated:
//   - an invoice counts if it was issued on or before D (issue_date) and is not a draft;
//     a void invoice stops counting from the day it was voided (UTC);
//   - an allocation reduces the balance from its effective date until the day it was
//     reversed (UTC), if it was;
//   - a credit note reduces the balance from its effective date;
//   - uncollectible invoices still count: they are owed until paid, credited or voided
//     (the daily close's aging snapshot counts them the same way).
//
// Age is in days: D minus the due date (basis due_date) or the issue date (basis
// issue_date). An age of zero or less is current (not yet due, or due on D); then each
// bucket runs from one past the previous edge through its own edge, inclusive (edges
// 30,60: 1–30, 31–60); anything older than the last edge is "older".
package aging

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/money"
)

// DefaultEdges are the bucket edges (days past due) when neither the request nor the
// tenant's settings give any.
var DefaultEdges = []int{30, 60, 90}

// Limits on bucket edges: enough for any aging a finance team reads, few enough that a
// report stays a table.
const (
	maxEdges    = 12
	maxEdgeDays = 3650
)

// Direction is which side of the books is aged.
type Direction string

const (
	Receivable Direction = "receivable"
	Payable    Direction = "payable"
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Receivable || d == Payable }

// Basis is the date an invoice's age is counted from.
type Basis string

const (
	DueDate   Basis = "due_date"
	IssueDate Basis = "issue_date"
)

// Valid reports whether b is a known basis.
func (b Basis) Valid() bool { return b == DueDate || b == IssueDate }

// ParseEdges reads "30,60,90": strictly ascending whole days, 1 to 3650, at most 12.
// The message says what is wrong, for a 400.
func ParseEdges(s string) ([]int, string) {
	parts := strings.Split(s, ",")
	if len(parts) > maxEdges {
		return nil, "at most " + strconv.Itoa(maxEdges) + " bucket edges"
	}
	edges := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > maxEdgeDays {
			return nil, "must be comma-separated whole days between 1 and " + strconv.Itoa(maxEdgeDays)
		}
		if len(edges) > 0 && n <= edges[len(edges)-1] {
			return nil, "bucket edges must be strictly ascending"
		}
		edges = append(edges, n)
	}
	return edges, ""
}

// TenantEdges reads settings.aging_buckets, falling back to DefaultEdges when the
// setting is absent or not a valid list of edges (in any order).
func TenantEdges(settings []byte) []int {
	var s struct {
		Buckets []int `json:"aging_buckets"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || len(s.Buckets) == 0 || len(s.Buckets) > maxEdges {
		return DefaultEdges
	}
	edges := slices.Clone(s.Buckets)
	slices.Sort(edges)
	for i, d := range edges {
		if d < 1 || d > maxEdgeDays || (i > 0 && d == edges[i-1]) {
			return DefaultEdges
		}
	}
	return edges
}

// Params selects a report.
type Params struct {
	Direction      Direction
	AsOf           civil.Date
	Basis          Basis
	Edges          []int // nil: the tenant's setting
	CounterpartyID *uuid.UUID
	Currency       *string
}

// Range is one bucket's span of days; To is nil for the open-ended "older" bucket.
type Range struct {
	FromDays int  `json:"from_days"`
	ToDays   *int `json:"to_days"`
}

// Ranges are the buckets edges make, after current: 1–e1, e1+1–e2, …, and older.
func Ranges(edges []int) []Range {
	out := make([]Range, 0, len(edges)+1)
	from := 1
	for _, e := range edges {
		out = append(out, Range{FromDays: from, ToDays: &e})
		from = e + 1
	}
	return append(out, Range{FromDays: from})
}

// Line is one counterparty's outstanding balance in one currency. Buckets holds one
// amount per range of the report's Buckets, in order; Older is beyond the last edge.
type Line struct {
	CounterpartyID   uuid.UUID `json:"counterparty_id"`
	CounterpartyName string    `json:"counterparty_name"`
	Currency         string    `json:"currency"`
	CurrentMinor     int64     `json:"current_minor"`
	Buckets          []int64   `json:"buckets"`
	OlderMinor       int64     `json:"older_minor"`
	TotalMinor       int64     `json:"total_minor"`
	InvoiceCount     int64     `json:"invoice_count"`
}

// Total is the grand total of one currency, laid out as a Line; amounts in different
// currencies are never added together.
type Total struct {
	Currency     string  `json:"currency"`
	CurrentMinor int64   `json:"current_minor"`
	Buckets      []int64 `json:"buckets"`
	OlderMinor   int64   `json:"older_minor"`
	TotalMinor   int64   `json:"total_minor"`
	InvoiceCount int64   `json:"invoice_count"`
}

// TieOut checks one currency's aged total (the sum of its buckets) against the sum of
// the same open balances the database took without buckets, in the same statement: a
// balance that fell between buckets, or into two, shows as a difference.
type TieOut struct {
	Currency         string `json:"currency"`
	AgedTotalMinor   int64  `json:"aged_total_minor"`
	OpenBalanceMinor int64  `json:"open_balance_minor"`
	DifferenceMinor  int64  `json:"difference_minor"`
	InvoiceCount     int64  `json:"invoice_count"`
	TiesOut          bool   `json:"ties_out"`
}

// Report is an aging report. Lines and totals are compact (a 20,000-customer aging is
// one response): their Buckets are bare amounts, described once by the report's.
type Report struct {
	Object         string     `json:"object"`
	Direction      Direction  `json:"direction"`
	AsOf           civil.Date `json:"as_of"`
	Basis          Basis      `json:"basis"`
	Edges          []int      `json:"bucket_edges"`
	Buckets        []Range    `json:"buckets"` // the ranges between current and older
	OlderFromDays  int        `json:"older_from_days"`
	CounterpartyID *uuid.UUID `json:"counterparty_id"`
	Currency       *string    `json:"currency"`
	Lines          []Line     `json:"lines"`
	Totals         []Total    `json:"totals"`
	TieOut         []TieOut   `json:"tie_out"`
}

// row is the database's answer for one counterparty and currency: the sum in each
// bucket (current, the ranges, older), the sum of the same balances unbucketed (the
// control), and the number of invoices. A key may come twice, stored and corrections,
// which add up.
type row struct {
	counterpartyID uuid.UUID
	name           string
	currency       string
	buckets        []int64
	control        int64
	count          int64
}

// assemble builds the report from the rows, which come ordered by counterparty id and
// currency, a key's rows side by side. Lines are ordered by counterparty name (byte
// order), id and currency; totals and tie-outs by currency. Sums are overflow-checked:
// an aging that cannot be represented is an error, never a wrapped number.
func assemble(p Params, edges []int, rows []row) (Report, error) {
	ranges := Ranges(edges)
	r := Report{Object: "aging_report", Direction: p.Direction, AsOf: p.AsOf, Basis: p.Basis, Edges: edges,
		Buckets: ranges[:len(edges)], OlderFromDays: ranges[len(edges)].FromDays,
		CounterpartyID: p.CounterpartyID, Currency: p.Currency}
	// Merge each key's rows (stored, then any correction) into its first.
	keep := make([]int, 0, len(rows))
	for i := range rows {
		x := &rows[i]
		if len(x.buckets) != len(edges)+2 {
			return Report{}, fmt.Errorf("aging: %d bucket sums for %d edges", len(x.buckets), len(edges))
		}
		if len(keep) == 0 {
			keep = append(keep, i)
			continue
		}
		into := &rows[keep[len(keep)-1]]
		if into.counterpartyID != x.counterpartyID || into.currency != x.currency {
			keep = append(keep, i)
			continue
		}
		var err error
		for b := range into.buckets {
			if into.buckets[b], err = money.Add(into.buckets[b], x.buckets[b]); err != nil {
				return Report{}, err
			}
		}
		if into.control, err = money.Add(into.control, x.control); err != nil {
			return Report{}, err
		}
		into.count += x.count
	}
	// By name; the rows are by id already, so a stable sort on the name alone keeps
	// id and then currency order among equal names.
	slices.SortStableFunc(keep, func(i, j int) int { return strings.Compare(rows[i].name, rows[j].name) })

	controls := map[string]*TieOut{}
	r.Lines = make([]Line, 0, len(keep))
	for _, i := range keep {
		x := &rows[i]
		if x.count == 0 && x.control == 0 {
			continue // every invoice the stored rows counted was corrected away
		}
		total, err := money.Sum(x.buckets...)
		if err != nil {
			return Report{}, err
		}
		r.Lines = append(r.Lines, Line{CounterpartyID: x.counterpartyID, CounterpartyName: x.name, Currency: x.currency,
			CurrentMinor: x.buckets[0], Buckets: x.buckets[1 : len(edges)+1], OlderMinor: x.buckets[len(edges)+1],
			TotalMinor: total, InvoiceCount: x.count})
		c, ok := controls[x.currency]
		if !ok {
			c = &TieOut{Currency: x.currency}
			controls[x.currency] = c
		}
		if c.OpenBalanceMinor, err = money.Add(c.OpenBalanceMinor, x.control); err != nil {
			return Report{}, err
		}
		c.InvoiceCount += x.count
	}

	totals := map[string]*Total{}
	var order []string
	for _, l := range r.Lines {
		t, ok := totals[l.Currency]
		if !ok {
			t = &Total{Currency: l.Currency, Buckets: make([]int64, len(edges))}
			totals[l.Currency] = t
			order = append(order, l.Currency)
		}
		if err := addLine(t, l); err != nil {
			return Report{}, err
		}
	}
	slices.Sort(order)
	r.Totals = make([]Total, 0, len(order))
	r.TieOut = make([]TieOut, 0, len(order))
	for _, cur := range order {
		t := *totals[cur]
		r.Totals = append(r.Totals, t)
		tie := *controls[cur]
		tie.AgedTotalMinor = t.TotalMinor
		tie.DifferenceMinor = tie.AgedTotalMinor - tie.OpenBalanceMinor
		tie.TiesOut = tie.DifferenceMinor == 0
		r.TieOut = append(r.TieOut, tie)
	}
	return r, nil
}

func addLine(t *Total, l Line) error {
	var err error
	add := func(dst *int64, v int64) {
		if err == nil {
			*dst, err = money.Add(*dst, v)
		}
	}
	add(&t.CurrentMinor, l.CurrentMinor)
	for i := range t.Buckets {
		add(&t.Buckets[i], l.Buckets[i])
	}
	add(&t.OlderMinor, l.OlderMinor)
	add(&t.TotalMinor, l.TotalMinor)
	t.InvoiceCount += l.InvoiceCount
	return err
}
