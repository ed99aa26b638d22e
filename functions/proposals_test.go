package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// withAgents gives the functions the agent gateway a deployment without providers
// has: the built-in agent for all three agents.
func withAgents(d *platform.Deps) {
	gw, err := agents.FromConfig(d.Config, d.DB, d.Cache, d.Now)
	if err != nil {
		panic(err)
	}
	d.Agents = gw
}

// withGateway gives the functions gw as their agent gateway.
func withGateway(gw agents.Gateway) apitest.Option {
	return func(d *platform.Deps) { d.Agents = gw }
}

// agentsOn switches the tenant's agents feature on, as its admin.
func agentsOn(t *testing.T, s *apitest.Server, adminToken string) {
	t.Helper()
	putFeatures(t, s, adminToken, map[string]bool{"agents": true})
}

// setAgentLimits merges limits into the tenant's agent proposal limits, as its admin.
func setAgentLimits(t *testing.T, s *apitest.Server, adminToken string, limits map[string]any) {
	t.Helper()
	cur := getSettings(t, s, adminToken, "")
	decodeSettings(t, patchSettings(s, t, adminToken, etag(cur.Version), map[string]any{"agent_proposal_limits_minor": limits}))
}

// agentToken is a token of an agent principal: actor type agent, with roles.
func agentToken(t *testing.T, s *apitest.Server, tenant uuid.UUID, subject string, roles ...auth.Role) string {
	t.Helper()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	now := time.Now()
	tok, err := s.Deps.Issuer.Keys.Sign(auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: s.Deps.Issuer.Name, Subject: subject,
			Audience: jwt.ClaimStrings{s.Deps.Issuer.Audience}, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: uuid.NewString()},
		TenantID: tenant.String(), Roles: names, ActorType: string(auth.ActorAgent),
	})
	require.NoError(t, err)
	return tok
}

type actorDoc struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type proposalResult struct {
	InvoiceID           *string  `json:"invoice_id"`
	CounterpartyID      *string  `json:"counterparty_id"`
	CounterpartyCreated bool     `json:"counterparty_created"`
	PaymentID           *string  `json:"payment_id"`
	AllocationIDs       []string `json:"allocation_ids"`
	DunningProposalID   *string  `json:"dunning_proposal_id"`
	ErrorCode           *string  `json:"error_code"`
	ErrorDetail         *string  `json:"error_detail"`
}

type proposalDoc struct {
	ID              string          `json:"id"`
	Object          string          `json:"object"`
	Kind            string          `json:"kind"`
	Status          string          `json:"status"`
	Content         json.RawMessage `json:"content"`
	Rationale       string          `json:"rationale"`
	Evidence        map[string]any  `json:"evidence"`
	Flags           []string        `json:"flags"`
	AgentRunID      *string         `json:"agent_run_id"`
	CollectionRunID *string         `json:"collection_run_id"`
	ProposedBy      actorDoc        `json:"proposed_by"`
	RequestedBy     *actorDoc       `json:"requested_by"`
	DecidedBy       *actorDoc       `json:"decided_by"`
	DecidedAt       *string         `json:"decided_at"`
	DecisionNote    *string         `json:"decision_note"`
	Result          *proposalResult `json:"result"`
	Version         int             `json:"version"`
}

func (p proposalDoc) content(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(p.Content, v))
}

type billContent struct {
	Vendor struct {
		Name           string  `json:"name"`
		TaxID          *string `json:"tax_id"`
		CounterpartyID *string `json:"counterparty_id"`
	} `json:"vendor"`
	Number          *string `json:"number"`
	IssueDate       string  `json:"issue_date"`
	DueDate         *string `json:"due_date"`
	Currency        string  `json:"currency"`
	TotalMinor      int64   `json:"total_minor"`
	LinesTotalMinor *int64  `json:"lines_total_minor"`
	Lines           []struct {
		Description     string  `json:"description"`
		Quantity        string  `json:"quantity"`
		UnitAmountMinor int64   `json:"unit_amount_minor"`
		TaxRate         *string `json:"tax_rate"`
	} `json:"lines"`
	Confidence map[string]float64 `json:"confidence"`
}

func decodeProposal(t *testing.T, resp apitest.Response, status int) proposalDoc {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	var p proposalDoc
	resp.JSON(t, &p)
	require.Equal(t, "proposal", p.Object)
	require.Equal(t, etag(p.Version), resp.Header.Get("ETag"))
	return p
}

func approve(s *apitest.Server, t *testing.T, token, id string, body any) apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/proposals/" + id + "/approve", Token: token, Body: body})
}

func reject(s *apitest.Server, t *testing.T, token, id, reason string) apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/proposals/" + id + "/reject", Token: token,
		Body: map[string]any{"reason": reason}})
}

func getProposal(s *apitest.Server, t *testing.T, token, id string) proposalDoc {
	t.Helper()
	return decodeProposal(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/proposals/" + id, Token: token}), http.StatusOK)
}

func listProposals(s *apitest.Server, t *testing.T, token, query string) []proposalDoc {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/proposals" + query, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var l struct {
		Data    []proposalDoc `json:"data"`
		HasMore bool          `json:"has_more"`
	}
	resp.JSON(t, &l)
	return l.Data
}

// acmeBill is a vendor's bill as text: labelled fields, two lines and a stated total
// that their sum with 20% tax reaches (141.00).
const acmeBill = `From: Acme Supplies
VAT No: GB123456789
INVOICE
Invoice number: A-1001
Invoice date: 2026-11-02
Due date: 2026-12-02

Description          Qty   Unit price   Amount
Copy paper A4          3        12.50    37.50
Toner cartridge        1        80.00    80.00

Subtotal: 117.50 USD
VAT 20%: 23.50 USD
Total: 141.00 USD
`

func extractBill(s *apitest.Server, t *testing.T, token string, body any, header map[string]string) apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/agents/ap/extract", Token: token, Body: body, Header: header})
}

// auditActions lists the actions of an entity's audit trail with their actor, oldest first.
func auditActions(t *testing.T, s *apitest.Server, tenant uuid.UUID, entityID string) [][3]string {
	t.Helper()
	rows, err := s.DB.Admin.Query(context.Background(), `SELECT action, actor_type, actor_id FROM audit_events
 WHERE tenant_id = $1 AND entity_id = $2 ORDER BY seq`, tenant, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var a [3]string
		require.NoError(t, rows.Scan(&a[0], &a[1], &a[2]))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestProposalBillApprovedCreatesTheDraftBill(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withAgents)
	f := newFixture(t, s, "Billed")
	agentsOn(t, s, f.token)
	clerk := s.TokenAs(t, f.tenant, "clerk-1", auth.RoleAccountant)
	approver := s.TokenAs(t, f.tenant, "approver-1", auth.RoleApprover)

	p := decodeProposal(t, extractBill(s, t, clerk, map[string]any{"text": acmeBill}, nil), http.StatusCreated)
	require.Equal(t, "bill", p.Kind)
	require.Equal(t, "pending", p.Status)
	require.Equal(t, actorDoc{"agent", "ap_extract"}, p.ProposedBy)
	require.Equal(t, &actorDoc{"user", "clerk-1"}, p.RequestedBy)
	require.NotNil(t, p.AgentRunID)
	require.Contains(t, p.Flags, "new_vendor")
	require.NotContains(t, p.Flags, "totals_mismatch")
	var bill billContent
	p.content(t, &bill)
	require.Equal(t, "Acme Supplies", bill.Vendor.Name)
	require.Equal(t, "A-1001", *bill.Number)
	require.Equal(t, "USD", bill.Currency)
	require.Equal(t, int64(14100), bill.TotalMinor)
	require.Equal(t, int64(14100), *bill.LinesTotalMinor)
	require.Len(t, bill.Lines, 2)
	require.Contains(t, bill.Confidence, "total_minor")
	require.NotEmpty(t, p.Rationale)
	require.Contains(t, p.Evidence, "document")

	// Listed among the pending bills.
	pending := listProposals(s, t, approver, "?kind=bill&status=pending")
	require.Len(t, pending, 1)
	require.Equal(t, p.ID, pending[0].ID)
	require.Empty(t, listProposals(s, t, approver, "?kind=write_off"))

	// The approver fixes the due date and approves: the vendor and the draft bill exist.
	done := decodeProposal(t, approve(s, t, approver, p.ID, map[string]any{"note": "matches the delivery note",
		"bill": map[string]any{"due_date": "2026-12-16"}}), http.StatusOK)
	require.Equal(t, "approved", done.Status)
	require.Equal(t, &actorDoc{"user", "approver-1"}, done.DecidedBy)
	require.Equal(t, "matches the delivery note", *done.DecisionNote)
	require.True(t, done.Result.CounterpartyCreated)
	inv := f.getInvoice(t, *done.Result.InvoiceID)
	require.Equal(t, "payable", inv.Direction)
	require.Equal(t, "draft", inv.Status)
	require.Equal(t, *done.Result.CounterpartyID, inv.CounterpartyID)
	require.Equal(t, "2026-12-16", inv.DueDate)
	require.Equal(t, int64(14100), inv.TotalMinor)
	var after billContent
	done.content(t, &after)
	require.Equal(t, "2026-12-16", *after.DueDate, "the content is the bill as approved")

	// The books' own audit names the approver; the proposal's keeps the rationale and
	// the evidence, and who proposed it.
	require.Equal(t, [][3]string{{"invoice.created", "user", "approver-1"}}, auditActions(t, s, f.tenant, inv.ID))
	trail := f.auditOf(t, p.ID)
	require.Len(t, trail, 2)
	require.Equal(t, "proposal.created", trail[0].Action)
	require.Equal(t, [][3]string{{"proposal.created", "agent", "ap_extract"}, {"proposal.approved", "user", "approver-1"}},
		auditActions(t, s, f.tenant, p.ID))
	var audited proposalDoc
	require.NoError(t, json.Unmarshal(trail[1].After, &audited))
	require.Equal(t, p.Rationale, audited.Rationale)
	require.Equal(t, p.Evidence, audited.Evidence)
	var before proposalDoc
	require.NoError(t, json.Unmarshal(trail[1].Before, &before))
	var proposed billContent
	before.content(t, &proposed)
	require.Equal(t, "2026-12-02", *proposed.DueDate, "the audit keeps what the agent proposed")

	// Approved once only; nor can it be rejected now.
	wantProblem(t, approve(s, t, approver, p.ID, nil), http.StatusConflict, "proposal_not_pending")
	wantProblem(t, reject(s, t, f.token, p.ID, "changed my mind"), http.StatusConflict, "proposal_not_pending")

	// The same vendor's next bill matches the vendor created.
	again := decodeProposal(t, extractBill(s, t, clerk, acmeBill, map[string]string{"Content-Type": "text/plain"}), http.StatusCreated)
	var second billContent
	again.content(t, &second)
	require.Equal(t, *done.Result.CounterpartyID, *second.Vendor.CounterpartyID)
	require.NotContains(t, again.Flags, "new_vendor")
}

func TestProposalRejectAndWhoMayDecide(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withAgents)
	f := newFixture(t, s, "Decided")
	agentsOn(t, s, f.token)
	p := decodeProposal(t, extractBill(s, t, f.token, map[string]any{"text": acmeBill}, nil), http.StatusCreated)

	viewer := s.Token(t, f.tenant, auth.RoleViewer)
	requireForbidden(t, approve(s, t, viewer, p.ID, nil), "a viewer approving")
	requireForbidden(t, reject(s, t, viewer, p.ID, "no"), "a viewer rejecting")
	auditor := s.Token(t, f.tenant, auth.RoleAuditor)
	requireForbidden(t, approve(s, t, auditor, p.ID, nil), "an auditor approving")

	// An agent may read proposals, never decide them: not with the agent role, not as
	// an agent principal, whatever other roles it holds.
	agentRole := s.Token(t, f.tenant, auth.RoleAgent)
	require.Len(t, listProposals(s, t, agentRole, ""), 1)
	requireForbidden(t, approve(s, t, agentRole, p.ID, nil), "the agent role approving")
	wantProblem(t, approve(s, t, s.TokenAs(t, f.tenant, "bot-1", auth.RoleAgent, auth.RoleAdmin), p.ID, nil),
		http.StatusForbidden, "agent_cannot_decide")
	wantProblem(t, approve(s, t, agentToken(t, s, f.tenant, "bot-2", auth.RoleOwner), p.ID, nil),
		http.StatusForbidden, "agent_cannot_decide")
	wantProblem(t, reject(s, t, agentToken(t, s, f.tenant, "bot-2", auth.RoleOwner), p.ID, "no"),
		http.StatusForbidden, "agent_cannot_decide")
	require.Equal(t, "pending", getProposal(s, t, viewer, p.ID).Status)

	// A rejection needs a reason and does nothing to the books.
	wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/proposals/" + p.ID + "/reject", Token: f.token, Body: map[string]any{}}),
		http.StatusUnprocessableEntity, "validation_failed")
	done := decodeProposal(t, reject(s, t, f.controller, p.ID, "  a duplicate of last week's bill "), http.StatusOK)
	require.Equal(t, "rejected", done.Status)
	require.Equal(t, "a duplicate of last week's bill", *done.DecisionNote)
	require.Nil(t, done.Result)
	require.Zero(t, f.count(t, `SELECT count(*) FROM invoices WHERE tenant_id = $1 AND direction = 'payable'`))
	wantProblem(t, approve(s, t, f.controller, p.ID, nil), http.StatusConflict, "proposal_not_pending")

	// Another tenant's proposal, and a string that is no id, are not found.
	other := newFixture(t, s, "Elsewhere")
	wantProblem(t, approve(s, t, other.token, p.ID, nil), http.StatusNotFound, "proposal_not_found")
	wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/proposals/nope", Token: f.token}), http.StatusNotFound, "proposal_not_found")
}

// civilDaysAgo is today's date (UTC) n days ago, as the API writes dates.
func civilDaysAgo(n int) string { return civil.DateOf(time.Now().UTC()).AddDays(-n).String() }

// proposeThroughMCP makes a proposal as an agent principal through the MCP tools.
func proposeThroughMCP(t *testing.T, s *apitest.Server, token, tool string, args map[string]any) proposalDoc {
	t.Helper()
	var p proposalDoc
	callTool(t, mcpConnect(t, mcpServer(t, s), token), tool, args).decode(t, &p)
	return p
}

func TestProposalAllocationApprovedUnderSeparationOfDuties(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Allocated")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, nil) // 45000, raised by the fixture's admin
	_, pay := f.pay(t, map[string]any{"amount_minor": 45000, "reference": "remittance " + *inv.Number})
	bot := agentToken(t, s, f.tenant, "matcher-bot", auth.RoleAgent)
	p := proposeThroughMCP(t, s, bot, "propose_allocation", map[string]any{"payment_id": pay.ID,
		"rationale":   "the remittance names the invoice and the amounts agree",
		"allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 45000}}})

	// The wrong role, and whoever recorded the payment, may not approve.
	requireForbidden(t, approve(s, t, s.Token(t, f.tenant, auth.RoleViewer), p.ID, nil), "a viewer approving")
	wantProblem(t, approve(s, t, f.token, p.ID, nil), http.StatusForbidden, "sod_approve_allocation_of_own_payment")
	require.Equal(t, "pending", getProposal(s, t, f.token, p.ID).Status)
	require.Equal(t, "open", f.getInvoice(t, inv.ID).Status)

	approver := s.TokenAs(t, f.tenant, "approver-2", auth.RoleApprover)
	done := decodeProposal(t, approve(s, t, approver, p.ID, map[string]any{}), http.StatusOK)
	require.Equal(t, "approved", done.Status)
	require.Equal(t, pay.ID, *done.Result.PaymentID)
	require.Len(t, done.Result.AllocationIDs, 1)
	require.Equal(t, "paid", f.getInvoice(t, inv.ID).Status)
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/payments/" + pay.ID, Token: f.token})
	var after payment
	resp.JSON(t, &after)
	require.Equal(t, done.Result.AllocationIDs[0], after.Allocations[0].ID)
	require.Contains(t, auditActions(t, s, f.tenant, pay.ID), [3]string{"payment.allocated", "user", "approver-2"})
	require.Equal(t, [][3]string{{"proposal.created", "agent", "matcher-bot"}, {"proposal.approved", "user", "approver-2"}},
		auditActions(t, s, f.tenant, p.ID))
}

func TestProposalWriteOffApprovedUnderSeparationOfDuties(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Written")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(200), "due_date": civilDaysAgo(180)})
	bot := agentToken(t, s, f.tenant, "collector-bot", auth.RoleAgent)
	p := proposeThroughMCP(t, s, bot, "propose_write_off", map[string]any{"invoice_id": inv.ID,
		"reason": "customer in liquidation", "rationale": "180 days overdue; the liquidator's letter says unsecured creditors get nothing"})

	// Whoever raised the invoice may not approve its write-off; nor may a viewer.
	requireForbidden(t, approve(s, t, s.Token(t, f.tenant, auth.RoleViewer), p.ID, nil), "a viewer approving")
	wantProblem(t, approve(s, t, f.token, p.ID, nil), http.StatusForbidden, "sod_approve_write_off_own_invoice")
	require.Equal(t, "open", f.getInvoice(t, inv.ID).Status)

	done := decodeProposal(t, approve(s, t, f.controller, p.ID, nil), http.StatusOK)
	require.Equal(t, inv.ID, *done.Result.InvoiceID)
	require.Equal(t, "uncollectible", f.getInvoice(t, inv.ID).Status)
	trail := f.auditOf(t, inv.ID)
	require.Equal(t, "invoice.marked_uncollectible", trail[len(trail)-1].Action)
	require.Contains(t, string(trail[len(trail)-1].After), "customer in liquidation")

	// A person who proposes through the tools may not approve their own proposal.
	other := f.openInvoice(t, nil)
	clerk := s.TokenAs(t, f.tenant, "clerk-9", auth.RoleAccountant)
	own := proposeThroughMCP(t, s, clerk, "propose_write_off", map[string]any{"invoice_id": other.ID,
		"reason": "disputed for good", "rationale": "the customer disputes the whole delivery"})
	wantProblem(t, approve(s, t, clerk, own.ID, nil), http.StatusForbidden, "sod_approve_own_proposal")
	decodeProposal(t, approve(s, t, f.controller, own.ID, nil), http.StatusOK)
}

func TestProposalTheBooksRefuseFails(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Refused")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, nil)
	_, pay := f.pay(t, map[string]any{"amount_minor": 45000})
	bot := agentToken(t, s, f.tenant, "matcher-bot", auth.RoleAgent)
	p := proposeThroughMCP(t, s, bot, "propose_allocation", map[string]any{"payment_id": pay.ID, "rationale": "same amount",
		"allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 45000}}})
	wo := proposeThroughMCP(t, s, bot, "propose_write_off", map[string]any{"invoice_id": inv.ID, "reason": "r", "rationale": "r"})

	// The invoice is paid by another payment meanwhile.
	resp, _ := f.pay(t, map[string]any{"amount_minor": 45000, "allocations": []any{alloc(inv.ID, 45000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	resp = approve(s, t, f.controller, p.ID, nil)
	require.Contains(t, []int{http.StatusConflict, http.StatusUnprocessableEntity}, resp.Status, string(resp.Body))
	code := resp.Problem(t).Code
	failed := getProposal(s, t, f.token, p.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, code, *failed.Result.ErrorCode)
	require.Equal(t, &actorDoc{"user", "controller-" + f.tenant.String()[:8]}, failed.DecidedBy)
	require.Equal(t, [][3]string{{"proposal.created", "agent", "matcher-bot"}, {"proposal.failed", "user", "controller-" + f.tenant.String()[:8]}},
		auditActions(t, s, f.tenant, p.ID))
	wantProblem(t, approve(s, t, f.controller, p.ID, nil), http.StatusConflict, "proposal_not_pending")

	wantProblem(t, approve(s, t, f.controller, wo.ID, nil), http.StatusConflict, "invoice_not_open")
	require.Equal(t, "failed", getProposal(s, t, f.token, wo.ID).Status)
	require.Len(t, listProposals(s, t, f.token, "?status=failed"), 2)
}

func TestProposalApprovedTwiceAtOnceIsCarriedOutOnce(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Raced")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, nil)
	_, pay := f.pay(t, map[string]any{"amount_minor": 90000})
	p := proposeThroughMCP(t, s, agentToken(t, s, f.tenant, "bot", auth.RoleAgent), "propose_allocation", map[string]any{
		"payment_id": pay.ID, "rationale": "r", "allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 20000}}})

	approvers := []string{f.controller, s.TokenAs(t, f.tenant, "approver-3", auth.RoleApprover)}
	statuses := make([]int, len(approvers))
	var wg sync.WaitGroup
	for i, tok := range approvers {
		wg.Go(func() { statuses[i] = approve(s, t, tok, p.ID, nil).Status })
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses)
	require.Equal(t, int64(25000), f.getInvoice(t, inv.ID).AmountDueMinor, "allocated once")
}

func TestProposalWriteOffOfAnAmountNoLongerDueFails(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Stale")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(200), "due_date": civilDaysAgo(180)}) // 45000
	bot := agentToken(t, s, f.tenant, "collector-bot", auth.RoleAgent)
	p := proposeThroughMCP(t, s, bot, "propose_write_off", map[string]any{"invoice_id": inv.ID,
		"reason": "customer in liquidation", "rationale": "180 days overdue"})

	// A part payment arrives meanwhile: what is due is no longer what was proposed.
	resp, _ := f.pay(t, map[string]any{"amount_minor": 10000, "allocations": []any{alloc(inv.ID, 10000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	wantProblem(t, approve(s, t, f.controller, p.ID, nil), http.StatusConflict, "proposal_stale")
	failed := getProposal(s, t, f.token, p.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, "proposal_stale", *failed.Result.ErrorCode)
	after := f.getInvoice(t, inv.ID)
	require.Equal(t, "open", after.Status, "not written off")
	require.Equal(t, int64(35000), after.AmountDueMinor)

	// Proposed again at what is due now, it is written off.
	again := proposeThroughMCP(t, s, bot, "propose_write_off", map[string]any{"invoice_id": inv.ID,
		"reason": "customer in liquidation", "rationale": "180 days overdue; part paid"})
	decodeProposal(t, approve(s, t, f.controller, again.ID, nil), http.StatusOK)
	require.Equal(t, "uncollectible", f.getInvoice(t, inv.ID).Status)
}

// TestProposalRefusedUnderAnIdempotencyKeyFails: with an Idempotency-Key the approval
// runs in the request's transaction, which the refusal rolls back; the proposal must
// end failed all the same, and the client gets the books' refusal.
func TestProposalRefusedUnderAnIdempotencyKeyFails(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "RefusedKeyed")
	agentsOn(t, s, f.token)
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})
	inv := f.openInvoice(t, nil)
	_, pay := f.pay(t, map[string]any{"amount_minor": 45000})
	bot := agentToken(t, s, f.tenant, "matcher-bot", auth.RoleAgent)
	p := proposeThroughMCP(t, s, bot, "propose_allocation", map[string]any{"payment_id": pay.ID, "rationale": "same amount",
		"allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 45000}}})
	stale := f.openInvoice(t, nil)
	wo := proposeThroughMCP(t, s, bot, "propose_write_off", map[string]any{"invoice_id": stale.ID, "reason": "r", "rationale": "r"})

	// The invoice is paid by another payment meanwhile; the other is paid in part.
	resp, _ := f.pay(t, map[string]any{"amount_minor": 45000, "allocations": []any{alloc(inv.ID, 45000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	resp, _ = f.pay(t, map[string]any{"amount_minor": 5000, "allocations": []any{alloc(stale.ID, 5000)}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	keyed := func(id, key string) apitest.Response {
		return s.Do(t, apitest.Request{Method: "POST", Path: "/v1/proposals/" + id + "/approve", Token: f.controller,
			Header: map[string]string{"Idempotency-Key": key}})
	}
	controller := "controller-" + f.tenant.String()[:8]

	resp = keyed(p.ID, "approve-allocation")
	require.Contains(t, []int{http.StatusConflict, http.StatusUnprocessableEntity}, resp.Status, string(resp.Body))
	code := resp.Problem(t).Code
	failed := getProposal(s, t, f.token, p.ID)
	require.Equal(t, "failed", failed.Status)
	require.Equal(t, code, *failed.Result.ErrorCode)
	require.Equal(t, [][3]string{{"proposal.created", "agent", "matcher-bot"}, {"proposal.failed", "user", controller}},
		auditActions(t, s, f.tenant, p.ID))
	// A refusal is not stored under the key: the retry runs again and finds it decided.
	wantProblem(t, keyed(p.ID, "approve-allocation"), http.StatusConflict, "proposal_not_pending")

	wantProblem(t, keyed(wo.ID, "approve-write-off"), http.StatusConflict, "proposal_stale")
	require.Equal(t, "failed", getProposal(s, t, f.token, wo.ID).Status)
	require.Equal(t, "open", f.getInvoice(t, stale.ID).Status)
	require.Len(t, listProposals(s, t, f.token, "?status=failed"), 2)
}
