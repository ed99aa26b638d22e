package proposals

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// MaxRationale bounds the rationale a proposer gives.
const MaxRationale = 4000

// maxProposedAllocations bounds the invoices one allocation proposal names.
const maxProposedAllocations = 50

// ProposeAllocationInput is a proposal to apply a payment to invoices (the MCP tool
// propose_allocation).
type ProposeAllocationInput struct {
	PaymentID   uuid.UUID          `json:"payment_id"`
	Allocations []AllocationAmount `json:"allocations"`
	Rationale   string             `json:"rationale"`
}

// ProposeWriteOffInput is a proposal to write an open invoice off (the MCP tool
// propose_write_off).
type ProposeWriteOffInput struct {
	InvoiceID uuid.UUID `json:"invoice_id"`
	Reason    string    `json:"reason"`
	Rationale string    `json:"rationale"`
}

// Proposer is who proposes through the tools: the audited actor, and whether it is an
// agent, whose proposals are held to the tenant's agent limits.
type Proposer struct {
	Actor audit.Actor
	Agent bool
}

func checkRationale(r string, f apperr.Fields) {
	if r = strings.TrimSpace(r); r == "" || len([]rune(r)) > MaxRationale {
		f.Add("rationale", fmt.Sprintf("must be 1 to %d characters: why, from what the books show", MaxRationale))
	}
}

// allocationEvidence is what an allocation proposal rests on.
type allocationEvidence struct {
	Payment  paymentFacts   `json:"payment"`
	Invoices []invoiceFacts `json:"invoices"`
}

type paymentFacts struct {
	ID                     uuid.UUID  `json:"id"`
	Direction              string     `json:"direction"`
	CounterpartyID         uuid.UUID  `json:"counterparty_id"`
	Currency               string     `json:"currency"`
	AmountMinor            int64      `json:"amount_minor"`
	AmountUnallocatedMinor int64      `json:"amount_unallocated_minor"`
	ValueDate              civil.Date `json:"value_date"`
	Reference              *string    `json:"reference"`
}

type invoiceFacts struct {
	ID             uuid.UUID  `json:"id"`
	Number         *string    `json:"number"`
	Direction      string     `json:"direction"`
	Status         string     `json:"status"`
	CounterpartyID uuid.UUID  `json:"counterparty_id"`
	Currency       string     `json:"currency"`
	TotalMinor     int64      `json:"total_minor"`
	AmountDueMinor int64      `json:"amount_due_minor"`
	IssueDate      civil.Date `json:"issue_date"`
	DueDate        civil.Date `json:"due_date"`
}

func factsOf(inv invoices.Invoice) invoiceFacts {
	return invoiceFacts{ID: inv.ID, Number: inv.Number, Direction: string(inv.Direction), Status: string(inv.Status),
		CounterpartyID: inv.CounterpartyID, Currency: inv.Currency, TotalMinor: inv.TotalMinor,
		AmountDueMinor: inv.AmountDueMinor, IssueDate: inv.IssueDate, DueDate: inv.DueDate}
}

// ProposeAllocation records a proposal to allocate a payment. It is checked against
// the books as they are (the payment posted with enough left, each invoice open, in
// its currency and direction, owing at least its share), so a proposer hears at once
// what is wrong; the approval checks again, on locked rows, when it allocates.
func (s *Service) ProposeAllocation(ctx context.Context, by Proposer, in ProposeAllocationInput) (Proposal, error) {
	f := apperr.Fields{}
	if in.PaymentID == uuid.Nil {
		f.Add("payment_id", "is required")
	}
	switch n := len(in.Allocations); {
	case n == 0:
		f.Add("allocations", "at least one allocation is required")
	case n > maxProposedAllocations:
		f.Add("allocations", fmt.Sprintf("at most %d allocations", maxProposedAllocations))
	}
	seen := map[uuid.UUID]bool{}
	var total int64
	for i, a := range in.Allocations {
		if a.InvoiceID == uuid.Nil || seen[a.InvoiceID] {
			f.Add(fmt.Sprintf("allocations[%d].invoice_id", i), "must name a different invoice in each allocation")
		}
		seen[a.InvoiceID] = true
		if a.AmountMinor <= 0 {
			f.Add(fmt.Sprintf("allocations[%d].amount_minor", i), "must be greater than zero")
		}
		var err error
		if total, err = money.Add(total, a.AmountMinor); err != nil {
			f.Add("allocations", "the total is too large")
		}
	}
	checkRationale(in.Rationale, f)
	if err := f.Err(); err != nil {
		return Proposal{}, err
	}
	tenantID := by.Actor.TenantID
	pay, err := s.payments().Get(ctx, tenantID, in.PaymentID)
	if err != nil {
		return Proposal{}, err
	}
	if pay.Status != payments.Posted {
		return Proposal{}, apperr.New(apperr.Conflict, "payment_reversed", "the payment is reversed and cannot be allocated")
	}
	if total > pay.AmountUnallocatedMinor {
		return Proposal{}, apperr.New(apperr.Unprocessable, "allocation_exceeds_unallocated",
			fmt.Sprintf("the allocations total %d minor units; the payment has %d left to allocate", total, pay.AmountUnallocatedMinor))
	}
	ev := allocationEvidence{Payment: paymentFacts{ID: pay.ID, Direction: string(pay.Direction), CounterpartyID: pay.CounterpartyID,
		Currency: pay.Currency, AmountMinor: pay.AmountMinor, AmountUnallocatedMinor: pay.AmountUnallocatedMinor,
		ValueDate: pay.ValueDate, Reference: pay.Reference}}
	for i, a := range in.Allocations {
		inv, err := s.invoices().Get(ctx, tenantID, a.InvoiceID)
		if apperr.KindOf(err) == apperr.NotFound {
			return Proposal{}, apperr.Validation(map[string]string{fmt.Sprintf("allocations[%d].invoice_id", i): "no such invoice"})
		}
		if err != nil {
			return Proposal{}, err
		}
		switch {
		case string(inv.Direction) != pay.Direction.InvoiceDirection():
			return Proposal{}, apperr.New(apperr.Unprocessable, "direction_mismatch",
				fmt.Sprintf("invoice %s is %s; a payment %s settles %s invoices", inv.ID, inv.Direction, pay.Direction, pay.Direction.InvoiceDirection()))
		case inv.Currency != pay.Currency:
			return Proposal{}, apperr.New(apperr.Unprocessable, "currency_mismatch",
				fmt.Sprintf("invoice %s is in %s; the payment is in %s", inv.ID, inv.Currency, pay.Currency))
		case inv.Status != invoices.Open:
			return Proposal{}, apperr.New(apperr.Conflict, "invoice_not_open", fmt.Sprintf("invoice %s is %s", inv.ID, inv.Status))
		case a.AmountMinor > inv.AmountDueMinor:
			return Proposal{}, apperr.New(apperr.Unprocessable, "allocation_exceeds_amount_due",
				fmt.Sprintf("invoice %s has %d minor units due; the allocation is %d", inv.ID, inv.AmountDueMinor, a.AmountMinor))
		}
		ev.Invoices = append(ev.Invoices, factsOf(inv))
	}
	content := &AllocationContent{PaymentID: pay.ID, Currency: pay.Currency, AmountMinor: total,
		Allocations: append([]AllocationAmount(nil), in.Allocations...)}
	return s.propose(ctx, by, content, in.Rationale, ev)
}

// writeOffEvidence is what a write-off proposal rests on.
type writeOffEvidence struct {
	Invoice     invoiceFacts `json:"invoice"`
	DaysOverdue int          `json:"days_overdue"`
}

// ProposeWriteOff records a proposal to write an open invoice off for its amount due.
func (s *Service) ProposeWriteOff(ctx context.Context, by Proposer, in ProposeWriteOffInput) (Proposal, error) {
	f := apperr.Fields{}
	if in.InvoiceID == uuid.Nil {
		f.Add("invoice_id", "is required")
	}
	if r := strings.TrimSpace(in.Reason); r == "" || len([]rune(r)) > 500 {
		f.Add("reason", "must be 1 to 500 characters")
	}
	checkRationale(in.Rationale, f)
	if err := f.Err(); err != nil {
		return Proposal{}, err
	}
	inv, err := s.invoices().Get(ctx, by.Actor.TenantID, in.InvoiceID)
	if err != nil {
		return Proposal{}, err
	}
	if inv.Status != invoices.Open {
		return Proposal{}, apperr.New(apperr.Conflict, "invoice_not_open", "the invoice is "+string(inv.Status)+" and cannot be written off")
	}
	days := civil.DateOf(s.now()).DaysSince(inv.DueDate)
	if days < 0 {
		days = 0
	}
	content := &WriteOffContent{InvoiceID: inv.ID, InvoiceNumber: inv.Number, CounterpartyID: inv.CounterpartyID,
		Currency: inv.Currency, AmountDueMinor: inv.AmountDueMinor, Reason: strings.TrimSpace(in.Reason)}
	return s.propose(ctx, by, content, in.Rationale, writeOffEvidence{Invoice: factsOf(inv), DaysOverdue: days})
}

// propose stores a proposal made through the tools, after holding an agent to the
// tenant's agent settings.
func (s *Service) propose(ctx context.Context, by Proposer, content Content, rationale string, evidence any) (Proposal, error) {
	if by.Agent {
		sub := content.subject()
		if err := s.checkAgentLimit(ctx, by.Actor.TenantID, sub.currency, *sub.amountMinor); err != nil {
			return Proposal{}, err
		}
	}
	ev, err := json.Marshal(evidence)
	if err != nil {
		return Proposal{}, err
	}
	p := newProposal(content, strings.TrimSpace(rationale), ev, nil, Actor{Type: by.Actor.Type, ID: by.Actor.ID}, s.now())
	err = s.DB.InTenantTx(ctx, by.Actor.TenantID, func(tx pgx.Tx) error {
		_, err := create(ctx, tx, by.Actor, p)
		return err
	})
	if err != nil {
		return Proposal{}, err
	}
	return p, nil
}

// checkAgentLimit refuses an agent's proposal when the tenant has agents switched off,
// or when amount is above the tenant's agent limit for currency (or there is none).
func (s *Service) checkAgentLimit(ctx context.Context, tenantID uuid.UUID, currency string, amount int64) error {
	on, err := s.features().Enabled(ctx, tenantID, features.Agents)
	if err != nil {
		return err
	}
	if !on {
		return apperr.New(apperr.Forbidden, "agents_disabled", "the tenant has the agents feature switched off; agents may not propose")
	}
	v, err := (&settings.Service{DB: s.DB, Cache: s.Cache, Now: s.Now}).Current(ctx, tenantID)
	if err != nil {
		return err
	}
	limit, ok := v.AgentProposalLimitsMinor[currency]
	if !ok {
		return apperr.New(apperr.Forbidden, "agent_limit_exceeded",
			"the tenant sets no agent limit for "+currency+" (agent_proposal_limits_minor), so an agent may not propose amounts in it")
	}
	if amount > limit {
		return apperr.New(apperr.Forbidden, "agent_limit_exceeded",
			fmt.Sprintf("the proposal is for %s %s, above the agents' limit of %s %s (agent_proposal_limits_minor); a person must do this",
				major(amount, currency), currency, major(limit, currency), currency))
	}
	return nil
}

// major formats minor units as a major-unit amount for messages.
func major(amount int64, currency string) string {
	s, err := money.FormatMinor(amount, currency)
	if err != nil {
		return fmt.Sprint(amount)
	}
	return s
}
