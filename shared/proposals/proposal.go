// Package proposals holds what AI agents propose to do to the books and people decide:
// a draft bill extracted from a vendor's document, a collection message for an overdue
// customer, an allocation of a payment, a write-off. It also holds the workflows that
// run the agents to draft them (the AP extraction, the AR collections run).
//
// An agent never writes to the books. What it produces is stored here as a proposal
// with its rationale, the evidence it saw and the agent run that produced it; a person
// with proposals:approve carries it out (approve) or turns it down (reject). Approving
// runs the same domain services a person's own API call would (invoices, payments,
// counterparties) as the approver, with their rules and separation of duties, in the
// transaction that records the decision, so a proposal is either decided and done or
// neither. proposal.go holds the types and rules (no I/O), service.go the use cases,
// workflow_ap.go and workflow_ar.go the agent workflows, store.go the only SQL.
package proposals

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// Kind is what a proposal would do.
type Kind string

const (
	// Bill creates a draft payable invoice (and its vendor, when new).
	Bill Kind = "bill"
	// CollectionMessage is a reminder to an overdue customer; approving it records the
	// stage of the tenant's dunning schedule as sent.
	CollectionMessage Kind = "collection_message"
	// Allocation applies a payment to invoices.
	Allocation Kind = "allocation"
	// WriteOff marks an open invoice uncollectible.
	WriteOff Kind = "write_off"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case Bill, CollectionMessage, Allocation, WriteOff:
		return true
	}
	return false
}

// Status is where a proposal is.
type Status string

const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Rejected Status = "rejected"
	// Failed: approved, but the books refused it (the invoice was paid, the payment
	// used up in the meantime); it can never be carried out as proposed.
	Failed Status = "failed"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Pending, Approved, Rejected, Failed:
		return true
	}
	return false
}

// Flags name what a person should look at before approving.
const (
	// FlagTotalsMismatch: the bill's lines do not add up to the total it states.
	FlagTotalsMismatch = "totals_mismatch"
	// FlagNewVendor: no known vendor matched; approving creates one.
	FlagNewVendor = "new_vendor"
	// FlagLowConfidence: the agent was unsure of a field (below LowConfidence).
	FlagLowConfidence = "low_confidence"
	// FlagInvalidFields: the extracted bill breaks a rule of bills (a line without a
	// quantity, a due date before the issue date); approving needs edits.
	FlagInvalidFields = "invalid_fields"
	// FlagUnknownReference: the agent named an id it was not shown (a vendor, an
	// invoice); the reference was dropped.
	FlagUnknownReference = "unknown_reference"
)

// LowConfidence is the confidence below which a field is flagged.
const LowConfidence = 0.6

// Actor is who proposed, asked for or decided a proposal.
type Actor struct {
	Type string `json:"type"` // user, api_client, agent or system
	ID   string `json:"id"`
}

// Proposal is a proposal as the API shows it.
type Proposal struct {
	ID     uuid.UUID `json:"id"`
	Object string    `json:"object"`
	Kind   Kind      `json:"kind"`
	Status Status    `json:"status"`
	// Content is the proposed change: *BillContent, *CollectionMessageContent,
	// *AllocationContent or *WriteOffContent, by Kind.
	Content   Content         `json:"content"`
	Rationale string          `json:"rationale"`
	Evidence  json.RawMessage `json:"evidence"`
	Flags     []string        `json:"flags"`
	// AgentRunID is the gateway's record of the agent call that drafted it; nil for a
	// proposal made through the MCP tools, whose agent runs elsewhere.
	AgentRunID *uuid.UUID `json:"agent_run_id"`
	// CollectionRunID is the AR run that drafted a collection message.
	CollectionRunID *uuid.UUID `json:"collection_run_id"`
	// ProposedBy is the agent (or, through the MCP tools, any principal) that proposed
	// it; RequestedBy who asked a Ledgerline agent to run, when someone did.
	ProposedBy   Actor      `json:"proposed_by"`
	RequestedBy  *Actor     `json:"requested_by"`
	DecidedBy    *Actor     `json:"decided_by"`
	DecidedAt    *time.Time `json:"decided_at"`
	DecisionNote *string    `json:"decision_note"`
	Result       *Result    `json:"result"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`

	subject subject
}

// subject is what the proposal acts on, kept in columns of their own.
type subject struct {
	typ          string // payment, invoice, counterparty or ""
	id           uuid.UUID
	currency     string
	amountMinor  *int64
	dunningStage *int
}

// Content is one kind's proposed change.
type Content interface {
	kind() Kind
	subject() subject
}

// BillContent is a draft bill: what the AP agent extracted from a vendor's document,
// or what the approver made of it.
type BillContent struct {
	Vendor    BillVendor  `json:"vendor"`
	Number    *string     `json:"number"` // the vendor's own number for the bill
	IssueDate civil.Date  `json:"issue_date"`
	DueDate   *civil.Date `json:"due_date"`
	Currency  string      `json:"currency"`
	Lines     []BillLine  `json:"lines"`
	// TotalMinor is the total the document states; LinesTotalMinor what its lines add
	// up to, tax included (nil when a line cannot be priced). They differ: the
	// proposal is flagged totals_mismatch, and the bill created is priced from its
	// lines, as every invoice is.
	TotalMinor      int64              `json:"total_minor"`
	LinesTotalMinor *int64             `json:"lines_total_minor"`
	Confidence      map[string]float64 `json:"confidence"`
}

// BillVendor is the vendor as the document names it and the counterparty it is, when
// known; without one, approving creates the vendor.
type BillVendor struct {
	Name           string     `json:"name"`
	TaxID          *string    `json:"tax_id"`
	CounterpartyID *uuid.UUID `json:"counterparty_id"`
}

// BillLine is one line of a draft bill, priced in minor units.
type BillLine struct {
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitAmountMinor int64   `json:"unit_amount_minor"`
	TaxRate         *string `json:"tax_rate"`
}

func (*BillContent) kind() Kind { return Bill }
func (c *BillContent) subject() subject {
	return subject{currency: c.Currency, amountMinor: &c.TotalMinor}
}

// CollectionMessageContent is a reminder to one customer about its overdue invoices
// in one currency, at a stage of the tenant's dunning schedule.
type CollectionMessageContent struct {
	CounterpartyID   uuid.UUID   `json:"counterparty_id"`
	CounterpartyName string      `json:"counterparty_name"`
	Currency         string      `json:"currency"`
	Stage            int         `json:"stage"`
	DaysOverdue      int         `json:"days_overdue"`
	OverdueMinor     int64       `json:"overdue_minor"`
	Subject          string      `json:"subject"`
	Body             string      `json:"body"`
	CitedInvoiceIDs  []uuid.UUID `json:"cited_invoice_ids"`
}

func (*CollectionMessageContent) kind() Kind { return CollectionMessage }
func (c *CollectionMessageContent) subject() subject {
	stage := c.Stage
	return subject{typ: "counterparty", id: c.CounterpartyID, currency: c.Currency, amountMinor: &c.OverdueMinor, dunningStage: &stage}
}

// AllocationContent applies a payment to invoices.
type AllocationContent struct {
	PaymentID   uuid.UUID          `json:"payment_id"`
	Currency    string             `json:"currency"`
	AmountMinor int64              `json:"amount_minor"` // the sum of the allocations
	Allocations []AllocationAmount `json:"allocations"`
}

// AllocationAmount is one invoice's share of an allocation.
type AllocationAmount struct {
	InvoiceID   uuid.UUID `json:"invoice_id"`
	AmountMinor int64     `json:"amount_minor"`
}

func (*AllocationContent) kind() Kind { return Allocation }
func (c *AllocationContent) subject() subject {
	return subject{typ: "payment", id: c.PaymentID, currency: c.Currency, amountMinor: &c.AmountMinor}
}

// WriteOffContent marks an open invoice uncollectible.
type WriteOffContent struct {
	InvoiceID      uuid.UUID `json:"invoice_id"`
	InvoiceNumber  *string   `json:"invoice_number"`
	CounterpartyID uuid.UUID `json:"counterparty_id"`
	Currency       string    `json:"currency"`
	AmountDueMinor int64     `json:"amount_due_minor"`
	Reason         string    `json:"reason"`
}

func (*WriteOffContent) kind() Kind { return WriteOff }
func (c *WriteOffContent) subject() subject {
	return subject{typ: "invoice", id: c.InvoiceID, currency: c.Currency, amountMinor: &c.AmountDueMinor}
}

// decodeContent reads stored content of kind k.
func decodeContent(k Kind, raw []byte) (Content, error) {
	var c Content
	switch k {
	case Bill:
		c = &BillContent{}
	case CollectionMessage:
		c = &CollectionMessageContent{}
	case Allocation:
		c = &AllocationContent{}
	case WriteOff:
		c = &WriteOffContent{}
	default:
		return nil, fmt.Errorf("proposals: unknown kind %q", k)
	}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("proposals: stored %s content: %w", k, err)
	}
	return c, nil
}

// Result is what approving did: the entities it created or changed, or, for a failed
// proposal, why the books refused it. Members that do not apply are null.
type Result struct {
	InvoiceID           *uuid.UUID  `json:"invoice_id"`
	CounterpartyID      *uuid.UUID  `json:"counterparty_id"`
	CounterpartyCreated bool        `json:"counterparty_created"`
	PaymentID           *uuid.UUID  `json:"payment_id"`
	AllocationIDs       []uuid.UUID `json:"allocation_ids"`
	DunningProposalID   *uuid.UUID  `json:"dunning_proposal_id"`
	ErrorCode           *string     `json:"error_code"`
	ErrorDetail         *string     `json:"error_detail"`
}

// MaxNote bounds a decision note or a rejection reason.
const MaxNote = 2000

// ApproveInput is the body of POST /v1/proposals/{id}/approve: an optional note, and
// for a bill or a collection message, edits the approver makes before carrying it out.
type ApproveInput struct {
	Note              *string       `json:"note"`
	Bill              *BillEdits    `json:"bill"`
	CollectionMessage *MessageEdits `json:"collection_message"`
}

// BillEdits replace members of a proposed bill; members left out keep the agent's.
// CounterpartyID names an existing vendor instead of the matched or new one.
type BillEdits struct {
	CounterpartyID *uuid.UUID  `json:"counterparty_id"`
	VendorName     *string     `json:"vendor_name"`
	VendorTaxID    *string     `json:"vendor_tax_id"`
	Number         *string     `json:"number"`
	IssueDate      *civil.Date `json:"issue_date"`
	DueDate        *civil.Date `json:"due_date"`
	Currency       *string     `json:"currency"`
	Lines          []BillLine  `json:"lines"`
}

// MessageEdits replace the subject or body of a proposed collection message.
type MessageEdits struct {
	Subject *string `json:"subject"`
	Body    *string `json:"body"`
}

// Message limits: what a mail client shows and sends comfortably.
const (
	MaxSubject = 200
	MaxBody    = 10000
)

func (in ApproveInput) validate(k Kind) error {
	f := apperr.Fields{}
	checkNote("note", in.Note, f)
	if in.Bill != nil && k != Bill {
		f.Add("bill", "edits a bill; this proposal is a "+string(k))
	}
	if in.CollectionMessage != nil && k != CollectionMessage {
		f.Add("collection_message", "edits a collection message; this proposal is a "+string(k))
	}
	if m := in.CollectionMessage; m != nil {
		if m.Subject != nil && (strings.TrimSpace(*m.Subject) == "" || len([]rune(*m.Subject)) > MaxSubject) {
			f.Add("collection_message.subject", fmt.Sprintf("must be 1 to %d characters", MaxSubject))
		}
		if m.Body != nil && (strings.TrimSpace(*m.Body) == "" || len([]rune(*m.Body)) > MaxBody) {
			f.Add("collection_message.body", fmt.Sprintf("must be 1 to %d characters", MaxBody))
		}
	}
	if b := in.Bill; b != nil {
		if b.VendorName != nil && (strings.TrimSpace(*b.VendorName) == "" || len([]rune(*b.VendorName)) > 200) {
			f.Add("bill.vendor_name", "must be 1 to 200 characters")
		}
		if b.Number != nil && (strings.TrimSpace(*b.Number) == "" || len([]rune(*b.Number)) > 100) {
			f.Add("bill.number", "must be 1 to 100 characters")
		}
		if b.Lines != nil && len(b.Lines) == 0 {
			f.Add("bill.lines", "at least one line is required")
		}
	}
	return f.Err()
}

// apply returns the content with the edits made.
func (in ApproveInput) apply(c Content) Content {
	switch c := c.(type) {
	case *BillContent:
		if in.Bill == nil {
			return c
		}
		e, out := in.Bill, *c
		if e.CounterpartyID != nil {
			id := *e.CounterpartyID
			out.Vendor.CounterpartyID = &id
		}
		if e.VendorName != nil {
			out.Vendor.Name = strings.TrimSpace(*e.VendorName)
		}
		if e.VendorTaxID != nil {
			out.Vendor.TaxID = e.VendorTaxID
		}
		if e.Number != nil {
			n := strings.TrimSpace(*e.Number)
			out.Number = &n
		}
		if e.IssueDate != nil {
			out.IssueDate = *e.IssueDate
		}
		if e.DueDate != nil {
			out.DueDate = e.DueDate
		}
		if e.Currency != nil {
			out.Currency = *e.Currency
		}
		if e.Lines != nil {
			out.Lines = append([]BillLine(nil), e.Lines...)
		}
		out.LinesTotalMinor = linesTotal(out.Lines)
		return &out
	case *CollectionMessageContent:
		if in.CollectionMessage == nil {
			return c
		}
		out := *c
		if s := in.CollectionMessage.Subject; s != nil {
			out.Subject = strings.TrimSpace(*s)
		}
		if b := in.CollectionMessage.Body; b != nil {
			out.Body = *b
		}
		return &out
	}
	return c
}

// RejectInput is the body of POST /v1/proposals/{id}/reject.
type RejectInput struct {
	Reason string `json:"reason"`
}

func (in RejectInput) validate() error {
	f := apperr.Fields{}
	if r := strings.TrimSpace(in.Reason); r == "" || len([]rune(r)) > MaxNote {
		f.Add("reason", fmt.Sprintf("must be 1 to %d characters", MaxNote))
	}
	return f.Err()
}

func checkNote(field string, note *string, f apperr.Fields) {
	if note != nil && len([]rune(*note)) > MaxNote {
		f.Add(field, fmt.Sprintf("must be at most %d characters", MaxNote))
	}
}

// ListFilter narrows a list of proposals.
type ListFilter struct {
	Kind            *Kind
	Status          *Status
	CollectionRunID *uuid.UUID
}

// IsAgent reports whether p is an agent: its token says it acts as one, or it holds
// the agent role. Either way it may propose and may never decide, whatever other
// roles it holds.
func IsAgent(p auth.Principal) bool {
	if p.ActorType == auth.ActorAgent {
		return true
	}
	for _, r := range p.Roles {
		if r == auth.RoleAgent {
			return true
		}
	}
	return false
}

// agentCannotDecide is the refusal of a decision by an agent.
func agentCannotDecide() error {
	return apperr.New(apperr.Forbidden, "agent_cannot_decide",
		"an agent proposes; only a person may approve or reject a proposal")
}

// CheckDecider refuses a principal that is an agent, before anything is read.
func CheckDecider(p auth.Principal) error {
	if IsAgent(p) {
		return agentCannotDecide()
	}
	return nil
}

func notPending(st Status) error {
	return apperr.New(apperr.Conflict, "proposal_not_pending", "the proposal is already "+string(st))
}
