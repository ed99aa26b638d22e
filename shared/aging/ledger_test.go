package aging

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// ledger writes documents straight into the database (as the superuser, through the
// same triggers and constraints the services rely on) and remembers them, so a test
// can compute the right aging from first principles and compare.
type ledger struct {
	t        *testing.T
	admin    *pgxpool.Pool
	tenant   uuid.UUID
	invoices []*testInvoice
	numbers  int
}

type testInvoice struct {
	id           uuid.UUID
	direction    Direction
	counterparty uuid.UUID
	currency     string
	issue, due   civil.Date
	total        int64
	draft        bool
	voidedAt     *time.Time
	allocations  []testAllocation
	credits      []testCredit
}

type testAllocation struct {
	amount     int64
	effective  civil.Date
	reversedAt *time.Time
}

type testCredit struct {
	amount    int64
	effective civil.Date
}

func newLedger(t *testing.T, admin *pgxpool.Pool, tenant uuid.UUID) *ledger {
	return &ledger{t: t, admin: admin, tenant: tenant}
}

func (l *ledger) exec(sql string, args ...any) {
	l.t.Helper()
	_, err := l.admin.Exec(context.Background(), sql, args...)
	require.NoError(l.t, err)
}

func (l *ledger) counterparty(name string) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	l.exec(`INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, $3, 'both')`, id, l.tenant, name)
	return id
}

// invoice issues an invoice (a draft when draft is set).
func (l *ledger) invoice(d Direction, cp uuid.UUID, currency string, issue, due civil.Date, total int64, draft bool) *testInvoice {
	inv := &testInvoice{id: uuid.Must(uuid.NewV7()), direction: d, counterparty: cp, currency: currency,
		issue: issue, due: due, total: total, draft: draft}
	var number *string
	var finalized *time.Time
	status := "draft"
	if !draft {
		l.numbers++
		n := fmt.Sprintf("T-%06d", l.numbers)
		number, status = &n, "open"
		at := issue.In(time.UTC)
		finalized = &at
	}
	l.exec(`INSERT INTO invoices (id, tenant_id, direction, status, number, counterparty_id, currency, issue_date, due_date,
        subtotal_minor, tax_minor, total_minor, finalized_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $10, $11)`,
		inv.id, l.tenant, string(d), status, number, cp, currency, issue.In(time.UTC), due.In(time.UTC), total, finalized)
	l.invoices = append(l.invoices, inv)
	return inv
}

// allocate pays amount of inv through a new payment, effective on the given date.
func (l *ledger) allocate(inv *testInvoice, amount int64, effective civil.Date) uuid.UUID {
	payment, alloc := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	pdir, idir := "incoming", "receivable"
	if inv.direction == Payable {
		pdir, idir = "outgoing", "payable"
	}
	l.exec(`INSERT INTO payments (id, tenant_id, direction, counterparty_id, amount_minor, currency, value_date, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'test')`, payment, l.tenant, pdir, inv.counterparty, amount, inv.currency, effective.In(time.UTC))
	l.exec(`INSERT INTO allocations (id, tenant_id, payment_id, invoice_id, currency, payment_direction, invoice_direction,
        amount_minor, effective_date, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'test')`, alloc, l.tenant, payment, inv.id, inv.currency, pdir, idir, amount, effective.In(time.UTC))
	inv.allocations = append(inv.allocations, testAllocation{amount: amount, effective: effective})
	return alloc
}

// reverseLast reverses inv's latest allocation at the given instant.
func (l *ledger) reverseLast(inv *testInvoice, alloc uuid.UUID, at time.Time) {
	l.exec(`UPDATE allocations SET reversed_at = $2, reversed_by = 'test', reversal_reason = 'test' WHERE id = $1`, alloc, at)
	inv.allocations[len(inv.allocations)-1].reversedAt = &at
}

func (l *ledger) credit(inv *testInvoice, amount int64, effective civil.Date) {
	l.numbers++
	l.exec(`INSERT INTO credit_notes (id, tenant_id, invoice_id, number, currency, direction, subtotal_minor, tax_minor,
        amount_minor, reason, effective_date, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, 'test', $8, 'test')`,
		uuid.Must(uuid.NewV7()), l.tenant, inv.id, fmt.Sprintf("CN-%06d", l.numbers), inv.currency, string(inv.direction), amount, effective.In(time.UTC))
	inv.credits = append(inv.credits, testCredit{amount: amount, effective: effective})
}

func (l *ledger) void(inv *testInvoice, at time.Time) {
	l.exec(`UPDATE invoices SET status = 'void', voided_at = $2 WHERE id = $1`, inv.id, at)
	inv.voidedAt = &at
}

// balanceAsOf is the invoice's balance on date d from first principles; ok is false
// when the invoice does not count on d at all.
func (inv *testInvoice) balanceAsOf(d civil.Date) (balance int64, ok bool) {
	if inv.draft || inv.issue.After(d) || (inv.voidedAt != nil && !civil.DateOf(inv.voidedAt.UTC()).After(d)) {
		return 0, false
	}
	balance = inv.total
	for _, a := range inv.allocations {
		if !a.effective.After(d) && (a.reversedAt == nil || civil.DateOf(a.reversedAt.UTC()).After(d)) {
			balance -= a.amount
		}
	}
	for _, c := range inv.credits {
		if !c.effective.After(d) {
			balance -= c.amount
		}
	}
	return balance, true
}

// expected computes the report's lines from first principles, keyed by counterparty
// and currency, as [current, buckets..., older, total, count].
func (l *ledger) expected(p Params, edges []int) map[[2]string][]int64 {
	out := map[[2]string][]int64{}
	for _, inv := range l.invoices {
		if inv.direction != p.Direction {
			continue
		}
		if p.Currency != nil && inv.currency != *p.Currency {
			continue
		}
		if p.CounterpartyID != nil && inv.counterparty != *p.CounterpartyID {
			continue
		}
		bal, ok := inv.balanceAsOf(p.AsOf)
		if !ok || bal <= 0 {
			continue
		}
		from := inv.due
		if p.Basis == IssueDate {
			from = inv.issue
		}
		age := p.AsOf.DaysSince(from)
		slot := 0 // current
		if age > 0 {
			slot = len(edges) + 1 // older
			for i, e := range edges {
				if age <= e {
					slot = i + 1
					break
				}
			}
		}
		key := [2]string{inv.counterparty.String(), inv.currency}
		row, ok := out[key]
		if !ok {
			row = make([]int64, len(edges)+4)
			out[key] = row
		}
		row[slot] += bal
		row[len(edges)+2] += bal
		row[len(edges)+3]++
	}
	return out
}

// got flattens a report's lines the same way.
func got(r Report) map[[2]string][]int64 {
	out := map[[2]string][]int64{}
	for _, l := range r.Lines {
		row := append([]int64{l.CurrentMinor}, l.Buckets...)
		row = append(row, l.OlderMinor, l.TotalMinor, l.InvoiceCount)
		out[[2]string{l.CounterpartyID.String(), l.Currency}] = row
	}
	return out
}

// randomLedger fills the tenant with n invoices around today in two currencies and
// both directions, with partial and full payments, payments effective in the future,
// reversals, credit notes, drafts and voids.
func randomLedger(t *testing.T, l *ledger, rng *rand.Rand, today civil.Date, n int) {
	t.Helper()
	var cps []uuid.UUID
	for i := range 6 {
		cps = append(cps, l.counterparty(fmt.Sprintf("Counterparty %d", i)))
	}
	currencies := []string{"USD", "JPY"}
	for range n {
		d := Receivable
		if rng.IntN(3) == 0 {
			d = Payable
		}
		issue := today.AddDays(-rng.IntN(240))
		due := issue.AddDays(rng.IntN(61))
		total := int64(1 + rng.IntN(100000))
		inv := l.invoice(d, cps[rng.IntN(len(cps))], currencies[rng.IntN(2)], issue, due, total, rng.IntN(15) == 0)
		if inv.draft {
			continue
		}
		remaining := total
		// Effective dates anywhere from the issue date to a month ahead of today.
		when := func() civil.Date { return issue.AddDays(rng.IntN(today.DaysSince(issue) + 31)) }
		switch rng.IntN(6) {
		case 0: // untouched
		case 1: // voided, possibly with a credit note first
			if rng.IntN(2) == 0 {
				amt := 1 + rng.Int64N(remaining)
				l.credit(inv, amt, when())
			}
			l.void(inv, when().In(time.UTC).Add(time.Duration(rng.IntN(86400))*time.Second))
		default: // payments, credit notes and reversals
			for range 1 + rng.IntN(3) {
				if remaining == 0 {
					break
				}
				amt := 1 + rng.Int64N(remaining)
				if rng.IntN(4) == 0 {
					amt = remaining
				}
				if rng.IntN(5) == 0 {
					l.credit(inv, amt, when())
					remaining -= amt
					continue
				}
				eff := when()
				id := l.allocate(inv, amt, eff)
				remaining -= amt
				if rng.IntN(5) == 0 {
					// Reversed some days after it took effect; the money stays spent from
					// "remaining" so the sum of everything never exceeds the total.
					l.reverseLast(inv, id, eff.AddDays(rng.IntN(40)).In(time.UTC).Add(time.Duration(rng.IntN(86400))*time.Second))
				}
			}
		}
	}
}
