package proposals

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/sod"
)

// Service is the proposal use cases and the agent workflows that draft proposals.
type Service struct {
	DB  *db.DB
	Now func() time.Time
	// Gateway runs the agents; nil when none is configured, which the workflows treat
	// like a gateway that refuses (agent_unavailable).
	Gateway agents.Gateway
	// Cache serves the tenant's settings and feature flags; nil reads the database.
	Cache cache.Cache
	// InlineMax is how many customers an AR run drafts within its request; a run with
	// more is handed to the AgentRuns processor. 0 is DefaultInlineMax.
	InlineMax int
}

// New builds the service over a pool, a clock, the agent gateway and the cache.
func New(pool *db.DB, now func() time.Time, gw agents.Gateway, c cache.Cache) *Service {
	return &Service{DB: pool, Now: now, Gateway: gw, Cache: c}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) invoices() *invoices.Service { return &invoices.Service{DB: s.DB, Now: s.Now} }
func (s *Service) payments() *payments.Service { return &payments.Service{DB: s.DB, Now: s.Now} }
func (s *Service) counterparties() *counterparties.Service {
	return &counterparties.Service{DB: s.DB, Now: s.Now}
}
func (s *Service) features() *features.Service {
	return &features.Service{DB: s.DB, Cache: s.Cache, Now: s.Now}
}

// Get returns one proposal.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Proposal, error) {
	var p Proposal
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGet(b, tenantID, id, &p, &found) }); err != nil {
		return Proposal{}, err
	}
	if !found {
		return Proposal{}, apperr.NotFoundf("proposal")
	}
	return p, nil
}

// List returns a page of proposals, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Proposal], error) {
	var rows []Proposal
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Proposal]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// InvoiceIDsByNumber finds the invoices with a number, of one direction when d is
// given (an invoice and a bill may share a number).
func (s *Service) InvoiceIDsByNumber(ctx context.Context, tenantID uuid.UUID, number string, d *invoices.Direction) ([]uuid.UUID, error) {
	var dir *string
	if d != nil {
		v := string(*d)
		dir = &v
	}
	var ids []uuid.UUID
	err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueInvoiceIDsByNumber(b, tenantID, number, dir, &ids) })
	return ids, err
}

// newProposal is a pending proposal of content, made now.
func newProposal(content Content, rationale string, evidence []byte, flags []string, proposedBy Actor, now time.Time) Proposal {
	if flags == nil {
		flags = []string{}
	}
	sort.Strings(flags)
	return Proposal{
		ID: uuid.Must(uuid.NewV7()), Object: "proposal", Kind: content.kind(), Status: Pending, Content: content,
		Rationale: rationale, Evidence: evidence, Flags: flags, ProposedBy: proposedBy, Version: 1,
		CreatedAt: now, UpdatedAt: now,
	}
}

// errNotStored guards create: only a collection message may be refused by the
// one-message-per-stage rule, and only the partial index of that rule arbitrates the
// insert's ON CONFLICT.
var errNotStored = apperr.New(apperr.Internal, "internal", "a proposal was not stored")

// create stores p in tx and, only when it was stored, its event and audit record,
// which name the proposer as the actor: the agent proposed it, whoever asked it to run
// is RequestedBy. A collection message for a stage its customer already has one
// pending or approved for is not stored (false) and leaves no trace: its insert is
// sent on its own first, so a run that lost the race records no proposal.created for a
// proposal that does not exist. Any other proposal is never refused so, and goes with
// its records in one round trip.
func create(ctx context.Context, tx pgx.Tx, actor audit.Actor, p Proposal) (bool, error) {
	var inserted bool
	b := &pgx.Batch{}
	if err := queueInsert(b, actor.TenantID, p, &inserted); err != nil {
		return false, err
	}
	if p.Kind == CollectionMessage {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return false, err
		}
		if !inserted {
			return false, nil
		}
		b = &pgx.Batch{}
	}
	by := actor
	by.Type, by.ID = p.ProposedBy.Type, p.ProposedBy.ID
	log := changes.New(by, p.CreatedAt)
	log.Add(changes.Change{Type: "proposal.created", EntityType: "proposal", EntityID: p.ID, Version: p.Version, After: p})
	if err := log.Queue(b); err != nil {
		return false, err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	if !inserted {
		// Unreachable (see errNotStored); failing rolls the records back with the insert.
		return false, errNotStored
	}
	return true, nil
}

// errDecidedMeanwhile guards the decision's UPDATE; the row lock makes it unreachable
// unless something bypassed it.
var errDecidedMeanwhile = apperr.New(apperr.Conflict, "proposal_not_pending", "the proposal was decided meanwhile")

// Approve carries out a pending proposal as actor, with the edits of in, and records
// the decision, in one transaction: the domain service's own change, audit and events
// (a bill created, a payment allocated, an invoice written off, a dunning stage
// recorded as sent) commit with the proposal's, or nothing does. The proposal's audit
// record keeps its rationale and evidence and the content before and after the edits.
//
// A refusal that concerns the approver (separation of duties, an edit that is
// invalid) leaves the proposal pending for someone else or for other edits. A refusal
// by the books, which no approver can overcome (the invoice paid meanwhile, the payment
// used up), marks it failed, with the reason in its result, and is answered as the
// books answered.
//
// Under an Idempotency-Key the approval joins the request's transaction, which a
// refusal rolls back whole. So the approval runs in a savepoint of it, locks included:
// a refusal by the books rolls back to the savepoint, which leaves that transaction
// usable and releases the proposal's row lock, and the proposal is then marked failed
// in a transaction of its own (fail), which stands whatever becomes of the request's.
func (s *Service) Approve(ctx context.Context, actor audit.Actor, id uuid.UUID, in ApproveInput) (Proposal, error) {
	if err := checkDecider(ctx, actor); err != nil {
		return Proposal{}, err
	}
	now := s.now()
	var out Proposal
	var refusal error
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		refusal = nil
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		next, err := s.approve(db.WithTx(ctx, actor.TenantID, sp), sp, actor, id, in, now)
		if err != nil {
			if rbErr := sp.Rollback(ctx); rbErr != nil {
				return rbErr
			}
			var r *refusedByBooks
			if errors.As(err, &r) {
				refusal = r.err
				return refusal
			}
			return err
		}
		if err := sp.Commit(ctx); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil && refusal != nil {
		return Proposal{}, s.fail(db.WithoutTx(ctx), actor, id, refusal)
	}
	return out, err
}

// refusedByBooks marks an approval's error as the books refusing the proposal
// (booksRefused), which fails it.
type refusedByBooks struct{ err error }

func (r *refusedByBooks) Error() string { return r.err.Error() }
func (r *refusedByBooks) Unwrap() error { return r.err }

// approve carries out the pending proposal id and records the decision in tx (ctx
// carries it); see Approve.
func (s *Service) approve(ctx context.Context, tx pgx.Tx, actor audit.Actor, id uuid.UUID, in ApproveInput, now time.Time) (Proposal, error) {
	cur, err := lock(ctx, tx, actor.TenantID, id)
	if err != nil {
		return Proposal{}, err
	}
	if cur.Status != Pending {
		return Proposal{}, notPending(cur.Status)
	}
	if err := in.validate(cur.Kind); err != nil {
		return Proposal{}, err
	}
	if err := sod.ApproveOwnProposal.Check(ctx, tx, actor, cur.ID); err != nil {
		return Proposal{}, err
	}
	content := in.apply(cur.Content)
	result, err := s.execute(ctx, tx, actor, cur, content, now)
	if err != nil {
		if booksRefused(cur.Kind, err) {
			return Proposal{}, &refusedByBooks{err: err}
		}
		return Proposal{}, err
	}
	next := decided(cur, Approved, actor, in.Note, now)
	next.Content, next.Result = content, &result
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "proposal.approved", EntityType: "proposal", EntityID: next.ID, Version: next.Version,
		Before: cur, After: next})
	b := &pgx.Batch{}
	if err := queueDecide(b, actor.TenantID, next, cur.Version); err != nil {
		return Proposal{}, err
	}
	if err := log.Queue(b); err != nil {
		return Proposal{}, err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Proposal{}, err
	}
	return next, nil
}

// checkDecider refuses an agent as the one deciding, by the rule the handlers apply
// (IsAgent): an actor of type agent, or a request made by a principal that is an
// agent, such as an API client holding the agent role beside an approver's.
func checkDecider(ctx context.Context, actor audit.Actor) error {
	p, _ := auth.PrincipalFrom(ctx)
	if actor.Type == string(auth.ActorAgent) || IsAgent(p) {
		return agentCannotDecide()
	}
	return nil
}

// booksRefused reports whether err is the books refusing what a proposal of kind k
// would do, as opposed to the approver or the request: a conflict with the current
// state, or a rule of money (an amount above what is due), that no edit or other
// approver changes. Only allocations and write-offs act on entities that move on
// without them; whatever refuses a bill (a vendor that is no vendor, a line the rules
// of invoices refuse) is for the approver's edits to fix, and a message is refused by
// nothing.
func booksRefused(k Kind, err error) bool {
	if k != Allocation && k != WriteOff {
		return false
	}
	e := apperr.From(err)
	return (e.Kind == apperr.Conflict || e.Kind == apperr.Unprocessable) && len(e.Fields) == 0
}

// fail records that the books refused proposal id, in a transaction of its own (the
// approval's rolled back, or, under an Idempotency-Key, about to be: ctx must carry no
// ambient transaction), and returns the refusal with a word on the proposal.
func (s *Service) fail(ctx context.Context, actor audit.Actor, id uuid.UUID, refusal error) error {
	now := s.now()
	e := apperr.From(refusal)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if cur.Status != Pending {
			return nil // decided meanwhile by someone else; their decision stands
		}
		next := decided(cur, Failed, actor, nil, now)
		code, detail := e.Code, e.Message
		next.Result = &Result{ErrorCode: &code, ErrorDetail: &detail}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "proposal.failed", EntityType: "proposal", EntityID: next.ID, Version: next.Version,
			Before: cur, After: next})
		b := &pgx.Batch{}
		if err := queueDecide(b, actor.TenantID, next, cur.Version); err != nil {
			return err
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return err
	}
	return &apperr.Error{Kind: e.Kind, Code: e.Code, Err: e.Err,
		Message: e.Message + "; the proposal cannot be carried out as proposed and is now failed"}
}

// Reject turns down a pending proposal; nothing is done to the books.
func (s *Service) Reject(ctx context.Context, actor audit.Actor, id uuid.UUID, in RejectInput) (Proposal, error) {
	if err := checkDecider(ctx, actor); err != nil {
		return Proposal{}, err
	}
	if err := in.validate(); err != nil {
		return Proposal{}, err
	}
	now := s.now()
	reason := strings.TrimSpace(in.Reason)
	var out Proposal
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if cur.Status != Pending {
			return notPending(cur.Status)
		}
		next := decided(cur, Rejected, actor, &reason, now)
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "proposal.rejected", EntityType: "proposal", EntityID: next.ID, Version: next.Version,
			Before: cur, After: next})
		b := &pgx.Batch{}
		if err := queueDecide(b, actor.TenantID, next, cur.Version); err != nil {
			return err
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

func lock(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) (Proposal, error) {
	var p Proposal
	var found bool
	b := &pgx.Batch{}
	queueLock(b, tenantID, id, &p, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Proposal{}, err
	}
	if !found {
		return Proposal{}, apperr.NotFoundf("proposal")
	}
	return p, nil
}

// decided is cur with a decision.
func decided(cur Proposal, st Status, actor audit.Actor, note *string, now time.Time) Proposal {
	next := cur
	next.Status, next.Version, next.UpdatedAt = st, cur.Version+1, now
	next.DecidedBy, next.DecidedAt = &Actor{Type: actor.Type, ID: actor.ID}, &now
	if note != nil {
		n := strings.TrimSpace(*note)
		if n != "" {
			next.DecisionNote = &n
		}
	}
	return next
}

// execute carries out content through the domain services as actor, inside the
// approval's transaction (ctx carries it, so each service joins it).
func (s *Service) execute(ctx context.Context, tx pgx.Tx, actor audit.Actor, p Proposal, content Content, now time.Time) (Result, error) {
	switch c := content.(type) {
	case *BillContent:
		return s.executeBill(ctx, actor, p, c)
	case *CollectionMessageContent:
		return s.executeMessage(ctx, tx, actor, c, now)
	case *AllocationContent:
		if err := sod.ApproveAllocationOfOwnPayment.Check(ctx, tx, actor, c.PaymentID); err != nil {
			return Result{}, err
		}
		in := payments.AllocateInput{}
		for _, a := range c.Allocations {
			in.Allocations = append(in.Allocations, payments.AllocationInput{InvoiceID: a.InvoiceID, AmountMinor: a.AmountMinor})
		}
		pay, err := s.payments().Allocate(ctx, actor, c.PaymentID, in)
		if err != nil {
			return Result{}, err
		}
		return Result{PaymentID: &pay.ID, AllocationIDs: newAllocations(pay, c.Allocations)}, nil
	case *WriteOffContent:
		if err := sod.ApproveWriteOffOwnInvoice.Check(ctx, tx, actor, c.InvoiceID); err != nil {
			return Result{}, err
		}
		if err := checkWriteOffCurrent(ctx, tx, actor.TenantID, c); err != nil {
			return Result{}, err
		}
		reason := c.Reason
		inv, err := s.invoices().MarkUncollectible(ctx, actor, c.InvoiceID, invoices.ReasonInput{Reason: &reason})
		if err != nil {
			return Result{}, err
		}
		return Result{InvoiceID: &inv.ID}, nil
	}
	return Result{}, fmt.Errorf("proposals: no way to carry out %T", content)
}

// checkWriteOffCurrent refuses to write off an open invoice whose amount due or
// currency is no longer what was proposed (a payment allocated, reversed or credited
// meanwhile): the approver approved writing off that amount, not another. The invoice
// stays locked until the approval commits, so what is checked is what is written off;
// MarkUncollectible locks it again in the same transaction, in the same order
// (proposal, then invoice). An invoice no longer open, or gone, is left to
// MarkUncollectible's own refusals, which say more.
func checkWriteOffCurrent(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, c *WriteOffContent) error {
	var due invoiceDue
	var found bool
	b := &pgx.Batch{}
	queueLockInvoiceDue(b, tenantID, c.InvoiceID, &due, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !found || due.status != string(invoices.Open) {
		return nil
	}
	if due.amountDueMinor == c.AmountDueMinor && due.currency == c.Currency {
		return nil
	}
	return apperr.New(apperr.Conflict, "proposal_stale", fmt.Sprintf(
		"the invoice's amount due is now %s %s, not the %s %s proposed for writing off; propose the write-off again",
		major(due.amountDueMinor, due.currency), due.currency, major(c.AmountDueMinor, c.Currency), c.Currency))
}

// newAllocations finds the allocations an approval made: for each invoice allocated,
// the newest active allocation to it (ids are UUIDv7, ordered by creation).
func newAllocations(p payments.Payment, asked []AllocationAmount) []uuid.UUID {
	newest := map[uuid.UUID]uuid.UUID{}
	for _, a := range p.Allocations {
		if a.ReversedAt != nil {
			continue
		}
		if cur, ok := newest[a.InvoiceID]; !ok || a.ID.String() > cur.String() {
			newest[a.InvoiceID] = a.ID
		}
	}
	ids := []uuid.UUID{}
	for _, a := range asked {
		if id, ok := newest[a.InvoiceID]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// executeBill creates the vendor when the bill names none, then the draft bill. The
// vendor's own number for the bill goes in the memo: the tenant numbers its bills
// itself when it finalizes them.
func (s *Service) executeBill(ctx context.Context, actor audit.Actor, p Proposal, c *BillContent) (Result, error) {
	res := Result{}
	cpID := c.Vendor.CounterpartyID
	if cpID == nil {
		currency := c.Currency
		cp, err := s.counterparties().Create(ctx, actor, counterparties.CreateInput{
			Name: c.Vendor.Name, Kind: counterparties.Vendor, TaxID: c.Vendor.TaxID, DefaultCurrency: &currency,
		})
		if err != nil {
			return Result{}, billFields(err, map[string]string{"name": "bill.vendor_name", "tax_id": "bill.vendor_tax_id",
				"default_currency": "bill.currency"})
		}
		cpID, res.CounterpartyCreated = &cp.ID, true
	}
	memo := "Vendor bill (proposal " + p.ID.String() + ")"
	if c.Number != nil {
		memo = "Vendor bill " + *c.Number + " (proposal " + p.ID.String() + ")"
	}
	in := invoices.CreateInput{
		Direction: invoices.Payable, CounterpartyID: *cpID, Currency: c.Currency, IssueDate: c.IssueDate,
		DueDate: c.DueDate, Memo: &memo,
	}
	for _, l := range c.Lines {
		unit := l.UnitAmountMinor
		in.Lines = append(in.Lines, invoices.LineInput{Description: l.Description, Quantity: l.Quantity,
			UnitAmountMinor: &unit, TaxRate: l.TaxRate})
	}
	inv, err := s.invoices().Create(ctx, actor, in)
	if err != nil {
		return Result{}, billFields(err, map[string]string{"memo": "bill.number"})
	}
	res.InvoiceID, res.CounterpartyID = &inv.ID, cpID
	return res, nil
}

// billFields names the fields of a refused bill as the approver's edits name them
// (bill.lines[0].quantity), so the answer says what to edit.
func billFields(err error, rename map[string]string) error {
	e := apperr.From(err)
	if len(e.Fields) == 0 {
		return err
	}
	fields := map[string]string{}
	for k, v := range e.Fields {
		if r, ok := rename[k]; ok {
			fields[r] = v
		} else {
			fields["bill."+k] = v
		}
	}
	return &apperr.Error{Kind: e.Kind, Code: e.Code, Err: e.Err, Fields: fields,
		Message: "the bill, with any edits, is invalid; approve again with edits that fix these fields"}
}

// executeMessage records the message's dunning stage as sent: the close's dunning
// proposal for the customer and stage is approved, or recorded approved when the close
// has not proposed it yet. Ledgerline does not send mail: the approved message goes out
// through the proposal.approved event (webhooks) to the tenant's own mailer.
func (s *Service) executeMessage(ctx context.Context, tx pgx.Tx, actor audit.Actor, c *CollectionMessageContent, now time.Time) (Result, error) {
	var row dunningRow
	var found bool
	b := &pgx.Batch{}
	queueLockDunning(b, actor.TenantID, c.CounterpartyID, c.Stage, &row, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Result{}, err
	}
	log := changes.New(actor, now)
	after := map[string]any{"counterparty_id": c.CounterpartyID, "stage": c.Stage, "status": "approved"}
	b = &pgx.Batch{}
	switch {
	case !found:
		row.id = uuid.Must(uuid.NewV7())
		queueInsertApprovedDunning(b, actor.TenantID, row.id, c, civil.DateOf(now))
		after["id"] = row.id
		log.Add(changes.Change{Type: "dunning_proposal.approved", EntityType: "dunning_proposal", EntityID: row.id, Version: 1, After: after})
	case row.status != "approved":
		queueApproveDunning(b, actor.TenantID, row.id)
		after["id"] = row.id
		log.Add(changes.Change{Type: "dunning_proposal.approved", EntityType: "dunning_proposal", EntityID: row.id, Version: 2,
			Before: map[string]any{"id": row.id, "status": row.status}, After: after})
	}
	if err := log.Queue(b); err != nil {
		return Result{}, err
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return Result{}, err
		}
	}
	return Result{DunningProposalID: &row.id, CounterpartyID: &c.CounterpartyID}, nil
}
