package proposals

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/page"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// scripted is a gateway that answers each agent with a fixed output, or an error.
type scripted struct {
	mu      sync.Mutex
	outputs map[agents.Name]any
	err     error
	calls   []any
}

func (g *scripted) Run(_ context.Context, _ uuid.UUID, agent agents.Name, input, out any) (agents.Run, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, input)
	if g.err != nil {
		return agents.Run{}, g.err
	}
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(g.outputs[agent]))
	return agents.Run{ID: uuid.Must(uuid.NewV7()), Object: "agent_run", Agent: agent, Provider: "test", Outcome: "succeeded"}, nil
}

func ptr[T any](v T) *T { return &v }

func TestProposalLinesTotalAndTheTotalsCheck(t *testing.T) {
	lines := []BillLine{
		{Description: "Paper", Quantity: "3", UnitAmountMinor: 333, TaxRate: ptr("20")},
		{Description: "Toner", Quantity: "1", UnitAmountMinor: 1001, TaxRate: ptr("20")},
	}
	// Per line: 999 + 199.8→200 (half-even) and 1001 + 200.2→200 = 2400; per document:
	// 2000 + 400 = 2400 as well.
	require.Equal(t, int64(2400), *linesTotal(lines))
	require.True(t, totalsMatch(lines, 2400))
	require.False(t, totalsMatch(lines, 2500))

	// Rounding per document differs by a cent from rounding per line; either is not a
	// mismatch.
	odd := []BillLine{
		{Description: "A", Quantity: "1", UnitAmountMinor: 5, TaxRate: ptr("10")},
		{Description: "B", Quantity: "1", UnitAmountMinor: 5, TaxRate: ptr("10")},
	}
	require.Equal(t, int64(10), *linesTotal(odd)) // 0.5 → 0 twice
	require.True(t, totalsMatch(odd, 10))
	require.True(t, totalsMatch(odd, 11)) // 1.0 on the sum
	require.False(t, totalsMatch(odd, 12))

	require.Nil(t, linesTotal([]BillLine{{Description: "x", Quantity: "many", UnitAmountMinor: 1}}))
	require.False(t, totalsMatch([]BillLine{{Description: "x", Quantity: "many", UnitAmountMinor: 1}}, 1))
}

func TestProposalBillFromExtractionTrustsNothing(t *testing.T) {
	known := vendorOption{ID: uuid.New(), Name: "Acme Supplies", named: true}
	x := agents.APExtraction{
		Vendor:    agents.ExtractedVendor{Name: "Acme Supplies", MatchedID: ptr(uuid.New())},
		IssueDate: civil.Date{Year: 2026, Month: 11, Day: 2}, Currency: "USD",
		Lines:      []agents.ExtractedLine{{Description: "Paper", Quantity: "2", UnitAmountMinor: 500}},
		TotalMinor: 1200, Confidence: map[string]float64{"vendor": 0.95, "total_minor": 0.4},
	}
	c, flags, ev := billFromExtraction(x, []vendorOption{known})
	// An id the agent was not shown is dropped: the vendor is new.
	require.Nil(t, c.Vendor.CounterpartyID)
	require.ElementsMatch(t, []string{FlagUnknownReference, FlagNewVendor, FlagTotalsMismatch, FlagLowConfidence}, flags)
	require.Equal(t, int64(1000), *c.LinesTotalMinor)
	require.Len(t, ev.VendorsNamed, 1)

	x.Vendor.MatchedID, x.TotalMinor, x.Confidence = &known.ID, 1000, nil
	c, flags, ev = billFromExtraction(x, []vendorOption{known})
	require.Equal(t, known.ID, *c.Vendor.CounterpartyID)
	require.Empty(t, flags)
	require.Equal(t, known.ID, ev.MatchedVendor.ID)

	x.Lines[0].Quantity = "0"
	_, flags, ev = billFromExtraction(x, []vendorOption{known})
	require.Contains(t, flags, FlagInvalidFields)
	require.Contains(t, ev.ValidationErrors, "lines[0].quantity")
}

// books is a tenant with a vendor, over a real database.
type books struct {
	d      *dbtest.Database
	svc    *Service
	gw     *scripted
	tenant uuid.UUID
	clerk  audit.Actor
	boss   audit.Actor
	vendor uuid.UUID
}

func newBooks(t *testing.T) *books {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Proposals")
	gw := &scripted{outputs: map[agents.Name]any{}}
	b := &books{d: d, svc: New(d.App, time.Now, gw, nil), gw: gw, tenant: tenant,
		clerk: audit.Actor{TenantID: tenant, Type: "user", ID: "clerk", RequestID: "req-1"},
		boss:  audit.Actor{TenantID: tenant, Type: "user", ID: "boss", RequestID: "req-2"}}
	cp, err := (&counterparties.Service{DB: d.App, Now: time.Now}).Create(context.Background(), b.clerk,
		counterparties.CreateInput{Name: "Acme Supplies", Kind: counterparties.Vendor})
	require.NoError(t, err)
	b.vendor = cp.ID
	return b
}

func (b *books) extraction(matched *uuid.UUID, name string) agents.APExtraction {
	return agents.APExtraction{
		Vendor: agents.ExtractedVendor{Name: name, MatchedID: matched}, Number: ptr("A-77"),
		IssueDate: civil.Date{Year: 2026, Month: 11, Day: 2}, DueDate: &civil.Date{Year: 2026, Month: 12, Day: 2}, Currency: "USD",
		Lines:      []agents.ExtractedLine{{Description: "Paper", Quantity: "2", UnitAmountMinor: 500, TaxRate: ptr("10")}},
		TotalMinor: 1100, Confidence: map[string]float64{"vendor": 0.9},
	}
}

func TestProposalExtractAndApproveABill(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	ctx := context.Background()
	b.gw.outputs[agents.APExtract] = b.extraction(&b.vendor, "Acme Supplies")

	p, err := b.svc.ExtractBill(ctx, b.clerk, "INVOICE A-77 from Acme Supplies\nPaper 2 x 5.00, VAT 10%\nTotal 11.00 USD")
	require.NoError(t, err)
	require.Equal(t, Pending, p.Status)
	require.Equal(t, Actor{Type: "agent", ID: "ap_extract"}, p.ProposedBy)
	require.Equal(t, &Actor{Type: "user", ID: "clerk"}, p.RequestedBy)
	require.NotNil(t, p.AgentRunID)
	require.Empty(t, p.Flags)
	in := b.gw.calls[0].(agents.APExtractInput)
	require.Equal(t, b.vendor, in.Vendors[0].ID, "the vendor the document names is offered")

	got, err := b.svc.Get(ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, int64(1100), got.Content.(*BillContent).TotalMinor)

	// The agent actor never decides.
	_, err = b.svc.Approve(ctx, audit.Actor{TenantID: b.tenant, Type: "agent", ID: "ap_extract"}, p.ID, ApproveInput{})
	require.Equal(t, "agent_cannot_decide", apperr.From(err).Code)

	approved, err := b.svc.Approve(ctx, b.boss, p.ID, ApproveInput{Note: ptr("checked against the PO")})
	require.NoError(t, err)
	require.Equal(t, Approved, approved.Status)
	require.Equal(t, b.vendor, *approved.Result.CounterpartyID)
	require.False(t, approved.Result.CounterpartyCreated)
	bill, err := (&invoices.Service{DB: b.svc.DB, Now: time.Now}).Get(ctx, b.tenant, *approved.Result.InvoiceID)
	require.NoError(t, err)
	require.Equal(t, invoices.Payable, bill.Direction)
	require.Equal(t, invoices.Draft, bill.Status)
	require.Equal(t, int64(1100), bill.TotalMinor)
	require.Contains(t, *bill.Memo, "A-77")

	_, err = b.svc.Approve(ctx, b.boss, p.ID, ApproveInput{})
	require.Equal(t, "proposal_not_pending", apperr.From(err).Code)
	_, err = b.svc.Reject(ctx, b.boss, p.ID, RejectInput{Reason: "too late"})
	require.Equal(t, apperr.Conflict, apperr.From(err).Kind)

	list, err := b.svc.List(ctx, b.tenant, ListFilter{Status: ptr(Approved)}, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
}

func TestProposalApprovingABillOfANewVendorCreatesIt(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	ctx := context.Background()
	b.gw.outputs[agents.APExtract] = b.extraction(nil, "Brand New Ltd")
	p, err := b.svc.ExtractBill(ctx, b.clerk, "Brand New Ltd bills you 11.00 USD")
	require.NoError(t, err)
	require.Equal(t, []string{FlagNewVendor}, p.Flags)

	// An edit that breaks a rule of bills leaves the proposal pending and names the field.
	_, err = b.svc.Approve(ctx, b.boss, p.ID, ApproveInput{Bill: &BillEdits{Lines: []BillLine{{Description: "Paper", Quantity: "-1", UnitAmountMinor: 5}}}})
	require.Equal(t, "validation_failed", apperr.From(err).Code)
	require.Contains(t, apperr.From(err).Fields, "bill.lines[0].quantity")
	p, err = b.svc.Get(ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, Pending, p.Status)

	approved, err := b.svc.Approve(ctx, b.boss, p.ID, ApproveInput{Bill: &BillEdits{VendorName: ptr("Brand New Limited")}})
	require.NoError(t, err)
	require.True(t, approved.Result.CounterpartyCreated)
	cp, err := (&counterparties.Service{DB: b.svc.DB, Now: time.Now}).Get(ctx, b.tenant, *approved.Result.CounterpartyID)
	require.NoError(t, err)
	require.Equal(t, "Brand New Limited", cp.Name)
	require.Equal(t, counterparties.Vendor, cp.Kind)
	require.Equal(t, "Brand New Limited", approved.Content.(*BillContent).Vendor.Name)
}

func TestProposalGatewayRefusalStoresNothing(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	b.gw.err = apperr.New(apperr.PaymentRequired, "agent_budget_exhausted", "spent")
	_, err := b.svc.ExtractBill(context.Background(), b.clerk, "a bill")
	require.Equal(t, "agent_budget_exhausted", apperr.From(err).Code)
	list, err := b.svc.List(context.Background(), b.tenant, ListFilter{}, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, list.Data)

	b.svc.Gateway = nil
	_, err = b.svc.ExtractBill(context.Background(), b.clerk, "a bill")
	require.Equal(t, "agent_unavailable", apperr.From(err).Code)
}

func TestProposalContentRoundTrips(t *testing.T) {
	for _, c := range []Content{
		&BillContent{Vendor: BillVendor{Name: "V"}, IssueDate: civil.Date{Year: 2026, Month: 1, Day: 2}, Currency: "USD", Lines: []BillLine{}, Confidence: map[string]float64{}},
		&CollectionMessageContent{CounterpartyID: uuid.New(), Stage: 2, CitedInvoiceIDs: []uuid.UUID{uuid.New()}},
		&AllocationContent{PaymentID: uuid.New(), Allocations: []AllocationAmount{{InvoiceID: uuid.New(), AmountMinor: 5}}},
		&WriteOffContent{InvoiceID: uuid.New(), Reason: "gone"},
	} {
		raw, err := json.Marshal(c)
		require.NoError(t, err)
		back, err := decodeContent(c.kind(), raw)
		require.NoError(t, err)
		require.Equal(t, c, back)
	}
	_, err := decodeContent("bogus", []byte(`{}`))
	require.Error(t, err)
}

// count runs a count(*) query of the tenant's rows ($1) as the superuser.
func (b *books) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.d.Admin.QueryRow(context.Background(), query, append([]any{b.tenant}, args...)...).Scan(&n))
	return n
}

// TestProposalMessageRefusedByTheStageRuleLeavesNoTrace: two runs drafting the same
// customer's stage race; the one whose proposal the one-message-per-stage rule refuses
// records neither an audit entry nor an event for it.
func TestProposalMessageRefusedByTheStageRuleLeavesNoTrace(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	ctx := context.Background()
	var stored []bool
	var ids []uuid.UUID
	for range 2 {
		c := &CollectionMessageContent{CounterpartyID: b.vendor, CounterpartyName: "Acme Supplies", Currency: "USD", Stage: 1,
			DaysOverdue: 12, OverdueMinor: 5000, Subject: "A reminder", Body: "Please pay.", CitedInvoiceIDs: []uuid.UUID{}}
		p := newProposal(c, "12 days overdue", []byte(`{}`), nil, arAgent, b.svc.now())
		ids = append(ids, p.ID)
		require.NoError(t, b.svc.DB.InTenantTx(ctx, b.tenant, func(tx pgx.Tx) error {
			ok, err := create(ctx, tx, b.clerk, p)
			stored = append(stored, ok)
			return err
		}))
	}
	require.Equal(t, []bool{true, false}, stored)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM proposals WHERE tenant_id = $1`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'proposal.created'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM outbox_events WHERE tenant_id = $1 AND event_type = 'proposal.created'`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND entity_id = $2`, ids[1]))
	require.Zero(t, b.count(t, `SELECT count(*) FROM outbox_events WHERE tenant_id = $1 AND entity_id = $2`, ids[1]))
}

// TestProposalAnAgentByRoleNeverDecides: the service refuses a decider by the rule
// the handlers use (IsAgent), so an API client holding the agent role beside the
// approver's is an agent here too.
func TestProposalAnAgentByRoleNeverDecides(t *testing.T) {
	t.Parallel()
	b := newBooks(t)
	b.gw.outputs[agents.APExtract] = b.extraction(&b.vendor, "Acme Supplies")
	p, err := b.svc.ExtractBill(context.Background(), b.clerk, "INVOICE A-77 from Acme Supplies, total 11.00 USD")
	require.NoError(t, err)

	client := audit.Actor{TenantID: b.tenant, Type: string(auth.ActorAPIClient), ID: "client-1", RequestID: "req-3"}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{TenantID: b.tenant, Subject: client.ID,
		ActorType: auth.ActorAPIClient, Roles: []auth.Role{auth.RoleAgent, auth.RoleApprover}})
	_, err = b.svc.Approve(ctx, client, p.ID, ApproveInput{})
	require.Equal(t, "agent_cannot_decide", apperr.From(err).Code)
	_, err = b.svc.Reject(ctx, client, p.ID, RejectInput{Reason: "no"})
	require.Equal(t, "agent_cannot_decide", apperr.From(err).Code)
	got, err := b.svc.Get(context.Background(), b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, Pending, got.Status)

	// The same client without the agent role decides.
	ctx = auth.WithPrincipal(context.Background(), auth.Principal{TenantID: b.tenant, Subject: client.ID,
		ActorType: auth.ActorAPIClient, Roles: []auth.Role{auth.RoleApprover}})
	approved, err := b.svc.Approve(ctx, client, p.ID, ApproveInput{})
	require.NoError(t, err)
	require.Equal(t, Approved, approved.Status)
}
