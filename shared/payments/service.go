package payments

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Service is the payment use cases. Every money movement runs in one READ COMMITTED
// transaction that first locks the payment, then the invoices in id order (FOR UPDATE),
// checks the rules on those locked rows, writes, and records events and audit.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// Create records a payment and, optionally, its first allocations.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (Payment, error) {
	if err := in.validate(); err != nil {
		return Payment{}, err
	}
	now := s.now()
	p := Summary{
		ID: uuid.Must(uuid.NewV7()), Object: "payment", Direction: in.Direction, Status: Posted,
		CounterpartyID: in.CounterpartyID, AmountMinor: in.AmountMinor, AmountUnallocatedMinor: in.AmountMinor,
		Currency: in.Currency, ValueDate: in.ValueDate, Method: in.Method, Reference: in.Reference,
		ExternalID: in.ExternalID, Version: 1, CreatedAt: now, UpdatedAt: now, createdBy: actor.ID,
	}
	var out Payment
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var cp counterparties.Counterparty
		var found bool
		locked := map[uuid.UUID]invoiceState{}
		b := &pgx.Batch{}
		counterparties.QueueGet(b, actor.TenantID, in.CounterpartyID, &cp, &found)
		if len(in.Allocations) > 0 {
			queueLockInvoices(b, actor.TenantID, invoiceIDs(in.Allocations), locked)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
		}
		if err := checkCounterparty(in.Direction, cp.Kind); err != nil {
			return err
		}
		rows, err := plan(p, in.Allocations, locked, now)
		if err != nil {
			return err
		}
		out, err = s.record(ctx, tx, actor, change{
			paymentID:    p.ID,
			writes:       func(b *pgx.Batch) { queueInsertPayment(b, actor.TenantID, p) },
			allocations:  rows,
			direction:    p.Direction,
			invoices:     locked,
			paymentEvent: "payment.created",
			at:           now,
		})
		return err
	})
	if db.IsUniqueViolation(err, "payments_tenant_id_external_id_key") {
		return Payment{}, apperr.Wrap(err, apperr.Conflict, "payment_external_id_exists", "a payment with this external_id already exists")
	}
	return out, mapConstraint(err)
}

// Allocate applies more of a payment's unallocated remainder to invoices.
func (s *Service) Allocate(ctx context.Context, actor audit.Actor, paymentID uuid.UUID, in AllocateInput) (Payment, error) {
	f := apperr.Fields{}
	validateAllocations(in.Allocations, true, f)
	if err := f.Err(); err != nil {
		return Payment{}, err
	}
	now := s.now()
	var out Payment
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var p Summary
		var found bool
		locked := map[uuid.UUID]invoiceState{}
		b := &pgx.Batch{}
		queueLockPayment(b, actor.TenantID, paymentID, &p, &found)
		queueLockInvoices(b, actor.TenantID, invoiceIDs(in.Allocations), locked)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("payment")
		}
		rows, err := plan(p, in.Allocations, locked, now)
		if err != nil {
			return err
		}
		out, err = s.record(ctx, tx, actor, change{
			paymentID: p.ID, before: &p, allocations: rows, direction: p.Direction, invoices: locked,
			paymentEvent: "payment.allocated", at: now,
		})
		return err
	})
	return out, mapConstraint(err)
}

// ReverseAllocation takes one allocation back: the payment's remainder grows and the
// invoice owes again (a paid invoice re-opens).
func (s *Service) ReverseAllocation(ctx context.Context, actor audit.Actor, paymentID, allocationID uuid.UUID, in ReverseInput) (Payment, error) {
	if err := in.validate(); err != nil {
		return Payment{}, err
	}
	now := s.now()
	var out Payment
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var p Summary
		var a Allocation
		var foundP, foundA bool
		locked := map[uuid.UUID]invoiceState{}
		b := &pgx.Batch{}
		queueLockPayment(b, actor.TenantID, paymentID, &p, &foundP)
		queueGetAllocation(b, actor.TenantID, paymentID, allocationID, &a, &foundA)
		queueInvoices(b, `SELECT `+invoiceColumns+` FROM invoices WHERE tenant_id = $1 AND id =
    (SELECT invoice_id FROM allocations WHERE tenant_id = $1 AND payment_id = $2 AND id = $3) FOR UPDATE`,
			[]any{actor.TenantID, paymentID, allocationID}, locked)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		switch {
		case !foundP:
			return apperr.NotFoundf("payment")
		case !foundA:
			return apperr.NotFoundf("allocation")
		case a.ReversedAt != nil:
			return apperr.New(apperr.Conflict, "allocation_reversed", "the allocation is already reversed")
		}
		reason := strings.TrimSpace(in.Reason)
		var err error
		out, err = s.record(ctx, tx, actor, change{
			paymentID: p.ID, before: &p, invoices: locked, direction: p.Direction, reversed: []uuid.UUID{a.ID},
			writes: func(b *pgx.Batch) {
				queueReverseAllocations(b, actor.TenantID, p.ID, &a.ID, actor.ID, reason, now)
			},
			paymentEvent: "payment.allocation_reversed", at: now,
		})
		return err
	})
	return out, mapConstraint(err)
}

// Reverse takes back every active allocation of a payment and marks it reversed (a
// bounced or refunded payment).
func (s *Service) Reverse(ctx context.Context, actor audit.Actor, paymentID uuid.UUID, in ReverseInput) (Payment, error) {
	if err := in.validate(); err != nil {
		return Payment{}, err
	}
	now := s.now()
	var out Payment
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var p Payment
		var found bool
		locked := map[uuid.UUID]invoiceState{}
		b := &pgx.Batch{}
		queueLockPayment(b, actor.TenantID, paymentID, &p.Summary, &found)
		queueLockAllocatedInvoices(b, actor.TenantID, paymentID, locked)
		queueAllocations(b, actor.TenantID, paymentID, &p.Allocations)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("payment")
		}
		if p.Status == Reversed {
			return apperr.New(apperr.Conflict, "payment_reversed", "the payment is already reversed")
		}
		var active []uuid.UUID
		for _, a := range p.Allocations {
			if a.ReversedAt == nil {
				active = append(active, a.ID)
			}
		}
		reason := strings.TrimSpace(in.Reason)
		before := p.Summary
		var err error
		out, err = s.record(ctx, tx, actor, change{
			paymentID: p.ID, before: &before, invoices: locked, direction: p.Direction, reversed: active,
			writes: func(b *pgx.Batch) {
				queueReverseAllocations(b, actor.TenantID, p.ID, nil, actor.ID, reason, now)
				queueMarkReversed(b, actor.TenantID, p.ID, reason, now)
			},
			paymentEvent: "payment.reversed", at: now,
		})
		return err
	})
	return out, mapConstraint(err)
}

// Get returns a payment with its allocations.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Payment, error) {
	var p Payment
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGetPayment(b, tenantID, id, &p, &found) }); err != nil {
		return Payment{}, err
	}
	if !found {
		return Payment{}, apperr.NotFoundf("payment")
	}
	return p, nil
}

// GetByExternalID returns the payment with the caller's external id, if there is one;
// processors of bank feeds use it to recognise a transaction they already recorded.
func (s *Service) GetByExternalID(ctx context.Context, tenantID uuid.UUID, externalID string) (Payment, bool, error) {
	var p Payment
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGetPaymentByExternalID(b, tenantID, externalID, &p, &found) }); err != nil {
		return Payment{}, false, err
	}
	return p, found, nil
}

// List returns a page of payments, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Summary], error) {
	var rows []Summary
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Summary]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// change is one money movement, after its checks passed on locked rows.
type change struct {
	paymentID    uuid.UUID
	before       *Summary // nil when the payment is created
	writes       func(b *pgx.Batch)
	allocations  []Allocation // created
	reversed     []uuid.UUID  // allocations reversed
	direction    Direction
	invoices     map[uuid.UUID]invoiceState // locked, before the change
	paymentEvent string
	at           time.Time
}

// record performs the writes, reads back the payment and invoices (their versions and
// statuses are set by the database triggers), and writes events and audit records: two
// round trips. Audit goes last because it locks the tenant's chain head.
func (s *Service) record(ctx context.Context, tx pgx.Tx, actor audit.Actor, c change) (Payment, error) {
	var after Payment
	var found bool
	invoicesAfter := map[uuid.UUID]invoiceState{}
	touched := make([]uuid.UUID, 0, len(c.invoices))
	for id := range c.invoices {
		touched = append(touched, id)
	}
	sort.Slice(touched, func(i, j int) bool { return touched[i].String() < touched[j].String() })

	b := &pgx.Batch{}
	if c.writes != nil {
		c.writes(b)
	}
	if len(c.allocations) > 0 {
		queueInsertAllocations(b, actor.TenantID, c.direction, actor.ID, c.allocations)
	}
	queueGetPayment(b, actor.TenantID, c.paymentID, &after, &found)
	if len(touched) > 0 {
		queueReadInvoices(b, actor.TenantID, touched, invoicesAfter)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Payment{}, err
	}
	if !found {
		return Payment{}, apperr.NotFoundf("payment")
	}

	log := changes.New(actor, c.at)
	add := func(typ, entity string, id uuid.UUID, version int, after, before any) {
		log.Add(changes.Change{Type: typ, EntityType: entity, EntityID: id, Version: version, Before: before, After: after})
	}
	var paymentBefore any
	if c.before != nil {
		paymentBefore = *c.before
	}
	add(c.paymentEvent, "payment", after.ID, after.Version, after.Summary, paymentBefore)
	byID := map[uuid.UUID]Allocation{}
	for _, a := range after.Allocations {
		byID[a.ID] = a
	}
	for _, a := range c.allocations {
		add("allocation.created", "allocation", a.ID, 1, byID[a.ID], nil)
	}
	for _, id := range c.reversed {
		before := byID[id]
		before.Status, before.ReversedAt, before.ReversalReason = "active", nil, nil
		add("allocation.reversed", "allocation", id, 2, byID[id], before)
	}
	for _, id := range touched {
		before, after := c.invoices[id], invoicesAfter[id]
		add(invoiceEvent(before, after, len(c.reversed) > 0), "invoice", id, after.Version, after, before)
	}
	b = &pgx.Batch{}
	if err := log.Queue(b); err != nil {
		return Payment{}, err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Payment{}, err
	}
	return after, nil
}

func checkCounterparty(d Direction, kind counterparties.Kind) error {
	if d == Incoming && kind == counterparties.Vendor {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "an incoming payment comes from a customer; this counterparty is a vendor")
	}
	if d == Outgoing && kind == counterparties.Customer {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "an outgoing payment goes to a vendor; this counterparty is a customer")
	}
	return nil
}

func invoiceIDs(as []AllocationInput) []uuid.UUID {
	ids := make([]uuid.UUID, len(as))
	for i, a := range as {
		ids[i] = a.InvoiceID
	}
	return ids
}

// constraintCodes maps the database's own refusals (the backstop behind the checks on
// locked rows) to the problem codes the checks use.
var constraintCodes = map[string]*apperr.Error{
	"invoices_due_not_negative":        apperr.New(apperr.Unprocessable, "allocation_exceeds_amount_due", "the allocation exceeds the invoice's amount due"),
	"payments_allocated_within_amount": apperr.New(apperr.Unprocessable, "allocation_exceeds_unallocated", "the allocations exceed the payment"),
	"invoices_draft_untouched":         apperr.New(apperr.Conflict, "invoice_not_open", "a draft invoice takes no allocations"),
	"invoices_void_unallocated":        apperr.New(apperr.Conflict, "invoice_not_open", "a void invoice takes no allocations"),
	"allocations_direction_matches":    apperr.New(apperr.Unprocessable, "direction_mismatch", "the payment's direction does not settle this invoice"),
	"allocations_invoice_fk":           apperr.New(apperr.Unprocessable, "currency_mismatch", "the invoice's currency or direction differs from the payment's"),
	"allocations_payment_fk":           apperr.New(apperr.Unprocessable, "currency_mismatch", "the invoice's currency or direction differs from the payment's"),
	"payments_reversed_unallocated":    apperr.New(apperr.Conflict, "payment_reversed", "the payment is reversed"),
}

func mapConstraint(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if e, ok := constraintCodes[pgErr.ConstraintName]; ok {
			return apperr.Wrap(err, e.Kind, e.Code, e.Message)
		}
	}
	return db.Map(err)
}
