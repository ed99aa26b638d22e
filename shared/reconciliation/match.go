package reconciliation

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
)

// Points of evidence, out of 100. A candidate needs the reference or the amount to
// match at all; the counterparty and the due date only rank candidates. Reference and
// exact amount with the payment's own counterparty (95) clear the default threshold;
// an amount alone (at most 50), or a reference and amount naming another
// counterparty's invoice (85), never do, so a coincidence is always left to people.
const (
	pointsReference       = 50 // the reference names the invoice number
	pointsAmountExact     = 30 // the amount due equals the payment (or the set's sum does)
	pointsAmountTolerance = 15 // the amount due is within the tenant's tolerance
	pointsCounterparty    = 15 // the invoice is the payment's counterparty's
	pointsDueDate         = 5  // due within DueDateWindowDays of the value date
)

const (
	// DueDateWindowDays is how far apart the due date and the value date may be for the
	// date to count as evidence.
	DueDateWindowDays = 30
	// AutoMargin is how far the best candidate must be ahead of the next to be
	// allocated without asking: two invoices that fit equally well are a question for
	// people, however well they fit.
	AutoMargin = 0.1
	// MaxSuggestions is how many candidates are kept as suggestions.
	MaxSuggestions = 3
	// MaxSetInvoices bounds the invoices searched for a set whose amounts due add up
	// to the payment, and maxSetSteps the search itself: 2^20 subsets are too many to
	// try, the budget cuts it short and the sets found so far stand.
	MaxSetInvoices = 20
	maxSetSteps    = 200_000
	maxSets        = 20
)

// Settings are the tenant's reconciliation settings (from its settings in effect,
// shared/settings).
type Settings struct {
	// AutoThreshold is the score from which the best candidate is allocated without
	// asking (reconciliation_auto_threshold, in (0, 1], default 0.9).
	AutoThreshold float64
	// ToleranceMinor is how far an amount due may be from the payment, in minor units
	// of the payment's currency, and still count as a (weaker) amount match
	// (reconciliation_tolerance_minor, default 100).
	ToleranceMinor int64
}

// DefaultSettings apply where a tenant has set nothing.
func DefaultSettings() Settings { return Settings{AutoThreshold: 0.9, ToleranceMinor: 100} }

// ParseSettings reads the reconciliation settings from a tenant's settings document. A
// value that is missing or out of range falls back to its default, so a bad setting
// can never stop payments from being recorded.
func ParseSettings(doc []byte) Settings {
	s := DefaultSettings()
	var raw struct {
		Threshold *float64 `json:"reconciliation_auto_threshold"`
		Tolerance *float64 `json:"reconciliation_tolerance_minor"`
	}
	if len(doc) == 0 || json.Unmarshal(doc, &raw) != nil {
		return s
	}
	if raw.Threshold != nil && *raw.Threshold > 0 && *raw.Threshold <= 1 {
		s.AutoThreshold = *raw.Threshold
	}
	if t := raw.Tolerance; t != nil && *t >= 0 && *t == math.Trunc(*t) && *t < 1<<53 {
		s.ToleranceMinor = int64(*t)
	}
	return s
}

// Payment is what the matcher knows of the payment being reconciled.
type Payment struct {
	AmountMinor    int64
	ValueDate      civil.Date
	Reference      string
	CounterpartyID uuid.UUID
}

// Invoice is an open invoice of the payment's currency and direction.
type Invoice struct {
	ID             uuid.UUID
	Number         string
	CounterpartyID uuid.UUID
	AmountDueMinor int64
	DueDate        civil.Date
}

// Reason is one piece of evidence behind a score.
type Reason struct {
	Field   string `json:"field"`   // reference, amount, counterparty, due_date
	Matched string `json:"matched"` // what matched: the invoice number, exact, sum_exact, within_tolerance, same, within_30_days
}

// Amount is what a candidate allocates to one invoice.
type Amount struct {
	InvoiceID   uuid.UUID `json:"invoice_id"`
	AmountMinor int64     `json:"amount_minor"`
}

// Candidate is an invoice, or a set of invoices, the payment may settle.
type Candidate struct {
	Amounts []Amount
	Reasons []Reason
	points  int
	dueDate civil.Date // the earliest due date of its invoices, to rank ties
}

// Score is the candidate's score in [0, 1].
func (c Candidate) Score() float64 { return float64(c.points) / 100 }

// Matches are the matcher's answer.
type Matches struct {
	// Candidates are ranked best first, at most MaxSuggestions.
	Candidates []Candidate
	// Auto says the first candidate reaches the threshold and is clearly ahead of the
	// next: allocate it without asking.
	Auto bool
}

// Match scores the invoices against the payment: each invoice alone, and sets of the
// counterparty's invoices whose amounts due add up exactly to the payment (a payment
// of several invoices at once).
func Match(p Payment, invoices []Invoice, s Settings) Matches {
	reference := strings.ToUpper(p.Reference)
	var cands []Candidate
	for _, inv := range invoices {
		if c, ok := single(p, reference, inv, s); ok {
			cands = append(cands, c)
		}
	}
	cands = append(cands, sets(p, reference, invoices)...)
	sort.SliceStable(cands, func(i, j int) bool { return better(cands[i], cands[j]) })
	if len(cands) > MaxSuggestions {
		cands = cands[:MaxSuggestions]
	}
	r := Matches{Candidates: cands}
	if len(cands) > 0 && cands[0].Score() >= s.AutoThreshold {
		r.Auto = len(cands) == 1 || cands[0].points-cands[1].points >= int(math.Round(AutoMargin*100))
	}
	return r
}

func single(p Payment, reference string, inv Invoice, s Settings) (Candidate, bool) {
	c := Candidate{dueDate: inv.DueDate}
	named := namesNumber(reference, inv.Number)
	if named {
		c.add(pointsReference, "reference", inv.Number)
	}
	diff := inv.AmountDueMinor - p.AmountMinor
	if diff < 0 {
		diff = -diff
	}
	switch {
	case diff == 0:
		c.add(pointsAmountExact, "amount", "exact")
	case diff <= s.ToleranceMinor:
		c.add(pointsAmountTolerance, "amount", "within_tolerance")
	case !named:
		return Candidate{}, false
	}
	if inv.CounterpartyID == p.CounterpartyID {
		c.add(pointsCounterparty, "counterparty", "same")
	}
	if nearDue(inv.DueDate, p.ValueDate) {
		c.add(pointsDueDate, "due_date", fmt.Sprintf("within_%d_days", DueDateWindowDays))
	}
	c.Amounts = []Amount{{InvoiceID: inv.ID, AmountMinor: min(p.AmountMinor, inv.AmountDueMinor)}}
	return c, true
}

// sets finds sets of two or more of the counterparty's invoices whose amounts due add
// up exactly to the payment. Invoices the reference names are searched first, then the
// oldest due.
func sets(p Payment, reference string, invoices []Invoice) []Candidate {
	var pool []Invoice
	for _, inv := range invoices {
		if inv.CounterpartyID == p.CounterpartyID && inv.AmountDueMinor > 0 && inv.AmountDueMinor < p.AmountMinor {
			pool = append(pool, inv)
		}
	}
	sort.SliceStable(pool, func(i, j int) bool {
		ni, nj := namesNumber(reference, pool[i].Number), namesNumber(reference, pool[j].Number)
		if ni != nj {
			return ni
		}
		if pool[i].DueDate != pool[j].DueDate {
			return pool[i].DueDate.Before(pool[j].DueDate)
		}
		return pool[i].ID.String() < pool[j].ID.String()
	})
	if len(pool) > MaxSetInvoices {
		pool = pool[:MaxSetInvoices]
	}
	// Largest first, so the running sum overshoots early and prunes the search.
	sort.SliceStable(pool, func(i, j int) bool { return pool[i].AmountDueMinor > pool[j].AmountDueMinor })
	// rest[i] is what pool[i:] can add at most, saturated so it cannot overflow.
	rest := make([]int64, len(pool)+1)
	for i := len(pool) - 1; i >= 0; i-- {
		rest[i] = rest[i+1] + pool[i].AmountDueMinor
		if rest[i] < rest[i+1] {
			rest[i] = math.MaxInt64
		}
	}

	var found [][]Invoice
	steps := 0
	var chosen []Invoice
	var walk func(i int, need int64)
	walk = func(i int, need int64) {
		steps++
		if need == 0 {
			if len(chosen) >= 2 {
				found = append(found, append([]Invoice(nil), chosen...))
			}
			return
		}
		if i == len(pool) || rest[i] < need || steps > maxSetSteps || len(found) >= maxSets {
			return
		}
		if pool[i].AmountDueMinor <= need {
			chosen = append(chosen, pool[i])
			walk(i+1, need-pool[i].AmountDueMinor)
			chosen = chosen[:len(chosen)-1]
		}
		walk(i+1, need)
	}
	walk(0, p.AmountMinor)

	cands := make([]Candidate, 0, len(found))
	for _, set := range found {
		sort.Slice(set, func(i, j int) bool { return set[i].ID.String() < set[j].ID.String() })
		c := Candidate{dueDate: set[0].DueDate}
		named, near := 0, true
		for _, inv := range set {
			if namesNumber(reference, inv.Number) {
				named++
				c.Reasons = append(c.Reasons, Reason{Field: "reference", Matched: inv.Number})
			}
			near = near && nearDue(inv.DueDate, p.ValueDate)
			if inv.DueDate.Before(c.dueDate) {
				c.dueDate = inv.DueDate
			}
			c.Amounts = append(c.Amounts, Amount{InvoiceID: inv.ID, AmountMinor: inv.AmountDueMinor})
		}
		// The reference counts in proportion to the invoices it names.
		c.points = pointsReference * named / len(set)
		c.add(pointsAmountExact, "amount", "sum_exact")
		c.add(pointsCounterparty, "counterparty", "same")
		if near {
			c.add(pointsDueDate, "due_date", fmt.Sprintf("within_%d_days", DueDateWindowDays))
		}
		cands = append(cands, c)
	}
	return cands
}

func (c *Candidate) add(points int, field, matched string) {
	c.points += points
	c.Reasons = append(c.Reasons, Reason{Field: field, Matched: matched})
}

// better ranks candidates: higher score, then fewer invoices, then the oldest due date,
// then the invoice ids, so the order never depends on the order rows were read in.
func better(a, b Candidate) bool {
	if a.points != b.points {
		return a.points > b.points
	}
	if len(a.Amounts) != len(b.Amounts) {
		return len(a.Amounts) < len(b.Amounts)
	}
	if a.dueDate != b.dueDate {
		return a.dueDate.Before(b.dueDate)
	}
	return a.Amounts[0].InvoiceID.String() < b.Amounts[0].InvoiceID.String()
}

// namesNumber reports whether reference (upper case) contains the invoice number as a
// whole token: INV-000042 is named by "PAYMENT INV-000042/2" but not by "INV-0000421".
func namesNumber(reference, number string) bool {
	if number == "" {
		return false
	}
	number = strings.ToUpper(number)
	for from := 0; ; {
		i := strings.Index(reference[from:], number)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(number)
		if (start == 0 || !alnum(reference[start-1])) && (end == len(reference) || !alnum(reference[end])) {
			return true
		}
		from = start + 1
	}
}

func alnum(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }

func nearDue(due, value civil.Date) bool {
	d := due.DaysSince(value)
	return d >= -DueDateWindowDays && d <= DueDateWindowDays
}
