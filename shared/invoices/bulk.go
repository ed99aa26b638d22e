package invoices

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/patch"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// Outcome is what an upsert by external id did (or, in a dry run, would do) to one
// invoice.
type Outcome string

const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// UpsertResult is one input's result: its outcome and the invoice as it is after it,
// or Err (an *apperr.Error) when the input was refused and nothing was written for it.
type UpsertResult struct {
	Outcome Outcome
	Invoice Invoice
	Err     error
}

// Upsert is a planned bulk upsert: every input checked against the rows it names,
// which are locked, numbers taken for the invoices it issues, and the writes ready to
// queue.
type Upsert struct {
	tenantID uuid.UUID
	results  []UpsertResult
	inserted []Invoice
	// replaced are existing drafts written over (their final state), with the version
	// each had; relined are those whose lines are replaced.
	replaced     []Invoice
	prevVersions []int
	relined      []uuid.UUID
	log          *changes.Log
}

// Results are the inputs' results, in input order.
func (u *Upsert) Results() []UpsertResult { return u.results }

// PlanUpsert plans the upsert of ins by external id in tx, the caller's transaction of
// actor's tenant; every input has ExternalID and CounterpartyID set. Each input goes
// through the rules and computations of the API:
//
//   - a new external id creates the invoice exactly as Create does (a draft, or issued
//     and numbered when its status is open);
//   - an existing draft whose content differs is replaced as Update replaces it (its
//     own tax rounding, new lines) and, when the input's status is open, then
//     finalized as Finalize does;
//   - an invoice whose content is the input's is unchanged (a draft whose input says
//     open is finalized);
//   - an issued invoice whose content differs is refused (invoice_already_issued):
//     issued documents change only through credit notes or void and reissue.
//
// Content is everything the input sets: direction, counterparty, currency, dates (the
// due date derived from the counterparty's terms when the input has none), memo and
// lines. Two round trips read and lock what the inputs name and take the numbers of
// the invoices issued; nothing is written until Queue.
func (s *Service) PlanUpsert(ctx context.Context, tx pgx.Tx, actor audit.Actor, ins []CreateInput) (*Upsert, error) {
	now := s.now()
	u := &Upsert{tenantID: actor.TenantID, results: make([]UpsertResult, len(ins)), log: changes.New(actor, now)}
	drafts := make([]draft, len(ins))
	var extIDs []string
	var cpIDs []uuid.UUID
	seenCP := map[uuid.UUID]bool{}
	seen := map[string]bool{}
	for i, in := range ins {
		if in.ExternalID == nil {
			u.results[i].Err = apperr.Validation(map[string]string{"external_id": "is required to import an invoice"})
			continue
		}
		if seen[*in.ExternalID] {
			u.results[i].Err = apperr.New(apperr.Unprocessable, "duplicate_external_id",
				"external_id "+*in.ExternalID+" appears more than once in the import")
			continue
		}
		seen[*in.ExternalID] = true
		d, err := prepare(in)
		if err != nil {
			u.results[i].Err = err
			continue
		}
		drafts[i] = d
		extIDs = append(extIDs, *in.ExternalID)
		if !seenCP[in.CounterpartyID] {
			seenCP[in.CounterpartyID] = true
			cpIDs = append(cpIDs, in.CounterpartyID)
		}
	}

	cps := map[uuid.UUID]counterparties.Counterparty{}
	existing := map[string]*lockedInvoice{}
	var doc []byte
	b := &pgx.Batch{}
	counterparties.QueueGetMany(b, actor.TenantID, cpIDs, cps)
	queueSettings(b, actor.TenantID, now, &doc)
	queueLockByExternalIDs(b, actor.TenantID, extIDs, existing)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	cfg, err := settings.Parse(doc)
	if err != nil {
		return nil, err
	}

	// Each result is planned; those that issue an invoice wait for their number.
	type pending struct {
		i      int
		inv    *Invoice
		change changes.Change // the change the number completes
	}
	var toNumber []pending
	plans := make([][]changes.Change, len(ins))
	for i, in := range ins {
		res := &u.results[i]
		if res.Err != nil {
			continue
		}
		d := drafts[i]
		cp, ok := cps[in.CounterpartyID]
		if !ok {
			res.Err = apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
			continue
		}
		cur, found := existing[*in.ExternalID]
		if !found {
			inv, err := newInvoice(d, cp, cfg, uuid.Must(uuid.NewV7()), now)
			if err != nil {
				res.Err = err
				continue
			}
			res.Outcome, res.Invoice = Created, inv
			if d.status == Open {
				toNumber = append(toNumber, pending{i: i, inv: &res.Invoice})
			}
			continue
		}
		due := in.IssueDate.AddDays(cp.PaymentTermsDays)
		if in.DueDate != nil {
			due = *in.DueDate
		}
		same := sameContent(cur.Invoice, d, due)
		switch {
		case cur.Source != nil && !same:
			res.Err = apperr.New(apperr.Conflict, "invoice_external_id_exists",
				fmt.Sprintf("external_id %q belongs to an invoice that comes from source %q", *in.ExternalID, *cur.Source))
			continue
		case cur.Status != Draft && same:
			res.Outcome, res.Invoice = Unchanged, cur.Invoice
			continue
		case cur.Status != Draft:
			res.Err = apperr.New(apperr.Conflict, "invoice_already_issued",
				"invoice "+*in.ExternalID+" is "+string(cur.Status)+" and differs from the import; issued invoices change only through credit notes, or void and reissue")
			continue
		case same && d.status != Open:
			res.Outcome, res.Invoice = Unchanged, cur.Invoice
			continue
		}
		next := cur.Invoice
		if !same {
			if next, err = replaceContent(cur.Invoice, in, due, cp, now); err != nil {
				res.Err = err
				continue
			}
			plans[i] = append(plans[i], changes.Change{Type: "invoice.updated", EntityType: "invoice", EntityID: next.ID,
				Version: next.Version, Before: cur.Invoice, After: next})
			u.relined = append(u.relined, next.ID)
		}
		res.Outcome, res.Invoice = Updated, next
		if d.status == Open {
			toNumber = append(toNumber, pending{i: i, inv: &res.Invoice, change: changes.Change{
				Type: "invoice.finalized", EntityType: "invoice", EntityID: next.ID, Before: next}})
		}
	}

	invs := make([]*Invoice, len(toNumber))
	for k, p := range toNumber {
		invs[k] = p.inv
	}
	if err := takeNumbers(ctx, tx, actor.TenantID, cfg, invs, now); err != nil {
		return nil, err
	}
	for _, p := range toNumber {
		if p.change.Type == "" {
			// Created open: issued within its creation, like Create.
			continue
		}
		p.inv.Version, p.inv.UpdatedAt = p.inv.Version+1, now
		p.change.Version, p.change.After = p.inv.Version, *p.inv
		plans[p.i] = append(plans[p.i], p.change)
	}
	for i, res := range u.results {
		switch {
		case res.Err != nil || res.Outcome == Unchanged:
		case res.Outcome == Created:
			u.inserted = append(u.inserted, res.Invoice)
			u.log.Add(changes.Change{Type: "invoice.created", EntityType: "invoice", EntityID: res.Invoice.ID, Version: 1, After: res.Invoice})
		default:
			u.replaced = append(u.replaced, res.Invoice)
			u.prevVersions = append(u.prevVersions, existing[*res.Invoice.ExternalID].Version)
			for _, c := range plans[i] {
				u.log.Add(c)
			}
		}
	}
	return u, nil
}

// takeNumbers issues invs in order at now: each takes the next number of its
// direction's gapless sequence (one statement per direction takes them all, locking
// the counter until commit as Finalize does) and becomes open, or paid when its total
// is zero.
func takeNumbers(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, cfg settings.Settings, invs []*Invoice, now time.Time) error {
	if len(invs) == 0 {
		return nil
	}
	counts := map[Direction]int64{}
	for _, inv := range invs {
		counts[inv.Direction]++
	}
	last := map[Direction]*int64{}
	b := &pgx.Batch{}
	// A fixed order of the two counters, so two bulk transactions never wait on each
	// other in opposite orders.
	for _, d := range []Direction{Receivable, Payable} {
		if n := counts[d]; n > 0 {
			last[d] = new(int64)
			queueTakeNumbers(b, tenantID, d, n, last[d])
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	next := map[Direction]int64{}
	for d, n := range counts {
		next[d] = *last[d] - n + 1
	}
	for _, inv := range invs {
		if err := issue(inv, cfg, next[inv.Direction], now); err != nil {
			return err
		}
		next[inv.Direction]++
	}
	return nil
}

// Queue adds the writes, then the outbox events and audit entries, to b: old lines of
// replaced drafts are deleted before the new lines are inserted, and the drafts'
// rows are written only if still at the version that was compared.
func (u *Upsert) Queue(b *pgx.Batch) error {
	queueDeleteLinesOf(b, u.tenantID, u.relined)
	queueUpdateDrafts(b, u.tenantID, u.replaced, u.prevVersions)
	queueInsertMany(b, u.tenantID, u.inserted)
	var owners []uuid.UUID
	var lines []Line
	relined := make(map[uuid.UUID]bool, len(u.relined))
	for _, id := range u.relined {
		relined[id] = true
	}
	for _, inv := range u.inserted {
		for _, l := range inv.Lines {
			owners, lines = append(owners, inv.ID), append(lines, l)
		}
	}
	for _, inv := range u.replaced {
		if relined[inv.ID] {
			for _, l := range inv.Lines {
				owners, lines = append(owners, inv.ID), append(lines, l)
			}
		}
	}
	queueInsertLinesMany(b, u.tenantID, owners, lines)
	return u.log.QueueMany(b)
}

// newInvoice is the invoice Create makes of the prepared draft d for counterparty cp
// with the tenant's settings cfg: checked against the counterparty, priced with the
// tenant's tax rounding, due after the counterparty's terms unless d says when. It is
// not yet numbered: an invoice created open is issued by issue.
func newInvoice(d draft, cp counterparties.Counterparty, cfg settings.Settings, id uuid.UUID, now time.Time) (Invoice, error) {
	in := d.in
	if err := checkCounterparty(in.Direction, cp); err != nil {
		return Invoice{}, err
	}
	mode, err := taxRoundingOf(&cfg.TaxRounding)
	if err != nil {
		return Invoice{}, err
	}
	inv := Invoice{Summary: Summary{
		ID: id, Object: "invoice", Direction: in.Direction, Status: d.status,
		CounterpartyID: in.CounterpartyID, Currency: in.Currency, IssueDate: in.IssueDate, Memo: in.Memo,
		ExternalID: in.ExternalID, Version: 1, CreatedAt: now, UpdatedAt: now, TaxRounding: mode,
	}, Lines: d.lines}
	t, err := price(inv.Lines, mode)
	if err != nil {
		return Invoice{}, err
	}
	inv.SubtotalMinor, inv.TaxMinor, inv.TotalMinor, inv.AmountDueMinor = t.subtotal, t.tax, t.total, t.total
	inv.DueDate = in.IssueDate.AddDays(cp.PaymentTermsDays)
	if in.DueDate != nil {
		inv.DueDate = *in.DueDate
	}
	return inv, nil
}

// issue numbers inv with sequence number n in the tenant's format and issues it at
// now: open, or paid at once when its total is zero (finalizedStatus).
func issue(inv *Invoice, cfg settings.Settings, n int64, now time.Time) error {
	number, err := documentNumber(cfg, string(inv.Direction), n, inv.IssueDate)
	if err != nil {
		return err
	}
	inv.Number, inv.FinalizedAt, inv.Status = &number, &now, finalizedStatus(inv.TotalMinor)
	return nil
}

// replaceContent is the draft cur with every member of in, through the merge patch
// Update applies (the draft keeps its tax rounding; its lines are replaced), as the
// inbound path replaces a draft.
func replaceContent(cur Invoice, in CreateInput, due civil.Date, cp counterparties.Counterparty, now time.Time) (Invoice, error) {
	if in.Direction != cur.Direction {
		return Invoice{}, apperr.Validation(map[string]string{"direction": "must stay " + string(cur.Direction) + ": a draft's direction cannot change"})
	}
	if err := checkCounterparty(cur.Direction, cp); err != nil {
		return Invoice{}, err
	}
	upd := UpdateInput{
		CounterpartyID: set(in.CounterpartyID),
		Currency:       set(in.Currency),
		IssueDate:      set(in.IssueDate),
		DueDate:        set(due),
		Memo:           patch.Field[string]{Set: true, Null: in.Memo == nil},
		Lines:          set(in.Lines),
	}
	if in.Memo != nil {
		upd.Memo.Value = *in.Memo
	}
	next, err := upd.apply(cur)
	if err != nil {
		return Invoice{}, err
	}
	next.Version, next.UpdatedAt = cur.Version+1, now
	return next, nil
}

// sameContent reports whether cur already is what the prepared input d (due on due)
// describes.
func sameContent(cur Invoice, d draft, due civil.Date) bool {
	in := d.in
	if cur.Direction != in.Direction || cur.CounterpartyID != in.CounterpartyID || cur.Currency != in.Currency ||
		cur.IssueDate != in.IssueDate || cur.DueDate != due || !eqString(cur.Memo, in.Memo) ||
		len(cur.Lines) != len(d.lines) {
		return false
	}
	for i, l := range d.lines {
		c := cur.Lines[i]
		if c.Description != l.Description || c.Quantity != l.Quantity || !eqInt(c.UnitAmountMinor, l.UnitAmountMinor) ||
			!eqString(c.UnitPrice, l.UnitPrice) || !eqString(c.TaxRate, l.TaxRate) {
			return false
		}
	}
	return true
}

func eqString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func eqInt(a, b *int64) bool     { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
