package proposals

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// MaxDocumentBytes bounds the text of one bill: a long bill is a few thousand
// characters; beyond this the request is more likely a mistake than a bill, and it
// would cost the tenant's agent budget accordingly.
const MaxDocumentBytes = 200 << 10

// vendorOption is a vendor an extraction may match; named when the document names it.
type vendorOption struct {
	ID    uuid.UUID `json:"id"`
	Name  string    `json:"name"`
	TaxID *string   `json:"tax_id"`
	named bool
}

// billEvidence is what the AP agent was given and what its extraction adds up to.
type billEvidence struct {
	Document struct {
		SHA256     string `json:"sha256"`
		Characters int    `json:"characters"`
	} `json:"document"`
	VendorsOffered   int               `json:"vendors_offered"`
	VendorsNamed     []vendorOption    `json:"vendors_named"`
	MatchedVendor    *vendorOption     `json:"matched_vendor"`
	TotalMinor       int64             `json:"total_minor"`
	LinesTotalMinor  *int64            `json:"lines_total_minor"`
	ValidationErrors map[string]string `json:"validation_errors"`
}

// apAgent is the AP agent as a proposer.
var apAgent = Actor{Type: "agent", ID: string(agents.APExtract)}

// ExtractBill runs the AP agent over a vendor's bill (its text) with the tenant's
// vendors and stores what it extracts as a bill proposal, proposed by the agent and
// requested by actor. A refusal of the gateway (budget exhausted, agents switched off,
// the model unavailable or its output invalid) is returned as it is: nothing is stored,
// and the problem says what the caller can do.
func (s *Service) ExtractBill(ctx context.Context, actor audit.Actor, text string) (Proposal, error) {
	switch {
	case len(text) > MaxDocumentBytes:
		return Proposal{}, apperr.New(apperr.TooLarge, "document_too_large",
			fmt.Sprintf("the document is larger than %d KiB of text; send the bill alone", MaxDocumentBytes>>10))
	case !utf8.ValidString(text):
		return Proposal{}, apperr.Validation(map[string]string{"text": "must be UTF-8 text"})
	case strings.TrimSpace(text) == "":
		return Proposal{}, apperr.Validation(map[string]string{"text": "is required: the bill's text"})
	}
	var vendors []vendorOption
	var doc []byte
	now := s.now()
	if err := s.DB.Read(ctx, actor.TenantID, func(b *pgx.Batch) {
		queueVendors(b, actor.TenantID, text, &vendors)
		queueSettings(b, actor.TenantID, now, &doc)
	}); err != nil {
		return Proposal{}, err
	}
	cfg, err := settings.Parse(doc)
	if err != nil {
		return Proposal{}, err
	}
	// A bill that shows no currency is in the tenant's; one that shows no date at all
	// is dated the day it arrived, which the agent marks as a guess.
	today := civil.DateOf(now)
	in := agents.APExtractInput{Text: text, Vendors: []agents.VendorOption{}, DefaultCurrency: cfg.BaseCurrency, ReceivedOn: &today}
	for _, v := range vendors {
		in.Vendors = append(in.Vendors, agents.VendorOption{ID: v.ID, Name: v.Name, TaxID: v.TaxID})
	}
	var out agents.APExtraction
	run, err := s.run(ctx, actor.TenantID, agents.APExtract, in, &out)
	if err != nil {
		return Proposal{}, err
	}

	content, flags, ev := billFromExtraction(out, vendors)
	sum := sha256.Sum256([]byte(text))
	ev.Document.SHA256, ev.Document.Characters = hex.EncodeToString(sum[:]), utf8.RuneCountInString(text)
	evidence, err := json.Marshal(ev)
	if err != nil {
		return Proposal{}, err
	}
	p := newProposal(content, billRationale(content, ev, flags), evidence, flags, apAgent, s.now())
	p.AgentRunID = runID(run)
	p.RequestedBy = &Actor{Type: actor.Type, ID: actor.ID}
	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		_, err := create(ctx, tx, actor, p)
		return err
	})
	if err != nil {
		return Proposal{}, err
	}
	return p, nil
}

// billFromExtraction turns the agent's extraction into a bill proposal's content,
// flags and evidence. Nothing the agent says is taken on trust: a vendor id it was not
// offered is dropped, the lines are added up here, and the bill is checked against the
// rules every bill is held to.
func billFromExtraction(x agents.APExtraction, offered []vendorOption) (*BillContent, []string, billEvidence) {
	var flags []string
	ev := billEvidence{VendorsOffered: len(offered), VendorsNamed: []vendorOption{}, TotalMinor: x.TotalMinor}
	for _, v := range offered {
		if v.named {
			ev.VendorsNamed = append(ev.VendorsNamed, v)
		}
	}
	c := &BillContent{
		Vendor: BillVendor{Name: strings.TrimSpace(x.Vendor.Name), TaxID: x.Vendor.TaxID},
		Number: x.Number, IssueDate: x.IssueDate, DueDate: x.DueDate, Currency: x.Currency, Lines: []BillLine{},
		TotalMinor: x.TotalMinor, Confidence: x.Confidence,
	}
	if c.Confidence == nil {
		c.Confidence = map[string]float64{}
	}
	if id := x.Vendor.MatchedID; id != nil {
		i := slices.IndexFunc(offered, func(v vendorOption) bool { return v.ID == *id })
		if i < 0 {
			flags = append(flags, FlagUnknownReference)
		} else {
			v := offered[i]
			c.Vendor.CounterpartyID, ev.MatchedVendor = &v.ID, &v
		}
	}
	if c.Vendor.CounterpartyID == nil {
		flags = append(flags, FlagNewVendor)
	}
	for _, l := range x.Lines {
		c.Lines = append(c.Lines, BillLine{Description: l.Description, Quantity: l.Quantity, UnitAmountMinor: l.UnitAmountMinor, TaxRate: l.TaxRate})
	}
	c.LinesTotalMinor = linesTotal(c.Lines)
	ev.LinesTotalMinor = c.LinesTotalMinor
	if !totalsMatch(c.Lines, c.TotalMinor) {
		flags = append(flags, FlagTotalsMismatch)
	}
	for _, conf := range c.Confidence {
		if conf < LowConfidence {
			flags = append(flags, FlagLowConfidence)
			break
		}
	}
	// The rules of a bill, with a stand-in for the vendor that approving resolves.
	check := invoices.CreateInput{Direction: invoices.Payable, CounterpartyID: uuid.Max, Currency: c.Currency,
		IssueDate: c.IssueDate, DueDate: c.DueDate}
	for _, l := range c.Lines {
		unit := l.UnitAmountMinor
		check.Lines = append(check.Lines, invoices.LineInput{Description: l.Description, Quantity: l.Quantity, UnitAmountMinor: &unit, TaxRate: l.TaxRate})
	}
	if err := check.Validate(); err != nil {
		ev.ValidationErrors = apperr.From(err).Fields
	}
	if c.Vendor.Name == "" && c.Vendor.CounterpartyID == nil {
		if ev.ValidationErrors == nil {
			ev.ValidationErrors = map[string]string{}
		}
		ev.ValidationErrors["vendor"] = "names no vendor and matches none"
	}
	if len(ev.ValidationErrors) > 0 {
		flags = append(flags, FlagInvalidFields)
	}
	return c, flags, ev
}

// billRationale says in a sentence what the extraction found, for the approver and the
// audit trail.
func billRationale(c *BillContent, ev billEvidence, flags []string) string {
	var b strings.Builder
	vendor := c.Vendor.Name
	if vendor == "" {
		vendor = "an unnamed vendor"
	}
	fmt.Fprintf(&b, "Bill from %s for %s %s, extracted from a %d-character document", vendor, major(c.TotalMinor, c.Currency),
		c.Currency, ev.Document.Characters)
	if ev.MatchedVendor != nil {
		fmt.Fprintf(&b, "; vendor matched to the existing counterparty %q", ev.MatchedVendor.Name)
	} else {
		b.WriteString("; no existing vendor matched, so approving creates one")
	}
	if slices.Contains(flags, FlagTotalsMismatch) {
		if c.LinesTotalMinor != nil {
			fmt.Fprintf(&b, "; the lines add up to %s, not the stated total", major(*c.LinesTotalMinor, c.Currency))
		} else {
			b.WriteString("; the lines cannot be priced, so the stated total is unchecked")
		}
	}
	b.WriteString(".")
	return b.String()
}

// run calls the gateway; without one, it refuses as a gateway whose provider is down.
func (s *Service) run(ctx context.Context, tenantID uuid.UUID, agent agents.Name, in, out any) (agents.Run, error) {
	if s.Gateway == nil {
		return agents.Run{}, apperr.New(apperr.Unavailable, "agent_unavailable", "no agent is configured for this deployment")
	}
	return s.Gateway.Run(ctx, tenantID, agent, in, out)
}

// runID is the id of a recorded run, nil when the gateway recorded none.
func runID(r agents.Run) *uuid.UUID {
	if r.ID == uuid.Nil {
		return nil
	}
	id := r.ID
	return &id
}
