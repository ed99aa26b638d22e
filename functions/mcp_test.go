package functions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// bearerTransport adds a bearer token to every request, as an MCP client configured
// with a Ledgerline token does.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpServer serves the functions over real HTTP, for MCP clients.
func mcpServer(t *testing.T, s *apitest.Server) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/mcp"
}

// mcpConnect connects an MCP client (the go-sdk's, over streamable HTTP) with token.
func mcpConnect(t *testing.T, endpoint, token string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "ledgerline-test-agent", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearerTransport{token}},
		DisableStandaloneSSE: true, MaxRetries: -1,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// toolResult is a tool's answer: its JSON text, or its error text.
type toolResult struct {
	text    string
	isError bool
}

func (r toolResult) decode(t *testing.T, v any) {
	t.Helper()
	require.False(t, r.isError, r.text)
	require.NoError(t, json.Unmarshal([]byte(r.text), v), r.text)
}

// refused checks a tool error and its problem code.
func (r toolResult) refused(t *testing.T, code string) {
	t.Helper()
	require.True(t, r.isError, "want %s, got %s", code, r.text)
	require.True(t, strings.HasPrefix(r.text, code+":"), "want %s, got %s", code, r.text)
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) toolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, name)
	require.NotEmpty(t, res.Content, name)
	text, ok := res.Content[0].(*mcp.TextContent)
	require.True(t, ok, "%s: %T", name, res.Content[0])
	return toolResult{text: text.Text, isError: res.IsError}
}

func TestMCPToolsOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Modelled")
	agentsOn(t, s, f.token)
	late := f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(60), "due_date": civilDaysAgo(40)})
	f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(5), "due_date": civilDaysAgo(-25)})
	setAgentLimits(t, s, f.token, map[string]any{"USD": 100000})

	endpoint := mcpServer(t, s)
	bot := agentToken(t, s, f.tenant, "collector-bot", auth.RoleAgent)
	cs := mcpConnect(t, endpoint, bot)
	require.Equal(t, "ledgerline", cs.InitializeResult().ServerInfo.Name)

	tools, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
	}
	sort.Strings(names)
	require.Equal(t, []string{"aging", "cash_forecast", "get_invoice", "list_overdue", "list_proposals", "propose_allocation",
		"propose_write_off"}, names)

	var inv invoice
	callTool(t, cs, "get_invoice", map[string]any{"id": late.ID}).decode(t, &inv)
	require.Equal(t, late.ID, inv.ID)
	var byNumber invoice
	callTool(t, cs, "get_invoice", map[string]any{"number": *late.Number, "direction": "receivable"}).decode(t, &byNumber)
	require.Equal(t, late.ID, byNumber.ID)
	callTool(t, cs, "get_invoice", map[string]any{"number": "INV-999999"}).refused(t, "invoice_not_found")
	callTool(t, cs, "get_invoice", map[string]any{}).refused(t, "validation_failed")
	callTool(t, cs, "get_invoice", map[string]any{"id": "not-an-id"}).refused(t, "validation_failed")

	var aging struct {
		Object string `json:"object"`
		Lines  []struct {
			CounterpartyID string `json:"counterparty_id"`
			TotalMinor     int64  `json:"total_minor"`
		} `json:"lines"`
		LinesTotal int `json:"lines_total"`
	}
	callTool(t, cs, "aging", nil).decode(t, &aging)
	require.Equal(t, "aging_report", aging.Object)
	require.Len(t, aging.Lines, 1)
	require.Equal(t, f.customer, aging.Lines[0].CounterpartyID)
	require.Equal(t, int64(90000), aging.Lines[0].TotalMinor)

	var overdue struct {
		Data []invoice `json:"data"`
	}
	callTool(t, cs, "list_overdue", map[string]any{"limit": 10}).decode(t, &overdue)
	require.Len(t, overdue.Data, 1)
	require.Equal(t, late.ID, overdue.Data[0].ID)

	var fc struct {
		Object    string `json:"object"`
		Forecasts []struct {
			Currency string `json:"currency"`
			Totals   struct {
				InflowsMinor int64 `json:"inflows_minor"`
			} `json:"totals"`
		} `json:"forecasts"`
	}
	callTool(t, cs, "cash_forecast", map[string]any{"weeks": 4}).decode(t, &fc)
	require.Equal(t, "cash_forecast", fc.Object)
	require.Equal(t, int64(90000), fc.Forecasts[0].Totals.InflowsMinor)

	// Proposals: made as the agent principal, and listed.
	var wo proposalDoc
	callTool(t, cs, "propose_write_off", map[string]any{"invoice_id": late.ID, "reason": "customer insolvent",
		"rationale": "40 days overdue and the customer filed for insolvency"}).decode(t, &wo)
	require.Equal(t, "write_off", wo.Kind)
	require.Equal(t, "pending", wo.Status)
	require.Equal(t, actorDoc{"agent", "collector-bot"}, wo.ProposedBy)
	require.Nil(t, wo.AgentRunID)

	_, pay := f.pay(t, map[string]any{"amount_minor": 20000})
	var al proposalDoc
	callTool(t, cs, "propose_allocation", map[string]any{"payment_id": pay.ID, "rationale": "the remittance names the invoice",
		"allocations": []any{map[string]any{"invoice_id": late.ID, "amount_minor": 20000}}}).decode(t, &al)
	require.Equal(t, "allocation", al.Kind)
	callTool(t, cs, "propose_allocation", map[string]any{"payment_id": pay.ID, "rationale": "x",
		"allocations": []any{map[string]any{"invoice_id": late.ID, "amount_minor": 30000}}}).refused(t, "allocation_exceeds_unallocated")

	var listed struct {
		Data []proposalDoc `json:"data"`
	}
	callTool(t, cs, "list_proposals", map[string]any{"status": "pending"}).decode(t, &listed)
	require.Len(t, listed.Data, 2)
	require.Equal(t, al.ID, listed.Data[0].ID, "newest first")
	callTool(t, cs, "list_proposals", map[string]any{"kind": "write_off"}).decode(t, &listed)
	require.Len(t, listed.Data, 1)

	// What the tools proposed is what the API shows.
	require.Equal(t, "write_off", getProposal(s, t, f.token, wo.ID).Kind)
}

func TestMCPToolsCheckTheCallersPermissions(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Guarded")
	inv := f.openInvoice(t, nil)
	endpoint := mcpServer(t, s)

	// A viewer connects and reads, but may not propose.
	viewer := mcpConnect(t, endpoint, s.Token(t, f.tenant, auth.RoleViewer))
	var got invoice
	callTool(t, viewer, "get_invoice", map[string]any{"id": inv.ID}).decode(t, &got)
	callTool(t, viewer, "propose_write_off", map[string]any{"invoice_id": inv.ID, "reason": "r", "rationale": "r"}).refused(t, "forbidden")
	// Nor may an approver: approvers decide, they do not propose.
	approver := mcpConnect(t, endpoint, s.Token(t, f.tenant, auth.RoleApprover))
	callTool(t, approver, "propose_allocation", map[string]any{"payment_id": inv.ID, "rationale": "r",
		"allocations": []any{}}).refused(t, "forbidden")
	require.Zero(t, f.count(t, `SELECT count(*) FROM proposals WHERE tenant_id = $1`))

	// Without a token, or with one holding no role, there is no connection at all, and
	// the refusals are problems like everywhere else.
	initialize := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw", "version": "1"}}}
	accept := map[string]string{"Accept": "application/json, text/event-stream"}
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/mcp", Body: initialize, Header: accept})
	wantProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
	requireForbidden(t, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/mcp", Token: s.Token(t, f.tenant), Body: initialize, Header: accept}),
		"no roles")
	// Over the API's own contract: a JSON-RPC answer, and the transport's refusals as problems.
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/mcp", Token: f.token, Body: initialize, Header: accept})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var rpc struct {
		Result struct {
			ServerInfo struct {
				Name string `json:"name"`
			} `json:"serverInfo"`
		} `json:"result"`
	}
	resp.JSON(t, &rpc)
	require.Equal(t, "ledgerline", rpc.Result.ServerInfo.Name)
	resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/mcp", Token: f.token, Body: initialize})
	require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/mcp", Token: f.token}), http.StatusMethodNotAllowed, "method_not_allowed")
	wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/mcp", Token: f.token, Body: map[string]any{"method": "x"}, Header: accept}),
		http.StatusUnprocessableEntity, "validation_failed")
}

func TestMCPSeesOnlyTheTokensTenant(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	a := newFixture(t, s, "Alpha")
	b := newFixture(t, s, "Bravo")
	agentsOn(t, s, a.token)
	agentsOn(t, s, b.token)
	setAgentLimits(t, s, a.token, map[string]any{"USD": 1000000})
	setAgentLimits(t, s, b.token, map[string]any{"USD": 1000000})
	aInv := a.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(60), "due_date": civilDaysAgo(40)})
	bInv := b.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(60), "due_date": civilDaysAgo(40)})
	endpoint := mcpServer(t, s)
	aBot := mcpConnect(t, endpoint, agentToken(t, s, a.tenant, "bot", auth.RoleAgent))
	bBot := mcpConnect(t, endpoint, agentToken(t, s, b.tenant, "bot", auth.RoleAgent))

	var aProposal proposalDoc
	callTool(t, aBot, "propose_write_off", map[string]any{"invoice_id": aInv.ID, "reason": "gone", "rationale": "gone"}).decode(t, &aProposal)

	// Tenant B's agent, holding A's ids, finds nothing of A's.
	bBotCalls := []struct {
		tool string
		args map[string]any
		code string
	}{
		{"get_invoice", map[string]any{"id": aInv.ID}, "invoice_not_found"},
		{"get_invoice", map[string]any{"number": *aInv.Number, "direction": "receivable"}, ""},
		{"propose_write_off", map[string]any{"invoice_id": aInv.ID, "reason": "x", "rationale": "x"}, "invoice_not_found"},
	}
	for _, c := range bBotCalls {
		r := callTool(t, bBot, c.tool, c.args)
		require.NotContains(t, r.text, aInv.ID, c.tool)
		require.NotContains(t, r.text, a.customer, c.tool)
		if c.code != "" {
			r.refused(t, c.code)
		}
	}
	// An aging of A's customer (the filter is echoed back) has no line.
	var aging struct {
		Lines []any `json:"lines"`
	}
	callTool(t, bBot, "aging", map[string]any{"counterparty_id": a.customer}).decode(t, &aging)
	require.Empty(t, aging.Lines)
	// B's invoice has A's invoice's number, in B's own books.
	var same invoice
	callTool(t, bBot, "get_invoice", map[string]any{"number": *aInv.Number, "direction": "receivable"}).decode(t, &same)
	require.Equal(t, bInv.ID, same.ID)
	var listed struct {
		Data []proposalDoc `json:"data"`
	}
	callTool(t, bBot, "list_proposals", nil).decode(t, &listed)
	require.Empty(t, listed.Data)
	callTool(t, aBot, "list_proposals", nil).decode(t, &listed)
	require.Len(t, listed.Data, 1)
	require.Equal(t, aProposal.ID, listed.Data[0].ID)
}

func TestMCPHoldsAgentsToTheirLimits(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	f := newFixture(t, s, "Limited")
	inv := f.openInvoice(t, nil) // 45000 due
	endpoint := mcpServer(t, s)
	bot := mcpConnect(t, endpoint, agentToken(t, s, f.tenant, "bot", auth.RoleAgent))
	writeOff := map[string]any{"invoice_id": inv.ID, "reason": "uncollectible", "rationale": "no answer to three notices"}

	// Agents switched off: no agent proposes.
	callTool(t, bot, "propose_write_off", writeOff).refused(t, "agents_disabled")
	agentsOn(t, s, f.token)
	// No limit for the currency: nothing may be proposed in it.
	callTool(t, bot, "propose_write_off", writeOff).refused(t, "agent_limit_exceeded")
	// A limit below the amount.
	setAgentLimits(t, s, f.token, map[string]any{"USD": 40000, "EUR": 1000000})
	callTool(t, bot, "propose_write_off", writeOff).refused(t, "agent_limit_exceeded")
	_, pay := f.pay(t, map[string]any{"amount_minor": 45000})
	allocation := map[string]any{"payment_id": pay.ID, "rationale": "same amount, same customer",
		"allocations": []any{map[string]any{"invoice_id": inv.ID, "amount_minor": 45000}}}
	callTool(t, bot, "propose_allocation", allocation).refused(t, "agent_limit_exceeded")
	require.Zero(t, f.count(t, `SELECT count(*) FROM proposals WHERE tenant_id = $1`))

	// Limits are per currency, each a code the tenant could use.
	cur := getSettings(t, s, f.token, "")
	wantProblem(t, patchSettings(s, t, f.token, etag(cur.Version), map[string]any{"agent_proposal_limits_minor": map[string]any{"usd": 5}}),
		http.StatusUnprocessableEntity, "validation_failed")

	// Within the limit.
	setAgentLimits(t, s, f.token, map[string]any{"USD": 45000, "EUR": nil})
	var p proposalDoc
	callTool(t, bot, "propose_write_off", writeOff).decode(t, &p)
	require.Equal(t, "pending", p.Status)
	callTool(t, bot, "propose_allocation", allocation).decode(t, &p)
	require.Equal(t, "allocation", p.Kind)

	// A person proposing through the tools is not an agent: no limit applies to them.
	human := mcpConnect(t, endpoint, s.TokenAs(t, f.tenant, "clerk", auth.RoleAccountant))
	setAgentLimits(t, s, f.token, map[string]any{"USD": 1})
	callTool(t, human, "propose_write_off", writeOff).decode(t, &p)
	require.Equal(t, actorDoc{"user", "clerk"}, p.ProposedBy)
}
