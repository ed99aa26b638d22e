package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// This file generates the seed data in memory: what the API would have written had
// the tenants used it for a year. Totals come from shared/money exactly as the
// invoices service computes them, so every CHECK holds and every read adds up.

// Tenant is one seeded tenant and what requests need to know about its rows.
type Tenant struct {
	ID             uuid.UUID
	Name           string
	Weight         int
	Token          string
	Counterparties []Counterparty
	Customers      []int // indexes into Counterparties: customers and both
	Vendors        []int // vendors and both
	Invoices       []uuid.UUID
	// Open are open receivables with enough due that small payments never exhaust them.
	Open []OpenInvoice

	invoices []*seedInvoice
	payments []*seedPayment
}

// Counterparty is a seeded counterparty.
type Counterparty struct {
	ID       uuid.UUID
	Kind     counterparties.Kind
	Currency string
	Terms    int
	created  time.Time
	name     string
	email    *string
	taxID    *string
	external *string
}

// OpenInvoice is an open receivable a payment can be allocated to.
type OpenInvoice struct {
	ID           uuid.UUID
	Counterparty uuid.UUID
	Currency     string
	Due          int64
}

// openDueFloor is the least amount due of an invoice the load allocates to: payments
// allocate 1 to 100 minor units, so thousands of them fit.
const openDueFloor = 10_000

type seedInvoice struct {
	id        uuid.UUID
	direction invoices.Direction
	status    invoices.Status // after the seeded payments
	number    int64           // 0 for a draft
	cp        int
	currency  string
	created   time.Time
	issue     civil.Date
	due       civil.Date
	memo      *string
	external  *string
	lineSeed  uint64
	subtotal  int64
	tax       int64
	total     int64
	paid      int64
}

type seedPayment struct {
	id        uuid.UUID
	alloc     uuid.UUID
	inv       *seedInvoice
	amount    int64
	allocated int64
	created   time.Time
	value     civil.Date
	method    string
	reference string
	external  *string
	actor     string
}

// distribute splits total over weights by largest remainder, so the parts sum to total.
func distribute(total int, weights []int) []int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	out := make([]int, len(weights))
	if sum == 0 {
		return out
	}
	type rem struct {
		i int
		r int
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		out[i] = total * w / sum
		given += out[i]
		rems[i] = rem{i, total * w % sum}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < total; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	return out
}

// v7At is a UUIDv7 for time t: the ids the API assigns are time ordered, and list
// pages (newest first by id) depend on it, so history must carry history's times.
func v7At(t time.Time, r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	a, b := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[6+i] = byte(a >> (8 * i))
	}
	u[14], u[15] = byte(b), byte(b>>8)
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// requestID derives the request id an entity was written under; the three records of
// one payment share one.
func requestID(id uuid.UUID) string {
	h := sha256.Sum256(id[:])
	return hex.EncodeToString(h[:16])
}

var (
	companyWords = []string{"Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Hooli", "Stark",
		"Wayne", "Acme", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oscorp", "Vandelay", "Dunder"}
	companySuffix = []string{"Ltd", "GmbH", "Inc", "LLC", "SA", "BV", "Pty", "AB"}
	terms         = []int{0, 14, 30, 30, 30, 45, 60}
	clerks        = []string{"clerk-ana", "clerk-bo", "clerk-chen", "controller-dee", "clerk-eli"}
	methods       = []string{"bank_transfer", "bank_transfer", "bank_transfer", "bank_transfer", "bank_transfer",
		"bank_transfer", "bank_transfer", "card", "card", "card", "direct_debit", "direct_debit", "check"}
	taxRates = []string{"20", "20", "20", "10", "5.5", "0", "", ""} // "" is a line without tax
)

type catalogItem struct {
	desc     string
	min, max int64 // unit amount in minor units
	qty      []string
}

var catalog = []catalogItem{
	{"Consulting services", 9_000, 25_000, []string{"1", "2.5", "4", "8", "12", "16", "40"}},
	{"Software subscription", 2_900, 49_900, []string{"1", "5", "10", "25"}},
	{"Support plan", 15_000, 120_000, []string{"1"}},
	{"Implementation", 100_000, 1_500_000, []string{"1"}},
	{"Training session", 50_000, 250_000, []string{"1", "2"}},
	{"Hardware", 20_000, 300_000, []string{"1", "2", "3", "5"}},
	{"Travel expenses", 5_000, 150_000, []string{"1"}},
	{"Cloud hosting", 1_000, 90_000, []string{"1", "3", "12"}},
	{"License fee", 10_000, 500_000, []string{"1", "2"}},
	{"Freight", 2_500, 40_000, []string{"1", "1.5", "2.25"}},
}

// usage lines are priced per unit in major units, below one minor unit.
var usagePrices = []string{"0.0125", "0.004", "0.0009"}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func canonical(s string) string {
	d, err := money.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d.String()
}

// genLines generates n priced lines, deterministically from seed, with ids at time t:
// the seed regenerates the same lines for the COPY and for the recorded events.
func genLines(seed uint64, n int, currency string, t time.Time) []invoices.Line {
	r := rand.New(rand.NewPCG(seed, 0x6c696e65))
	exp, _ := money.Exponent(currency)
	lines := make([]invoices.Line, n)
	for i := range lines {
		l := invoices.Line{ID: v7At(t, r), Position: i + 1}
		if r.IntN(20) == 0 {
			l.Description = "API calls"
			price := pick(r, usagePrices)
			qty := canonical(pick(r, []string{"1000", "25000", "120000", "500000"}))
			l.Quantity, l.UnitPrice = qty, &price
			q, _ := money.ParseDecimal(qty)
			p, _ := money.ParseDecimal(price)
			l.AmountMinor = must(money.LineAmountPrice(q, p, exp, money.HalfEven))
		} else {
			it := pick(r, catalog)
			unit := it.min + r.Int64N(it.max-it.min+1)
			l.Description, l.Quantity, l.UnitAmountMinor = it.desc, canonical(pick(r, it.qty)), &unit
			q, _ := money.ParseDecimal(l.Quantity)
			l.AmountMinor = must(money.LineAmount(q, unit, money.HalfEven))
		}
		if rate := pick(r, taxRates); rate != "" {
			rate = canonical(rate)
			l.TaxRate = &rate
			d, _ := money.ParseDecimal(rate)
			l.TaxMinor = must(money.Tax(l.AmountMinor, d, money.HalfEven))
		}
		l.TotalMinor = l.AmountMinor + l.TaxMinor
		lines[i] = l
	}
	return lines
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// totals are the exact sums of the rounded lines, tax rounded per line (tenants have
// no tax_rounding setting).
func totals(lines []invoices.Line) (subtotal, tax, total int64) {
	for _, l := range lines {
		subtotal += l.AmountMinor
		tax += l.TaxMinor
	}
	return subtotal, tax, subtotal + tax
}

// Sizes is how much to seed.
type Sizes struct {
	Tenants        int `json:"tenants"`
	Counterparties int `json:"counterparties"`
	Invoices       int `json:"invoices"`
	// HeavyWeight is the first tenant's weight, in data and in traffic; the others weigh 1.
	HeavyWeight int `json:"heavy_weight"`
}

// DefaultHeavyWeight is the first tenant's share against each other tenant's 1: real
// deployments have one customer far larger than the rest, and per-tenant locks (audit
// chain head, document counters) make that the contended case.
const DefaultHeavyWeight = 10

// linesPerInvoice is the shape of every seeded and created invoice.
const linesPerInvoice = 3

// generate builds the tenants and their history in memory.
func generate(sz Sizes, seed uint64, now time.Time) []*Tenant {
	weights := make([]int, sz.Tenants)
	for i := range weights {
		weights[i] = 1
	}
	weights[0] = max(sz.HeavyWeight, 1)
	cps := distribute(sz.Counterparties, weights)
	invs := distribute(sz.Invoices, weights)
	tenants := make([]*Tenant, sz.Tenants)
	for i := range tenants {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		t := &Tenant{
			ID:     v7At(now.Add(-400*24*time.Hour), r),
			Name:   pick(r, companyWords) + " " + pick(r, companySuffix),
			Weight: weights[i],
		}
		genCounterparties(t, max(cps[i], 2), r, now)
		genInvoices(t, invs[i], r, now)
		genPayments(t, r, now)
		tenants[i] = t
	}
	return tenants
}

func genCounterparties(t *Tenant, n int, r *rand.Rand, now time.Time) {
	start := now.Add(-400 * 24 * time.Hour)
	for i := range n {
		kind := counterparties.Customer
		switch k := r.IntN(10); {
		case i == 1 || (i > 1 && k >= 7 && k < 9):
			kind = counterparties.Vendor
		case i > 1 && k == 9:
			kind = counterparties.Both
		}
		cur := "USD"
		if r.IntN(10) == 0 {
			cur = "EUR"
		}
		created := start.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
		word := pick(r, companyWords)
		c := Counterparty{
			ID: v7At(created, r), Kind: kind, Currency: cur, Terms: pick(r, terms), created: created,
			name: word + " " + pick(r, companySuffix) + " " + strconv.Itoa(i+1),
		}
		if r.IntN(10) < 8 {
			e := "ap@" + strings.ToLower(word) + "-" + strconv.Itoa(i+1) + ".example"
			c.email = &e
		}
		if r.IntN(10) < 6 {
			v := "US" + pad(r.IntN(1_000_000_000), 9)
			c.taxID = &v
		}
		if r.IntN(10) < 3 {
			v := "CRM-" + pad(i+1, 6)
			c.external = &v
		}
		t.Counterparties = append(t.Counterparties, c)
	}
	// Creation order is id order, as the API would have written them.
	sort.Slice(t.Counterparties, func(a, b int) bool { return t.Counterparties[a].created.Before(t.Counterparties[b].created) })
	for i, c := range t.Counterparties {
		if c.Kind != counterparties.Vendor {
			t.Customers = append(t.Customers, i)
		}
		if c.Kind != counterparties.Customer {
			t.Vendors = append(t.Vendors, i)
		}
	}
}

func genInvoices(t *Tenant, n int, r *rand.Rand, now time.Time) {
	start := now.Add(-365 * 24 * time.Hour)
	span := int64(364 * 24 * time.Hour)
	for i := range n {
		inv := &seedInvoice{direction: invoices.Receivable, status: invoices.Open, lineSeed: r.Uint64()}
		if r.IntN(4) == 0 {
			inv.direction = invoices.Payable
		}
		pool := t.Customers
		if inv.direction == invoices.Payable {
			pool = t.Vendors
		}
		inv.cp = pick(r, pool)
		cp := t.Counterparties[inv.cp]
		inv.currency = cp.Currency
		inv.created = start.Add(time.Duration(r.Int64N(span))).Truncate(time.Microsecond)
		inv.id = v7At(inv.created, r)
		inv.issue = civil.DateOf(inv.created)
		inv.due = inv.issue.AddDays(cp.Terms)
		if r.IntN(100) < 8 {
			inv.status = invoices.Draft
		}
		if r.IntN(5) == 0 {
			m := "PO " + pad(4_500_000_000+r.IntN(1_000_000), 10)
			inv.memo = &m
		}
		if r.IntN(10) < 3 {
			v := "ERP-" + pad(i+1, 7)
			inv.external = &v
		}
		inv.subtotal, inv.tax, inv.total = totals(genLines(inv.lineSeed, linesPerInvoice, inv.currency, inv.created))
		t.invoices = append(t.invoices, inv)
	}
	// Numbers are gapless per direction in the order invoices were issued.
	sort.Slice(t.invoices, func(a, b int) bool { return t.invoices[a].created.Before(t.invoices[b].created) })
	last := map[invoices.Direction]int64{}
	for _, inv := range t.invoices {
		if inv.status != invoices.Draft {
			last[inv.direction]++
			inv.number = last[inv.direction]
		}
		t.Invoices = append(t.Invoices, inv.id)
	}
}

// genPayments pays about 60% of the issued invoices: a third of those in full, the
// rest in part, so most invoices stay open. One payment in ten is larger than what it
// allocates, leaving a remainder as real payments do.
func genPayments(t *Tenant, r *rand.Rand, now time.Time) {
	latest := now.Add(-time.Minute)
	for _, inv := range t.invoices {
		if inv.status == invoices.Draft || r.IntN(10) >= 6 {
			continue
		}
		at := inv.created.Add(time.Hour + time.Duration(r.Int64N(int64(60*24*time.Hour))))
		if at.After(latest) {
			at = inv.created.Add(latest.Sub(inv.created) / 2)
		}
		at = at.Truncate(time.Microsecond)
		p := &seedPayment{inv: inv, created: at, value: civil.DateOf(at), method: pick(r, methods), actor: pick(r, clerks)}
		p.id = v7At(at, r)
		p.alloc = v7At(at, r)
		p.allocated = inv.total
		if r.IntN(3) != 0 && inv.total > 1 {
			p.allocated = 1 + r.Int64N(inv.total-1)
		}
		p.amount = p.allocated
		if r.IntN(10) == 0 {
			p.amount += 1 + r.Int64N(5_000)
		}
		p.reference = "Remittance " + invoices.Number(inv.direction, inv.number)
		if r.IntN(5) == 0 {
			v := "BANK-" + pad(len(t.payments)+1, 7)
			p.external = &v
		}
		inv.paid = p.allocated
		if inv.paid == inv.total {
			inv.status = invoices.Paid
		}
		t.payments = append(t.payments, p)
	}
	for _, inv := range t.invoices {
		if inv.direction == invoices.Receivable && inv.status == invoices.Open && inv.total-inv.paid >= openDueFloor {
			t.Open = append(t.Open, OpenInvoice{
				ID: inv.id, Counterparty: t.Counterparties[inv.cp].ID, Currency: inv.currency, Due: inv.total - inv.paid,
			})
		}
	}
}

// The records below are the JSON the API writes to the outbox and the audit trail for
// each change, built from the API's own types.

func (c Counterparty) record() counterparties.Counterparty {
	cur := c.Currency
	return counterparties.Counterparty{
		ID: c.ID, Object: "counterparty", Name: c.name, Kind: c.Kind, Email: c.email, TaxID: c.taxID,
		DefaultCurrency: &cur, PaymentTermsDays: c.Terms, ExternalID: c.external, Version: 1,
		CreatedAt: c.created, UpdatedAt: c.created,
	}
}

// created is the invoice as its create request returned it.
func (inv *seedInvoice) asCreated(t *Tenant) invoices.Invoice {
	status := inv.status
	if status == invoices.Paid {
		status = invoices.Open
	}
	out := invoices.Invoice{Summary: invoices.Summary{
		ID: inv.id, Object: "invoice", Direction: inv.direction, Status: status, CounterpartyID: t.Counterparties[inv.cp].ID,
		Currency: inv.currency, IssueDate: inv.issue, DueDate: inv.due, Memo: inv.memo, ExternalID: inv.external,
		SubtotalMinor: inv.subtotal, TaxMinor: inv.tax, TotalMinor: inv.total, AmountDueMinor: inv.total,
		TaxRounding: invoices.PerLine, Version: 1, CreatedAt: inv.created, UpdatedAt: inv.created,
	}, Lines: genLines(inv.lineSeed, linesPerInvoice, inv.currency, inv.created)}
	if inv.number > 0 {
		n := invoices.Number(inv.direction, inv.number)
		at := inv.created
		out.Number, out.FinalizedAt = &n, &at
	}
	return out
}

// invoiceState is what the payments service records of an invoice it allocates to.
type invoiceState struct {
	ID             uuid.UUID `json:"id"`
	Direction      string    `json:"direction"`
	Status         string    `json:"status"`
	Currency       string    `json:"currency"`
	TotalMinor     int64     `json:"total_minor"`
	AmountPaid     int64     `json:"amount_paid_minor"`
	AmountCredited int64     `json:"amount_credited_minor"`
	AmountDue      int64     `json:"amount_due_minor"`
	Version        int       `json:"version"`
}

func (p *seedPayment) direction() payments.Direction {
	if p.inv.direction == invoices.Payable {
		return payments.Outgoing
	}
	return payments.Incoming
}

// summary is the payment as read back after its allocation's trigger ran.
func (p *seedPayment) summary(t *Tenant) payments.Summary {
	method := p.method
	ref := p.reference
	return payments.Summary{
		ID: p.id, Object: "payment", Direction: p.direction(), Status: payments.Posted,
		CounterpartyID: t.Counterparties[p.inv.cp].ID, AmountMinor: p.amount, AmountAllocatedMinor: p.allocated,
		AmountUnallocatedMinor: p.amount - p.allocated, Currency: p.inv.currency, ValueDate: p.value,
		Method: &method, Reference: &ref, ExternalID: p.external, Version: 2, CreatedAt: p.created, UpdatedAt: p.created,
	}
}

func (p *seedPayment) allocation() payments.Allocation {
	return payments.Allocation{
		ID: p.alloc, Object: "allocation", PaymentID: p.id, InvoiceID: p.inv.id, AmountMinor: p.allocated,
		Currency: p.inv.currency, EffectiveDate: p.value, Status: "active", CreatedAt: p.created,
	}
}

func (p *seedPayment) invoiceStates() (before, after invoiceState) {
	inv := p.inv
	before = invoiceState{
		ID: inv.id, Direction: string(inv.direction), Status: string(invoices.Open), Currency: inv.currency,
		TotalMinor: inv.total, AmountDue: inv.total, Version: 1,
	}
	after = before
	after.AmountPaid, after.AmountDue, after.Version = p.allocated, inv.total-p.allocated, 2
	if after.AmountDue == 0 {
		after.Status = string(invoices.Paid)
	}
	return before, after
}

func pad(n, width int) string { return fmt.Sprintf("%0*d", width, n) }

// newIDSource is the randomness of the ids of one tenant's records.
func newIDSource(tenant uint64) *rand.Rand { return rand.New(rand.NewPCG(0x7265636f7264, tenant)) }
