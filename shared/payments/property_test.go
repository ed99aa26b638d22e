package payments_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// The model: what the books must say after any sequence of money movements.
type modelInvoice struct {
	total, paid, credited int64
	status                string
}

type modelPayment struct {
	amount, allocated int64
	reversed          bool
	allocations       []uuid.UUID // active ones
}

type modelAllocation struct {
	payment, invoice uuid.UUID
	amount           int64
}

type books struct {
	t        *rapid.T
	ctx      context.Context
	inv      *invoices.Service
	pay      *payments.Service
	actor    audit.Actor
	customer uuid.UUID
	d        *dbtest.Database

	invoices    map[uuid.UUID]*modelInvoice
	invoiceIDs  []uuid.UUID
	payments    map[uuid.UUID]*modelPayment
	paymentIDs  []uuid.UUID
	allocations map[uuid.UUID]modelAllocation
	allocIDs    []uuid.UUID
}

func (m *books) due(id uuid.UUID) int64 {
	i := m.invoices[id]
	return i.total - i.paid - i.credited
}

// settle applies the status rule: open (or uncollectible) with nothing due is paid, and
// a paid invoice that owes again re-opens.
func (m *books) settle(inv *modelInvoice) {
	due := inv.total - inv.paid - inv.credited
	switch {
	case (inv.status == "open" || inv.status == "uncollectible") && due == 0:
		inv.status = "paid"
	case inv.status == "paid" && due > 0:
		inv.status = "open"
	}
}

func (m *books) credit(t *rapid.T) {
	if len(m.invoiceIDs) == 0 {
		t.Skip("no invoice")
	}
	iid := rapid.SampledFrom(m.invoiceIDs).Draw(t, "invoice")
	inv := m.invoices[iid]
	amount := rapid.Int64Range(1, max(m.due(iid), 1)+3).Draw(t, "credit")
	_, err := m.inv.CreateCreditNote(m.ctx, m.actor, iid, invoices.CreditNoteInput{Reason: "goodwill", AmountMinor: &amount})
	var want string
	switch {
	case inv.status == "void" || inv.status == "draft":
		want = "invoice_not_open"
	case amount > m.due(iid):
		want = "credit_exceeds_amount_due"
	}
	if want != "" {
		require.Equal(t, want, apperr.From(err).Code)
		return
	}
	require.NoError(t, err)
	inv.credited += amount
	m.settle(inv)
}

func (m *books) void(t *rapid.T) {
	if len(m.invoiceIDs) == 0 {
		t.Skip("no invoice")
	}
	iid := rapid.SampledFrom(m.invoiceIDs).Draw(t, "invoice")
	inv := m.invoices[iid]
	_, err := m.inv.Void(m.ctx, m.actor, iid, invoices.ReasonInput{})
	switch {
	case inv.status != "open" && inv.status != "uncollectible":
		require.Equal(t, "invoice_not_open", apperr.From(err).Code)
	case inv.paid > 0:
		require.Equal(t, "invoice_has_allocations", apperr.From(err).Code)
	default:
		require.NoError(t, err)
		inv.status = "void"
	}
}

func (m *books) markUncollectible(t *rapid.T) {
	if len(m.invoiceIDs) == 0 {
		t.Skip("no invoice")
	}
	iid := rapid.SampledFrom(m.invoiceIDs).Draw(t, "invoice")
	inv := m.invoices[iid]
	controller := m.actor // separation of duties: not whoever raised the invoice
	controller.ID = "controller"
	_, err := m.inv.MarkUncollectible(m.ctx, controller, iid, invoices.ReasonInput{})
	if inv.status != "open" {
		require.Equal(t, "invoice_not_open", apperr.From(err).Code)
		return
	}
	require.NoError(t, err)
	inv.status = "uncollectible"
}

func (m *books) createInvoice(t *rapid.T) {
	qty := rapid.IntRange(1, 5).Draw(t, "qty")
	unit := rapid.Int64Range(1, 20000).Draw(t, "unit")
	unitAmount := unit
	open := invoices.Open
	inv, err := m.inv.Create(m.ctx, m.actor, invoices.CreateInput{
		Direction: invoices.Receivable, CounterpartyID: m.customer, Currency: "USD",
		IssueDate: civil.Date{Year: 2026, Month: 11, Day: 1}, Status: &open,
		Lines: []invoices.LineInput{{Description: "item", Quantity: fmt.Sprint(qty), UnitAmountMinor: &unitAmount}},
	})
	require.NoError(t, err)
	require.Equal(t, int64(qty)*unit, inv.TotalMinor)
	m.invoices[inv.ID] = &modelInvoice{total: inv.TotalMinor, status: "open"}
	m.invoiceIDs = append(m.invoiceIDs, inv.ID)
}

func (m *books) createPayment(t *rapid.T) {
	amount := rapid.Int64Range(1, 60000).Draw(t, "amount")
	p, err := m.pay.Create(m.ctx, m.actor, payments.CreateInput{
		Direction: payments.Incoming, CounterpartyID: m.customer, AmountMinor: amount, Currency: "USD",
		ValueDate: civil.Date{Year: 2026, Month: 11, Day: 10},
	})
	require.NoError(t, err)
	m.payments[p.ID] = &modelPayment{amount: amount}
	m.paymentIDs = append(m.paymentIDs, p.ID)
}

func (m *books) allocate(t *rapid.T) {
	if len(m.paymentIDs) == 0 || len(m.invoiceIDs) == 0 {
		t.Skip("nothing to allocate")
	}
	pid := rapid.SampledFrom(m.paymentIDs).Draw(t, "payment")
	iid := rapid.SampledFrom(m.invoiceIDs).Draw(t, "invoice")
	p, inv := m.payments[pid], m.invoices[iid]
	// Mostly plausible amounts, sometimes too much, to exercise the refusals.
	limit := min(p.amount-p.allocated, m.due(iid))
	amount := rapid.Int64Range(1, max(limit, 1)+5).Draw(t, "amount")

	got, err := m.pay.Allocate(m.ctx, m.actor, pid, payments.AllocateInput{Allocations: []payments.AllocationInput{{InvoiceID: iid, AmountMinor: amount}}})
	var want string
	switch {
	case p.reversed:
		want = "payment_reversed"
	case inv.status != "open" && inv.status != "uncollectible":
		want = "invoice_not_open"
	case amount > m.due(iid):
		want = "allocation_exceeds_amount_due"
	case amount > p.amount-p.allocated:
		want = "allocation_exceeds_unallocated"
	}
	if want != "" {
		require.Error(t, err)
		require.Equal(t, want, apperr.From(err).Code)
		return
	}
	require.NoError(t, err)
	newest := got.Allocations[len(got.Allocations)-1]
	p.allocated += amount
	p.allocations = append(p.allocations, newest.ID)
	inv.paid += amount
	m.settle(inv)
	m.allocations[newest.ID] = modelAllocation{payment: pid, invoice: iid, amount: amount}
	m.allocIDs = append(m.allocIDs, newest.ID)
}

func (m *books) reverseAllocation(t *rapid.T) {
	if len(m.allocIDs) == 0 {
		t.Skip("no allocation")
	}
	aid := rapid.SampledFrom(m.allocIDs).Draw(t, "allocation")
	a := m.allocations[aid]
	_, err := m.pay.ReverseAllocation(m.ctx, m.actor, a.payment, aid, payments.ReverseInput{Reason: "test"})
	if !active(m.payments[a.payment], aid) {
		require.Equal(t, "allocation_reversed", apperr.From(err).Code)
		return
	}
	require.NoError(t, err)
	m.unapply(aid)
}

func (m *books) reversePayment(t *rapid.T) {
	if len(m.paymentIDs) == 0 {
		t.Skip("no payment")
	}
	pid := rapid.SampledFrom(m.paymentIDs).Draw(t, "payment")
	p := m.payments[pid]
	_, err := m.pay.Reverse(m.ctx, m.actor, pid, payments.ReverseInput{Reason: "bounced"})
	if p.reversed {
		require.Equal(t, "payment_reversed", apperr.From(err).Code)
		return
	}
	require.NoError(t, err)
	for _, aid := range append([]uuid.UUID(nil), p.allocations...) {
		m.unapply(aid)
	}
	p.reversed = true
}

func (m *books) unapply(aid uuid.UUID) {
	a := m.allocations[aid]
	p, inv := m.payments[a.payment], m.invoices[a.invoice]
	p.allocated -= a.amount
	for i, id := range p.allocations {
		if id == aid {
			p.allocations = append(p.allocations[:i], p.allocations[i+1:]...)
			break
		}
	}
	inv.paid -= a.amount
	m.settle(inv)
}

func active(p *modelPayment, aid uuid.UUID) bool {
	for _, id := range p.allocations {
		if id == aid {
			return true
		}
	}
	return false
}

// check compares the database with the model and with the invariants themselves.
func (m *books) check(t *rapid.T) {
	for id, want := range m.invoices {
		got, err := m.inv.Get(m.ctx, m.actor.TenantID, id)
		require.NoError(t, err)
		require.Equal(t, want.paid, got.AmountPaidMinor, "invoice %s paid", id)
		require.Equal(t, want.credited, got.AmountCreditedMinor, "invoice %s credited", id)
		require.Equal(t, want.total-want.paid-want.credited, got.AmountDueMinor)
		require.Equal(t, want.status, string(got.Status))
	}
	for id, want := range m.payments {
		got, err := m.pay.Get(m.ctx, m.actor.TenantID, id)
		require.NoError(t, err)
		require.Equal(t, want.allocated, got.AmountAllocatedMinor, "payment %s allocated", id)
		require.LessOrEqual(t, got.AmountAllocatedMinor, got.AmountMinor)
		require.Equal(t, want.reversed, got.Status == payments.Reversed)
		var sum int64
		for _, a := range got.Allocations {
			if a.Status == "active" {
				sum += a.AmountMinor
			}
		}
		require.Equal(t, got.AmountAllocatedMinor, sum, "the counter equals the active allocations")
	}
	var broken int
	require.NoError(t, m.d.Admin.QueryRow(m.ctx, `
SELECT count(*) FROM invoices i
 WHERE i.tenant_id = $1 AND i.amount_paid_minor <> coalesce((SELECT sum(amount_minor) FROM allocations a
       WHERE a.invoice_id = i.id AND a.reversed_at IS NULL), 0)`, m.actor.TenantID).Scan(&broken))
	require.Zero(t, broken)
}

func TestMoneyMovementsMatchTheModel(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	cps := &counterparties.Service{DB: d.App, Now: time.Now}
	rapid.Check(t, func(t *rapid.T) {
		tenant := d.NewTenant(t, "Model")
		actor := audit.Actor{TenantID: tenant, Type: "user", ID: "model"}
		cp, err := cps.Create(ctx, actor, counterparties.CreateInput{Name: "Customer", Kind: counterparties.Customer})
		require.NoError(t, err)
		m := &books{
			t: t, ctx: ctx, actor: actor, customer: cp.ID, d: d,
			inv: &invoices.Service{DB: d.App, Now: time.Now}, pay: &payments.Service{DB: d.App, Now: time.Now},
			invoices: map[uuid.UUID]*modelInvoice{}, payments: map[uuid.UUID]*modelPayment{}, allocations: map[uuid.UUID]modelAllocation{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"createInvoice":     m.createInvoice,
			"createPayment":     m.createPayment,
			"allocate":          m.allocate,
			"reverseAllocation": m.reverseAllocation,
			"reversePayment":    m.reversePayment,
			"credit":            m.credit,
			"void":              m.void,
			"markUncollectible": m.markUncollectible,
			"":                  m.check,
		})
		var v audit.Verification
		require.NoError(t, d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
			var err error
			v, err = audit.Verify(ctx, tx)
			return err
		}))
		require.True(t, v.Valid, "the audit chain holds after %d events", v.Events)
	})
}
