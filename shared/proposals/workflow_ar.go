package proposals

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/aging"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/closing"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/page"
)

// AgentRunsTopic is where an AR run's items go, one message each, for the AgentRuns
// processor.
const AgentRunsTopic = "ledgerline-agent-runs"

// DefaultInlineMax is how many customers an AR run drafts within its own request. A
// draft is one agent call (a second or so with a hosted model), so a handful keeps the
// request well inside any client's patience and Cloud Run's deadline; more go to the
// processor, which drafts them in parallel and retries each on its own.
const DefaultInlineMax = 5

// MaxRunCustomers bounds the customers a run may be limited to.
const MaxRunCustomers = 100

// RunMode says where a run's drafts are made.
type RunMode string

const (
	Inline RunMode = "inline" // within the request that started the run
	Async  RunMode = "async"  // by the AgentRuns processor
)

// RunStatus is where a run is.
type RunStatus string

const (
	Running   RunStatus = "running"
	Completed RunStatus = "completed"
)

// ItemStatus is what became of one customer in a run.
type ItemStatus string

const (
	ItemPending  ItemStatus = "pending"
	ItemProposed ItemStatus = "proposed"
	ItemSkipped  ItemStatus = "skipped"
)

// Reasons an item is skipped, besides the gateway's own refusal codes
// (agent_budget_exhausted, agents_disabled, agent_unavailable, agent_output_invalid).
const (
	ReasonBelowFirstStage  = "below_first_stage"
	ReasonAlreadyProposed  = "already_proposed"
	ReasonNoLongerOverdue  = "no_longer_overdue"
	ReasonAgentUnavailable = "agent_unavailable"
)

// Run is a run of the AR agent over the overdue customers, as the API shows it.
type Run struct {
	ID          uuid.UUID  `json:"id"`
	Object      string     `json:"object"`
	Mode        RunMode    `json:"mode"`
	Status      RunStatus  `json:"status"`
	AsOf        civil.Date `json:"as_of"`
	ItemsTotal  int        `json:"items_total"`
	ItemsDone   int        `json:"items_done"`
	Counts      RunCounts  `json:"counts"`
	RequestedBy Actor      `json:"requested_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Items       []RunItem  `json:"items"`

	requestID, traceParent string
}

// RunCounts are a run's items by status.
type RunCounts struct {
	Pending  int `json:"pending"`
	Proposed int `json:"proposed"`
	Skipped  int `json:"skipped"`
}

// RunItem is one customer and currency of a run: its overdue total when the run
// started, the dunning stage its oldest overdue invoice reached, and the outcome.
type RunItem struct {
	Seq              int        `json:"seq"`
	CounterpartyID   uuid.UUID  `json:"counterparty_id"`
	CounterpartyName string     `json:"counterparty_name"`
	Currency         string     `json:"currency"`
	OverdueMinor     int64      `json:"overdue_minor"`
	DaysOverdue      int        `json:"days_overdue"`
	Stage            int        `json:"stage"`
	Status           ItemStatus `json:"status"`
	Reason           *string    `json:"reason"`
	Detail           *string    `json:"detail"`
	ProposalID       *uuid.UUID `json:"proposal_id"`
	Attempts         int        `json:"attempts"`
}

func (r *Run) count() {
	r.Counts = RunCounts{}
	for _, it := range r.Items {
		switch it.Status {
		case ItemPending:
			r.Counts.Pending++
		case ItemProposed:
			r.Counts.Proposed++
		case ItemSkipped:
			r.Counts.Skipped++
		}
	}
}

// CollectionsInput is the body of POST /v1/agents/ar/collections: optionally, the
// customers to consider (all overdue customers otherwise).
type CollectionsInput struct {
	CounterpartyIDs []uuid.UUID `json:"counterparty_ids"`
}

// RunMessage asks the processor to draft one item of a run.
type RunMessage struct {
	TenantID uuid.UUID `json:"tenant_id"`
	RunID    uuid.UUID `json:"run_id"`
	Seq      int       `json:"seq"`
}

// DecodeRunMessage reads a message of AgentRunsTopic.
func DecodeRunMessage(data []byte) (RunMessage, error) {
	var m RunMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return RunMessage{}, fmt.Errorf("proposals: run message: %w", err)
	}
	if m.TenantID == uuid.Nil || m.RunID == uuid.Nil || m.Seq < 1 {
		return RunMessage{}, fmt.Errorf("proposals: run message names no item")
	}
	return m, nil
}

// arAgent is the AR agent as a proposer.
var arAgent = Actor{Type: "agent", ID: string(agents.ARCollections)}

func skip(it *RunItem, reason, detail string) {
	it.Status, it.Reason = ItemSkipped, &reason
	if detail != "" {
		it.Detail = &detail
	}
}

// StartCollections starts a run of the AR agent for actor's tenant: each customer and
// currency with open receivables past due is an item, at the dunning stage its oldest
// overdue invoice reached (the daily close's rule, over the tenant's schedule). Items
// below the first stage, or at a stage the customer already has a message pending or
// approved for, are skipped at once. Up to InlineMax items are drafted before this
// returns; a run with more is stored with one message per item, committed with it
// (the outbox), for the AgentRuns processor, and returned running.
func (s *Service) StartCollections(ctx context.Context, actor audit.Actor, in CollectionsInput) (Run, error) {
	if len(in.CounterpartyIDs) > MaxRunCustomers {
		return Run{}, apperr.Validation(map[string]string{"counterparty_ids": fmt.Sprintf("at most %d customers", MaxRunCustomers)})
	}
	now := s.now()
	today := civil.DateOf(now)
	var doc []byte
	var groups []overdueGroup
	active := map[messageKey]uuid.UUID{}
	var ids []uuid.UUID
	if len(in.CounterpartyIDs) > 0 {
		ids = in.CounterpartyIDs
	}
	if err := s.DB.Read(ctx, actor.TenantID, func(b *pgx.Batch) {
		queueSettings(b, actor.TenantID, now, &doc)
		queueOverdueReceivables(b, actor.TenantID, today, ids, &groups)
		queueActiveMessages(b, actor.TenantID, active)
	}); err != nil {
		return Run{}, err
	}
	schedule := closing.Schedule(doc)
	oldest := map[uuid.UUID]civil.Date{}
	for _, g := range groups {
		if o, ok := oldest[g.counterparty]; !ok || g.oldestDue.Before(o) {
			oldest[g.counterparty] = g.oldestDue
		}
	}
	run := Run{
		ID: uuid.Must(uuid.NewV7()), Object: "collections_run", Mode: Inline, Status: Running, AsOf: today,
		RequestedBy: Actor{Type: actor.Type, ID: actor.ID}, CreatedAt: now, UpdatedAt: now, Items: []RunItem{},
		requestID: actor.RequestID, traceParent: actor.TraceParent,
	}
	var pending []int
	for i, g := range groups {
		days := today.DaysSince(oldest[g.counterparty])
		it := RunItem{Seq: i + 1, CounterpartyID: g.counterparty, CounterpartyName: g.name, Currency: g.currency,
			OverdueMinor: g.amountMinor, DaysOverdue: days, Stage: closing.Stage(schedule, days), Status: ItemPending}
		switch existing, ok := active[messageKey{g.counterparty, g.currency, it.Stage}]; {
		case it.Stage == 0:
			skip(&it, ReasonBelowFirstStage, fmt.Sprintf("%d days overdue; the first reminder is at %d days", days, schedule[0]))
		case ok:
			skip(&it, ReasonAlreadyProposed, "proposal "+existing.String()+" is this stage's message")
		default:
			pending = append(pending, i)
		}
		run.Items = append(run.Items, it)
	}
	run.ItemsTotal, run.ItemsDone = len(run.Items), len(run.Items)-len(pending)
	if len(pending) == 0 {
		run.Status, run.FinishedAt = Completed, &now
	}
	limit := s.InlineMax
	if limit <= 0 {
		limit = DefaultInlineMax
	}
	if len(pending) > limit {
		run.Mode = Async
	}
	run.count()

	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsertRun(b, actor.TenantID, run)
		if len(run.Items) > 0 {
			queueInsertItems(b, actor.TenantID, run.ID, run.Items, now)
		}
		if run.Mode == Async {
			msgs := make([]events.Event, 0, len(pending))
			for _, i := range pending {
				body, err := json.Marshal(RunMessage{TenantID: actor.TenantID, RunID: run.ID, Seq: run.Items[i].Seq})
				if err != nil {
					return err
				}
				msgs = append(msgs, events.Event{ID: uuid.Must(uuid.NewV7()), TenantID: actor.TenantID, Type: "collections_run.item",
					EntityType: "collections_run", EntityID: run.ID, EntityVersion: run.Items[i].Seq, Data: body,
					RequestID: actor.RequestID, TraceParent: actor.TraceParent, CreatedAt: now, Topic: AgentRunsTopic})
			}
			events.QueueMany(b, msgs)
		}
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "collections_run.created", EntityType: "collections_run", EntityID: run.ID, Version: 1,
			After: run})
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Run{}, err
	}
	if run.Mode == Async || len(pending) == 0 {
		return run, nil
	}
	for _, i := range pending {
		if _, err := s.draft(ctx, actor, run, run.Items[i], 1, true); err != nil {
			return Run{}, err
		}
	}
	return s.GetRun(ctx, actor.TenantID, run.ID)
}

// GetRun returns a run with its items.
func (s *Service) GetRun(ctx context.Context, tenantID, id uuid.UUID) (Run, error) {
	var r Run
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueGetRun(b, tenantID, id, false, &r, &found)
		queueItems(b, tenantID, id, &r.Items)
	}); err != nil {
		return Run{}, err
	}
	if !found {
		return Run{}, apperr.NotFoundf("collections_run")
	}
	if r.Items == nil {
		r.Items = []RunItem{}
	}
	r.count()
	return r, nil
}

// ItemOutcome says what DraftItem did.
type ItemOutcome string

const (
	OutcomeDrafted   ItemOutcome = "drafted"   // a proposal was stored, or the item skipped with its reason
	OutcomeDuplicate ItemOutcome = "duplicate" // the item was done already: a redelivery
	OutcomeUnknown   ItemOutcome = "unknown"   // the message names no item
)

// DraftItem drafts one item of an async run, for the processor. An error asks for a
// redelivery: a transient failure before the last attempt. At attempt maxAttempts the
// item is given up on, skipped with the reason, rather than left pending forever.
func (s *Service) DraftItem(ctx context.Context, m RunMessage, attempt, maxAttempts int, requestID, traceParent string) (ItemOutcome, error) {
	var run Run
	var it RunItem
	var foundRun, foundItem bool
	if err := s.DB.Read(ctx, m.TenantID, func(b *pgx.Batch) {
		queueGetRun(b, m.TenantID, m.RunID, false, &run, &foundRun)
		queueItem(b, m.TenantID, m.RunID, m.Seq, false, &it, &foundItem)
	}); err != nil {
		return "", err
	}
	switch {
	case !foundRun || !foundItem:
		return OutcomeUnknown, nil
	case it.Status != ItemPending:
		return OutcomeDuplicate, nil
	}
	actor := audit.Actor{TenantID: m.TenantID, Type: run.RequestedBy.Type, ID: run.RequestedBy.ID, RequestID: requestID,
		TraceParent: traceParent}
	if attempt < 1 {
		attempt = 1
	}
	return s.draft(ctx, actor, run, it, attempt, maxAttempts > 0 && attempt >= maxAttempts)
}

// collectionEvidence is what the AR agent was given.
type collectionEvidence struct {
	Aging           *aging.Line              `json:"aging"`
	Invoices        []agents.OverdueInvoice  `json:"invoices"`
	History         []agents.PaymentEvidence `json:"history"`
	MedianDaysLate  *float64                 `json:"median_days_late"`
	DunningSchedule []int                    `json:"dunning_schedule"`
	Stage           int                      `json:"stage"`
	DaysOverdue     int                      `json:"days_overdue"`
	OverdueMinor    int64                    `json:"overdue_minor"`
}

// paymentRecord is one paid receivable of a customer.
type paymentRecord struct {
	number    string
	due, paid civil.Date
}

// draft makes one item's collection message: it reads the customer's overdue
// invoices, aging and payment history as they are now, asks the AR agent, and stores
// the proposal with the item's outcome. A refusal of the gateway skips the item with
// the gateway's code, except an unavailable agent before the final attempt, which is
// returned for a retry.
func (s *Service) draft(ctx context.Context, actor audit.Actor, run Run, it RunItem, attempt int, final bool) (ItemOutcome, error) {
	tenantID := actor.TenantID
	in, ev, err := s.collectionInput(ctx, tenantID, run, it)
	if err != nil {
		return "", err
	}
	it.Attempts = attempt
	if len(in.Invoices) == 0 {
		skip(&it, ReasonNoLongerOverdue, "nothing of the customer's in "+it.Currency+" is overdue any more")
		return s.finish(ctx, actor, run, it, nil)
	}
	var msg agents.CollectionMessage
	rec, err := s.run(ctx, tenantID, agents.ARCollections, in, &msg)
	if err != nil {
		e := apperr.From(err)
		switch {
		case e.Kind == apperr.Internal:
			return "", err
		case e.Kind == apperr.Unavailable && !final:
			s.countAttempt(ctx, tenantID, run.ID, it.Seq, e.Code+": "+e.Message)
			return "", err
		}
		skip(&it, e.Code, e.Message)
		return s.finish(ctx, actor, run, it, nil)
	}

	offered := map[uuid.UUID]bool{}
	for _, inv := range in.Invoices {
		offered[inv.ID] = true
	}
	var flags []string
	cited := []uuid.UUID{}
	for _, id := range msg.CitedInvoiceIDs {
		if !offered[id] {
			flags = append(flags, FlagUnknownReference)
			continue
		}
		if !slices.Contains(cited, id) {
			cited = append(cited, id)
		}
	}
	if len(cited) == 0 {
		// The message is about these invoices whether or not the agent said so.
		for _, inv := range in.Invoices {
			cited = append(cited, inv.ID)
		}
	}
	if flags != nil {
		flags = slices.Compact(flags)
	}
	content := &CollectionMessageContent{CounterpartyID: it.CounterpartyID, CounterpartyName: it.CounterpartyName,
		Currency: it.Currency, Stage: it.Stage, DaysOverdue: ev.DaysOverdue, OverdueMinor: ev.OverdueMinor,
		Subject: strings.TrimSpace(msg.Subject), Body: msg.Body, CitedInvoiceIDs: cited}
	evidence, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	p := newProposal(content, collectionRationale(it, ev), evidence, flags, arAgent, s.now())
	p.AgentRunID, p.CollectionRunID = runID(rec), &run.ID
	p.RequestedBy = &Actor{Type: run.RequestedBy.Type, ID: run.RequestedBy.ID}
	return s.finish(ctx, actor, run, it, &p)
}

// finish stores the item's outcome, and its proposal when there is one, unless the item
// was finished meanwhile (a redelivery raced this one). A proposal refused by the
// one-message-per-stage rule skips the item instead.
func (s *Service) finish(ctx context.Context, actor audit.Actor, run Run, it RunItem, p *Proposal) (ItemOutcome, error) {
	now := s.now()
	outcome := OutcomeDrafted
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		outcome = OutcomeDrafted
		var cur RunItem
		var found bool
		b := &pgx.Batch{}
		queueItem(b, actor.TenantID, run.ID, it.Seq, true, &cur, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found || cur.Status != ItemPending {
			outcome = OutcomeDuplicate
			return nil
		}
		done := it
		if p != nil {
			inserted, err := create(ctx, tx, actor, *p)
			if err != nil {
				return err
			}
			if inserted {
				done.Status, done.ProposalID = ItemProposed, &p.ID
			} else {
				skip(&done, ReasonAlreadyProposed, "another run proposed this stage's message meanwhile")
			}
		}
		b = &pgx.Batch{}
		queueFinishItem(b, actor.TenantID, run.ID, done, now)
		return tx.SendBatch(ctx, b).Close()
	})
	return outcome, err
}

// countAttempt records a failed attempt, best effort: the redelivery happens anyway.
func (s *Service) countAttempt(ctx context.Context, tenantID, runID uuid.UUID, seq int, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueCountAttempt(b, tenantID, runID, seq, detail, s.now())
		return tx.SendBatch(ctx, b).Close()
	})
}

// maxCitedInvoices bounds the invoices one message is given.
const maxCitedInvoices = 50

// collectionInput gathers what the AR agent reads about one item: the customer's
// overdue invoices in the item's currency, its aging line, its recent payments, and
// the dunning stage of the run.
func (s *Service) collectionInput(ctx context.Context, tenantID uuid.UUID, run Run, it RunItem) (agents.ARCollectionsInput, collectionEvidence, error) {
	receivable, open, overdue := invoices.Receivable, invoices.Open, true
	cp, cur := it.CounterpartyID, it.Currency
	list, err := s.invoices().List(ctx, tenantID, invoices.ListFilter{Direction: &receivable, Status: &open, CounterpartyID: &cp,
		Currency: &cur, Overdue: &overdue, Sort: invoices.SortDueDate}, page.Params{Limit: maxCitedInvoices})
	if err != nil {
		return agents.ARCollectionsInput{}, collectionEvidence{}, err
	}
	var doc []byte
	var history []paymentRecord
	now := s.now()
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueSettings(b, tenantID, now, &doc)
		queuePaymentHistory(b, tenantID, cp, &history)
	}); err != nil {
		return agents.ARCollectionsInput{}, collectionEvidence{}, err
	}
	today := civil.DateOf(now)
	report, err := (&aging.Service{DB: s.DB}).Report(ctx, tenantID, aging.Params{Direction: aging.Receivable, AsOf: today,
		Basis: aging.DueDate, Edges: aging.TenantEdges(doc), CounterpartyID: &cp, Currency: &cur})
	if err != nil {
		return agents.ARCollectionsInput{}, collectionEvidence{}, err
	}
	ev := collectionEvidence{Invoices: []agents.OverdueInvoice{}, History: []agents.PaymentEvidence{},
		DunningSchedule: closing.Schedule(doc), Stage: it.Stage, DaysOverdue: it.DaysOverdue}
	if len(report.Lines) > 0 {
		line := report.Lines[0]
		ev.Aging = &line
	}
	for _, inv := range list.Data {
		number := ""
		if inv.Number != nil {
			number = *inv.Number
		}
		ev.Invoices = append(ev.Invoices, agents.OverdueInvoice{ID: inv.ID, Number: number, DueDate: inv.DueDate, AmountDueMinor: inv.AmountDueMinor})
		ev.OverdueMinor += inv.AmountDueMinor
	}
	if len(list.Data) > 0 {
		ev.DaysOverdue = max(ev.DaysOverdue, today.DaysSince(list.Data[0].DueDate))
	}
	late := make([]int, 0, len(history))
	for _, h := range history {
		d := h.paid.DaysSince(h.due)
		ev.History = append(ev.History, agents.PaymentEvidence{InvoiceNumber: h.number, DueDate: h.due, PaidOn: h.paid, DaysLate: d})
		late = append(late, d)
	}
	ev.MedianDaysLate = median(late)
	in := agents.ARCollectionsInput{
		CounterpartyID: cp, CounterpartyName: it.CounterpartyName, Currency: cur, OverdueMinor: ev.OverdueMinor,
		OldestDaysLate: ev.DaysOverdue, Invoices: ev.Invoices, MedianDaysToPay: ev.MedianDaysLate,
		Stage: stageName(it.Stage, ev.DunningSchedule), History: ev.History,
	}
	return in, ev, nil
}

// stageName is the AR agent's name for stage n of schedule (the close's numbering,
// from 1): the first reminder, the final notice at the last step, firm between.
func stageName(n int, schedule []int) string {
	if n < 1 || n > len(schedule) {
		return ""
	}
	return agents.StageFor(schedule[n-1], schedule)
}

// median of whole days, nil without any.
func median(xs []int) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var m float64
	if n := len(s); n%2 == 1 {
		m = float64(s[n/2])
	} else {
		m = float64(s[n/2-1]+s[n/2]) / 2
	}
	return &m
}

// collectionRationale says in a sentence why the customer is reminded now.
func collectionRationale(it RunItem, ev collectionEvidence) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s owes %s %s on %d invoice(s) past due, the oldest %d days late: stage %d of the tenant's dunning schedule (%s days overdue)",
		it.CounterpartyName, major(ev.OverdueMinor, it.Currency), it.Currency, len(ev.Invoices), ev.DaysOverdue, it.Stage,
		joinInts(ev.DunningSchedule))
	if ev.MedianDaysLate != nil {
		fmt.Fprintf(&b, "; of its last %d paid invoices it paid a median of %s days after the due date", len(ev.History),
			strconv.FormatFloat(*ev.MedianDaysLate, 'f', -1, 64))
	} else {
		b.WriteString("; it has no payment history yet")
	}
	b.WriteString(".")
	return b.String()
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ", ")
}
