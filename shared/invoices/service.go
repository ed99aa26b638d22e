package invoices

import (
	"context"
	"errors"
	"strconv"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/settings"
	"github.com/ledgerline/ledgerline/shared/sod"
)

// Service is the invoice use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Create stores a draft, or an invoice issued and numbered at once, with its lines, audit and
// outbox records. Two round trips inside the transaction: one to read the counterparty
// and the tenant's settings in effect (tax rounding, numbering; and take a number), one
// to write everything. The invoice stores its rounding, amounts and number, so no later
// change of settings alters it: a draft is repriced with its own tax_rounding.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (Invoice, error) {
	d, err := prepare(in)
	if err != nil {
		return Invoice{}, err
	}
	now := s.now()
	id := uuid.Must(uuid.NewV7())
	var inv Invoice
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var cp counterparties.Counterparty
		var found bool
		var number int64
		var doc []byte
		b := &pgx.Batch{}
		counterparties.QueueGet(b, actor.TenantID, in.CounterpartyID, &cp, &found)
		queueSettings(b, actor.TenantID, now, &doc)
		if d.status == Open {
			queueNextNumber(b, actor.TenantID, in.Direction, &number)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
		}
		cfg, err := settings.Parse(doc)
		if err != nil {
			return err
		}
		// The one computation of a new invoice, shared with the bulk upsert of imports.
		if inv, err = newInvoice(d, cp, cfg, id, now); err != nil {
			return err
		}
		if d.status == Open {
			if err := issue(&inv, cfg, number, now); err != nil {
				return err
			}
		}

		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "invoice.created", EntityType: "invoice", EntityID: inv.ID, Version: inv.Version, After: inv})
		b = &pgx.Batch{}
		queueInsert(b, actor.TenantID, inv)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Invoice{}, mapWriteError(err)
	}
	return inv, nil
}

// checkCounterparty refuses to invoice a vendor or take a bill from a customer.
func checkCounterparty(d Direction, cp counterparties.Counterparty) error {
	if d == Receivable && cp.Kind == counterparties.Vendor {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "a receivable invoice needs a customer; this counterparty is a vendor")
	}
	if d == Payable && cp.Kind == counterparties.Customer {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "a payable bill needs a vendor; this counterparty is a customer")
	}
	return nil
}

// Get returns one invoice with its lines.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Invoice, error) {
	var inv Invoice
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGet(b, tenantID, id, &inv, &found) }); err != nil {
		return Invoice{}, err
	}
	if !found {
		return Invoice{}, apperr.NotFoundf("invoice")
	}
	return inv, nil
}

// List returns a page of invoice summaries, newest first or by due date. "Overdue" is
// judged against today's date in UTC.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Summary], error) {
	var rows []Summary
	var cursorFound bool
	today := civil.DateOf(s.Now().UTC())
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueList(b, tenantID, f, today, p, &rows, &cursorFound)
	}); err != nil {
		return page.List[Summary]{}, err
	}
	if !cursorFound {
		return page.List[Summary]{}, apperr.InvalidParameters(map[string]string{"starting_after": "must be the id of an invoice from a previous page"})
	}
	return page.Of(rows, p.Limit), nil
}

// Update applies a merge patch to a draft whose version is still expectedVersion,
// recomputes its lines and totals with the draft's tax rounding, and records the
// change.
func (s *Service) Update(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion int, in UpdateInput) (Invoice, error) {
	now := s.now()
	var out Invoice
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var cur Invoice
		var found, cpFound bool
		var cp counterparties.Counterparty
		b := &pgx.Batch{}
		queueGetForUpdate(b, actor.TenantID, id, &cur, &found)
		if in.CounterpartyID.Set && !in.CounterpartyID.Null {
			counterparties.QueueGet(b, actor.TenantID, in.CounterpartyID.Value, &cp, &cpFound)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.NotFoundf("invoice")
		}
		if cur.Version != expectedVersion {
			return apperr.VersionConflict(cur.Version)
		}
		if cur.Status != Draft {
			return notDraft(cur.Status)
		}
		next, err := in.apply(cur)
		if err != nil {
			return err
		}
		if in.CounterpartyID.Set {
			if !cpFound {
				return apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
			}
			if err := checkCounterparty(cur.Direction, cp); err != nil {
				return err
			}
		}
		next.Version, next.UpdatedAt = cur.Version+1, now

		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "invoice.updated", EntityType: "invoice", EntityID: next.ID, Version: next.Version, Before: cur, After: next})
		b = &pgx.Batch{}
		queueUpdateDraft(b, actor.TenantID, next, cur.Version)
		if err := log.Queue(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return Invoice{}, mapWriteError(err)
	}
	return out, nil
}

// Delete removes a draft. With expectedVersion (If-Match) the draft must still be at
// that version. The event carries the draft as it was, at the version after its last.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, id uuid.UUID, expectedVersion *int) error {
	now := s.now()
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		if expectedVersion != nil && cur.Version != *expectedVersion {
			return apperr.VersionConflict(cur.Version)
		}
		if cur.Status != Draft {
			return notDraft(cur.Status)
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "invoice.deleted", EntityType: "invoice", EntityID: cur.ID, Version: cur.Version + 1, Before: cur, Data: cur})
		b := &pgx.Batch{}
		queueDeleteDraft(b, actor.TenantID, cur.ID, cur.Version)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return mapWriteError(err)
}

// Finalize issues a draft: it takes the next gapless number of its direction and
// becomes open (or paid, see finalizedStatus).
func (s *Service) Finalize(ctx context.Context, actor audit.Actor, id uuid.UUID) (Invoice, error) {
	return s.transition(ctx, actor, id, "invoice.finalized", nil, func(tx pgx.Tx, inv *Invoice, now time.Time) error {
		if inv.Status != Draft {
			return notDraft(inv.Status)
		}
		var number int64
		var doc []byte
		b := &pgx.Batch{}
		queueNextNumber(b, actor.TenantID, inv.Direction, &number)
		queueSettings(b, actor.TenantID, now, &doc)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		cfg, err := settings.Parse(doc)
		if err != nil {
			return err
		}
		n, err := documentNumber(cfg, string(inv.Direction), number, inv.IssueDate)
		if err != nil {
			return err
		}
		inv.Number, inv.FinalizedAt, inv.Status = &n, &now, finalizedStatus(inv.TotalMinor)
		return nil
	})
}

// finalizedStatus is the status an invoice is issued in: open, or paid at once when
// its total is zero, since nothing will ever be due on it.
func finalizedStatus(total int64) Status {
	if total == 0 {
		return Paid
	}
	return Open
}

// Void cancels an issued invoice that nothing has been paid on; it keeps its number.
// Drafts are deleted instead.
func (s *Service) Void(ctx context.Context, actor audit.Actor, id uuid.UUID, in ReasonInput) (Invoice, error) {
	if err := in.validate(); err != nil {
		return Invoice{}, err
	}
	return s.transition(ctx, actor, id, "invoice.voided", in.Reason, func(_ pgx.Tx, inv *Invoice, now time.Time) error {
		if inv.Status != Open && inv.Status != Uncollectible {
			return notOpen(inv.Status, "voided")
		}
		if inv.AmountPaidMinor > 0 {
			return hasAllocations()
		}
		inv.Status, inv.VoidedAt = Void, &now
		return nil
	})
}

// MarkUncollectible writes off an open invoice. Payments and credit notes may still
// settle it later.
func (s *Service) MarkUncollectible(ctx context.Context, actor audit.Actor, id uuid.UUID, in ReasonInput) (Invoice, error) {
	if err := in.validate(); err != nil {
		return Invoice{}, err
	}
	return s.transition(ctx, actor, id, "invoice.marked_uncollectible", in.Reason, func(tx pgx.Tx, inv *Invoice, now time.Time) error {
		if inv.Status != Open {
			return notOpen(inv.Status, "marked uncollectible")
		}
		if err := sod.WriteOffOwnInvoice.Check(ctx, tx, actor, inv.ID); err != nil {
			return err
		}
		inv.Status, inv.UncollectibleAt = Uncollectible, &now
		return nil
	})
}

// transition runs one lifecycle step on a locked invoice: change checks the locked
// state and sets the new one, which is written (version + 1) with its event and, last,
// its audit record. A reason, when given, is recorded with the event and the audit.
func (s *Service) transition(ctx context.Context, actor audit.Actor, id uuid.UUID, action string, reason *string,
	change func(tx pgx.Tx, inv *Invoice, now time.Time) error) (Invoice, error) {
	now := s.now()
	var out Invoice
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, actor.TenantID, id)
		if err != nil {
			return err
		}
		next := cur
		if err := change(tx, &next, now); err != nil {
			return err
		}
		next.Version, next.UpdatedAt = cur.Version+1, now
		var recorded any = next
		if reason != nil {
			recorded = withReason{Invoice: next, Reason: reason}
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: action, EntityType: "invoice", EntityID: next.ID, Version: next.Version, Before: cur, After: recorded})
		b := &pgx.Batch{}
		queueSetLifecycle(b, actor.TenantID, next.Summary, cur.Version)
		if err := log.Queue(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return Invoice{}, mapWriteError(err)
	}
	return out, nil
}

// lock reads an invoice with its row locked until commit, so the checks that follow
// see the state the write will change.
func lock(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) (Invoice, error) {
	var inv Invoice
	var found bool
	b := &pgx.Batch{}
	queueGetForUpdate(b, tenantID, id, &inv, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Invoice{}, err
	}
	if !found {
		return Invoice{}, apperr.NotFoundf("invoice")
	}
	return inv, nil
}

// CreateCreditNote credits an open or uncollectible invoice by at most its amount due.
// The invoice is locked first and checked, so refusals carry clear codes; the credit
// note's trigger then applies it to the invoice (amount credited, paid when nothing is
// left due, version), which is read back for the events and the audit.
func (s *Service) CreateCreditNote(ctx context.Context, actor audit.Actor, invoiceID uuid.UUID, in CreditNoteInput) (CreditNote, error) {
	if err := in.validate(); err != nil {
		return CreditNote{}, err
	}
	now := s.now()
	today := civil.DateOf(now)
	var out CreditNote
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, actor.TenantID, invoiceID)
		if err != nil {
			return err
		}
		if cur.Status != Open && cur.Status != Uncollectible && cur.Status != Paid {
			return notOpen(cur.Status, "credited")
		}
		cn, err := buildCreditNote(in, cur.Summary, today, now)
		if err != nil {
			return err
		}
		if cn.AmountMinor > cur.AmountDueMinor {
			return creditExceeds(cur.AmountDueMinor)
		}

		var number int64
		var doc []byte
		b := &pgx.Batch{}
		queueNextCreditNoteNumber(b, actor.TenantID, &number)
		queueSettings(b, actor.TenantID, now, &doc)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		cfg, err := settings.Parse(doc)
		if err != nil {
			return err
		}
		if cn.Number, err = documentNumber(cfg, "credit_note", number, cn.EffectiveDate); err != nil {
			return err
		}

		var after Invoice
		var found bool
		b = &pgx.Batch{}
		if err := queueInsertCreditNote(b, actor.TenantID, cur.Direction, actor.ID, cn); err != nil {
			return err
		}
		queueGet(b, actor.TenantID, cur.ID, &after, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}

		invoiceAction := "invoice.credited"
		if after.Status == Paid {
			invoiceAction = "invoice.paid"
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "credit_note.created", EntityType: "credit_note", EntityID: cn.ID, Version: 1, After: cn})
		log.Add(changes.Change{Type: invoiceAction, EntityType: "invoice", EntityID: after.ID, Version: after.Version, Before: cur, After: after})
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		out = cn
		return nil
	})
	if err != nil {
		return CreditNote{}, mapWriteError(err)
	}
	return out, nil
}

// ListCreditNotes returns a page of an invoice's credit notes, oldest first.
func (s *Service) ListCreditNotes(ctx context.Context, tenantID, invoiceID uuid.UUID, p page.Params) (page.List[CreditNote], error) {
	var rows []CreditNote
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueListCreditNotes(b, tenantID, invoiceID, p, &rows, &found)
	}); err != nil {
		return page.List[CreditNote]{}, err
	}
	if !found {
		return page.List[CreditNote]{}, apperr.NotFoundf("invoice")
	}
	return page.Of(rows, p.Limit), nil
}

func notDraft(st Status) error {
	return apperr.New(apperr.Conflict, "invoice_not_draft", "only a draft can be changed this way; this invoice is "+string(st))
}

func notOpen(st Status, what string) error {
	return apperr.New(apperr.Conflict, "invoice_not_open", "this invoice is "+string(st)+" and cannot be "+what)
}

func hasAllocations() error {
	return apperr.New(apperr.Conflict, "invoice_has_allocations",
		"payments are allocated to this invoice; reverse the allocations before voiding it")
}

func creditExceeds(due int64) error {
	return apperr.New(apperr.Unprocessable, "credit_exceeds_amount_due",
		"a credit note cannot exceed the invoice's amount due ("+strconv.FormatInt(due, 10)+" minor units)")
}

// mapWriteError turns what the database refused into the problem codes the use cases
// give for the same rule. The checks on the locked invoice come first, so these only
// answer when something bypassed them; the constraints are the backstop.
func mapWriteError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errVersionChanged) {
		return apperr.Wrap(err, apperr.PreconditionFailed, "version_conflict", "the invoice has changed since it was read; fetch it and retry")
	}
	if db.IsUniqueViolation(err, "invoices_tenant_id_external_id_key") {
		return apperr.Wrap(err, apperr.Conflict, "invoice_external_id_exists", "an invoice with this external_id already exists")
	}
	if db.IsUniqueViolation(err, "invoices_tenant_id_direction_number_key") || db.IsUniqueViolation(err, "credit_notes_tenant_id_number_key") {
		return apperr.Wrap(err, apperr.Conflict, "document_number_exists",
			"the tenant's numbering format wrote a number that was already issued; change the format so it cannot repeat an earlier number")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.ConstraintName {
		case "invoices_due_not_negative", "invoices_paid_means_settled":
			return apperr.Wrap(err, apperr.Unprocessable, "credit_exceeds_amount_due", "a credit note cannot exceed the invoice's amount due")
		case "invoices_draft_untouched":
			return apperr.Wrap(err, apperr.Conflict, "invoice_not_open", "the invoice is not open")
		case "invoices_void_unallocated":
			return apperr.Wrap(err, apperr.Conflict, "invoice_has_allocations", "payments are allocated to this invoice")
		case "credit_notes_invoice_fk":
			return apperr.Wrap(err, apperr.NotFound, "invoice_not_found", "invoice not found")
		}
	}
	return db.Map(err)
}
