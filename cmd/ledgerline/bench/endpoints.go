package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/money"
)

// Endpoint is one function under test. Adding an operation to the benchmark is one
// entry in Endpoints: its entry point, how to build a request of the realistic mix,
// and, when PostgreSQL's own limit is worth comparing, the pgbench script that runs
// the same transaction and the request that script mirrors.
type Endpoint struct {
	Name string // manifest entry point, served alone with FUNCTION_TARGET
	// SingleResource marks operations on one resource, held to the latency targets.
	SingleResource bool
	// Open builds a request of the open-model mix.
	Open func(w *World, r *rand.Rand) Request
	// Script is the pgbench script of the same transaction ("" for none) and Slot the
	// request it mirrors, for one of the comparison slots.
	Script string
	Slot   func(w *World, s Slot, r *rand.Rand) Request
}

// Endpoints are the functions benchmarked, in the order they run.
var Endpoints = []Endpoint{
	{Name: "InvoicesCreate", SingleResource: true, Open: createInvoice, Script: "create_invoice.sql", Slot: createInvoiceForSlot},
	{Name: "InvoicesGet", SingleResource: true, Open: getInvoice, Script: "get_invoice.sql", Slot: getInvoiceForSlot},
	{Name: "InvoicesList", Open: listInvoices},
	{Name: "PaymentsCreate", SingleResource: true, Open: recordPayment, Script: "record_payment.sql", Slot: recordPaymentForSlot},
}

// Slot is one (tenant, customer, open receivable) that both pgbench and the closed
// model pick uniformly, so the two runs contend on exactly the same rows. Slots are
// spread over tenants by weight.
type Slot struct {
	Tenant       *Tenant
	Counterparty uuid.UUID
	Invoice      uuid.UUID
	Currency     string
}

// World is what requests are built from: the seeded tenants and the slots.
type World struct {
	Tenants []*Tenant
	Slots   []Slot
	cum     []int // cumulative weights
	today   civil.Date
}

func newWorld(ts []*Tenant, slots []Slot, now time.Time) *World {
	w := &World{Tenants: ts, Slots: slots, today: civil.DateOf(now)}
	sum := 0
	for _, t := range ts {
		sum += t.Weight
		w.cum = append(w.cum, sum)
	}
	return w
}

// tenant picks a tenant by weight: the heavy tenant gets ten times the traffic of
// each other one.
func (w *World) tenant(r *rand.Rand) *Tenant {
	n := r.IntN(w.cum[len(w.cum)-1])
	for i, c := range w.cum {
		if n < c {
			return w.Tenants[i]
		}
	}
	return w.Tenants[len(w.Tenants)-1]
}

// tenantWith picks a tenant by weight among those that have what the request needs.
func (w *World) tenantWith(r *rand.Rand, ok func(*Tenant) bool) *Tenant {
	for range 100 {
		if t := w.tenant(r); ok(t) {
			return t
		}
	}
	for _, t := range w.Tenants {
		if ok(t) {
			return t
		}
	}
	return w.Tenants[0]
}

// lineInput is a request line; absent members are left out rather than sent as null.
type lineInput struct {
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitAmountMinor *int64  `json:"unit_amount_minor,omitempty"`
	UnitPrice       *string `json:"unit_price,omitempty"`
	TaxRate         *string `json:"tax_rate,omitempty"`
}

type createInvoiceInput struct {
	Direction      string      `json:"direction"`
	CounterpartyID uuid.UUID   `json:"counterparty_id"`
	Currency       string      `json:"currency"`
	IssueDate      civil.Date  `json:"issue_date"`
	Status         string      `json:"status"`
	Memo           *string     `json:"memo,omitempty"`
	Lines          []lineInput `json:"lines"`
}

func inputs(lines []invoices.Line) []lineInput {
	out := make([]lineInput, len(lines))
	for i, l := range lines {
		out[i] = lineInput{Description: l.Description, Quantity: l.Quantity, UnitAmountMinor: l.UnitAmountMinor,
			UnitPrice: l.UnitPrice, TaxRate: l.TaxRate}
	}
	return out
}

func post(path, token string, body any) Request {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return Request{Method: "POST", Path: path, Body: b, Token: token}
}

// createInvoice: an invoice (four in five) or a vendor's bill, issued at once (85%) or
// kept as a draft, with three lines like the seeded ones.
func createInvoice(w *World, r *rand.Rand) Request {
	t := w.tenant(r)
	dir, pool := invoices.Receivable, t.Customers
	if r.IntN(5) == 0 {
		dir, pool = invoices.Payable, t.Vendors
	}
	cp := t.Counterparties[pick(r, pool)]
	status := "open"
	if r.IntN(100) < 15 {
		status = "draft"
	}
	in := createInvoiceInput{
		Direction: string(dir), CounterpartyID: cp.ID, Currency: cp.Currency, IssueDate: w.today, Status: status,
		Lines: inputs(genLines(r.Uint64(), linesPerInvoice, cp.Currency, time.Now())),
	}
	if r.IntN(5) == 0 {
		m := fmt.Sprintf("PO %010d", 4_500_000_000+r.IntN(1_000_000))
		in.Memo = &m
	}
	return post("/v1/invoices", t.Token, in)
}

// compareLines are the lines of every invoice the comparison creates, in the request
// and, with their totals, in the pgbench script.
var compareLines = func() []invoices.Line {
	u := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	lines := []invoices.Line{
		{Position: 1, Description: "Consulting services", Quantity: "8", UnitAmountMinor: u(15_000), TaxRate: s("20")},
		{Position: 2, Description: "Software subscription", Quantity: "5", UnitAmountMinor: u(4_900), TaxRate: s("20")},
		{Position: 3, Description: "Travel expenses", Quantity: "1", UnitAmountMinor: u(23_850)},
	}
	for i := range lines {
		l := &lines[i]
		q, _ := money.ParseDecimal(l.Quantity)
		l.AmountMinor = must(money.LineAmount(q, *l.UnitAmountMinor, money.HalfEven))
		if l.TaxRate != nil {
			rate, _ := money.ParseDecimal(*l.TaxRate)
			l.TaxMinor = must(money.Tax(l.AmountMinor, rate, money.HalfEven))
		}
		l.TotalMinor = l.AmountMinor + l.TaxMinor
	}
	return lines
}()

// createInvoiceForSlot issues a receivable to the slot's customer: what
// create_invoice.sql does.
func createInvoiceForSlot(w *World, s Slot, _ *rand.Rand) Request {
	return post("/v1/invoices", s.Tenant.Token, createInvoiceInput{
		Direction: "receivable", CounterpartyID: s.Counterparty, Currency: s.Currency, IssueDate: w.today,
		Status: "open", Lines: inputs(compareLines),
	})
}

// getInvoice reads a random seeded invoice of a tenant.
func getInvoice(w *World, r *rand.Rand) Request {
	t := w.tenantWith(r, func(t *Tenant) bool { return len(t.Invoices) > 0 })
	return Request{Method: "GET", Path: "/v1/invoices/" + pick(r, t.Invoices).String(), Token: t.Token}
}

func getInvoiceForSlot(_ *World, s Slot, _ *rand.Rand) Request {
	return Request{Method: "GET", Path: "/v1/invoices/" + s.Invoice.String(), Token: s.Tenant.Token}
}

// listInvoices reads a first page of 20, unfiltered, open ones, or one counterparty's.
func listInvoices(w *World, r *rand.Rand) Request {
	t := w.tenant(r)
	q := url.Values{"limit": {"20"}}
	switch r.IntN(3) {
	case 1:
		q.Set("status", "open")
	case 2:
		q.Set("counterparty_id", pick(r, t.Counterparties).ID.String())
	}
	return Request{Method: "GET", Path: "/v1/invoices?" + q.Encode(), Token: t.Token}
}

type allocationInput struct {
	InvoiceID   uuid.UUID `json:"invoice_id"`
	AmountMinor int64     `json:"amount_minor"`
}

type paymentInput struct {
	Direction      string            `json:"direction"`
	CounterpartyID uuid.UUID         `json:"counterparty_id"`
	AmountMinor    int64             `json:"amount_minor"`
	Currency       string            `json:"currency"`
	ValueDate      civil.Date        `json:"value_date"`
	Method         string            `json:"method"`
	Allocations    []allocationInput `json:"allocations"`
}

// payment is an incoming payment of 1 to 100 minor units allocated in full to one
// open receivable: small enough that the seeded invoices never run out of amount due.
func payment(w *World, token string, cp, inv uuid.UUID, currency string, r *rand.Rand) Request {
	amount := 1 + r.Int64N(100)
	return post("/v1/payments", token, paymentInput{
		Direction: "incoming", CounterpartyID: cp, AmountMinor: amount, Currency: currency, ValueDate: w.today,
		Method: "bank_transfer", Allocations: []allocationInput{{InvoiceID: inv, AmountMinor: amount}},
	})
}

func recordPayment(w *World, r *rand.Rand) Request {
	t := w.tenantWith(r, func(t *Tenant) bool { return len(t.Open) > 0 })
	o := pick(r, t.Open)
	return payment(w, t.Token, o.Counterparty, o.ID, o.Currency, r)
}

func recordPaymentForSlot(w *World, s Slot, r *rand.Rand) Request {
	return payment(w, s.Tenant.Token, s.Counterparty, s.Invoice, s.Currency, r)
}

// slotDueFloor is the least amount due of a slot's invoice: the comparison allocates
// to slots tens of thousands of times, up to 100 minor units each.
const slotDueFloor = 1_000_000

// makeSlots spreads n slots over the tenants by weight, each on a distinct open
// receivable of its tenant where there are enough, preferring the largest amounts due.
func makeSlots(ts []*Tenant, n int, r *rand.Rand) []Slot {
	weights := make([]int, len(ts))
	for i, t := range ts {
		if len(t.Open) > 0 {
			weights[i] = t.Weight
		}
	}
	var slots []Slot
	for i, k := range distribute(n, weights) {
		t := ts[i]
		if k == 0 {
			continue
		}
		var big, rest []OpenInvoice
		for _, o := range t.Open {
			if o.Due >= slotDueFloor {
				big = append(big, o)
			} else {
				rest = append(rest, o)
			}
		}
		r.Shuffle(len(big), func(a, b int) { big[a], big[b] = big[b], big[a] })
		sort.Slice(rest, func(a, b int) bool { return rest[a].Due > rest[b].Due })
		pool := append(big, rest...)
		for j := range k {
			o := pool[j%len(pool)]
			slots = append(slots, Slot{Tenant: t, Counterparty: o.Counterparty, Invoice: o.ID, Currency: o.Currency})
		}
	}
	return slots
}
