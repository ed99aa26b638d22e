package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

// fakeGateway answers each agent with a scripted output or refuses with err; agents
// it has no script for are served by next (the real gateway), when set.
type fakeGateway struct {
	mu      sync.Mutex
	err     error
	outputs map[agents.Name]any
	next    agents.Gateway
	calls   int
}

func (g *fakeGateway) Run(ctx context.Context, tenantID uuid.UUID, agent agents.Name, input, out any) (agents.Run, error) {
	g.mu.Lock()
	g.calls++
	err, script := g.err, g.outputs[agent]
	g.mu.Unlock()
	if err != nil {
		return agents.Run{}, err
	}
	if script == nil && g.next != nil {
		return g.next.Run(ctx, tenantID, agent, input, out)
	}
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(script))
	return agents.Run{ID: uuid.Must(uuid.NewV7()), Object: "agent_run", Agent: agent, Provider: "fake", Outcome: "succeeded"}, nil
}

func (g *fakeGateway) set(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.err = err
}

// The gateway's refusals, as shared/agents documents them.
var (
	budgetExhausted = apperr.New(apperr.PaymentRequired, "agent_budget_exhausted", "this month's agent budget is spent")
	agentDown       = apperr.New(apperr.Unavailable, "agent_unavailable", "the agent's provider kept failing")
	agentGarbage    = apperr.New(apperr.BadGateway, "agent_output_invalid", "the agent's output stayed invalid")
)

func TestAgentsAPExtractFlagsTotalsThatDoNotAddUp(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withAgents)
	f := newFixture(t, s, "Mismatched")
	agentsOn(t, s, f.token)
	vendor := f.counterparty(t, map[string]any{"name": "Acme Supplies", "kind": "vendor", "tax_id": "GB123456789"})

	// The stated total is 10.00 more than the lines and their tax: flagged, not fixed.
	doc := strings.Replace(acmeBill, "Total: 141.00 USD", "Total: 151.00 USD", 1)
	// Sent as a text file in a multipart form.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", "acme-a-1001.txt")
	require.NoError(t, err)
	_, _ = part.Write([]byte(doc))
	require.NoError(t, mw.Close())
	p := decodeProposal(t, extractBill(s, t, f.token, body.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}), http.StatusCreated)
	require.Contains(t, p.Flags, "totals_mismatch")
	require.NotContains(t, p.Flags, "new_vendor", "the vendor is matched by its tax id")
	var bill billContent
	p.content(t, &bill)
	require.Equal(t, int64(15100), bill.TotalMinor)
	require.Equal(t, int64(14100), *bill.LinesTotalMinor)
	require.Equal(t, vendor, *bill.Vendor.CounterpartyID)
	require.Contains(t, p.Rationale, "the lines add up to 141.00")
	require.EqualValues(t, 14100, p.Evidence["lines_total_minor"])

	// Approving creates the bill priced from its lines, for the existing vendor.
	done := decodeProposal(t, approve(s, t, f.controller, p.ID, nil), http.StatusOK)
	require.False(t, done.Result.CounterpartyCreated)
	require.Equal(t, int64(14100), f.getInvoice(t, *done.Result.InvoiceID).TotalMinor)

	// What is not a bill's text is refused before any agent runs.
	wantProblem(t, extractBill(s, t, f.token, map[string]any{"text": "   "}, nil), http.StatusUnprocessableEntity, "validation_failed")
	wantProblem(t, extractBill(s, t, f.token, map[string]any{"text": strings.Repeat("x", proposals.MaxDocumentBytes+1)}, nil),
		http.StatusRequestEntityTooLarge, "document_too_large")
	wantProblem(t, extractBill(s, t, f.token, []byte("%PDF-1.7"), map[string]string{"Content-Type": "application/pdf"}),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	// A viewer may not run the agent; an agent may.
	requireForbidden(t, extractBill(s, t, s.Token(t, f.tenant, auth.RoleViewer), map[string]any{"text": doc}, nil), "a viewer extracting")
	bot := agentToken(t, s, f.tenant, "inbox-bot", auth.RoleAgent)
	byBot := decodeProposal(t, extractBill(s, t, bot, map[string]any{"text": doc}, nil), http.StatusCreated)
	require.Equal(t, &actorDoc{"agent", "inbox-bot"}, byBot.RequestedBy)
}

func TestAgentsAPExtractWhenTheGatewayRefuses(t *testing.T) {
	t.Parallel()
	gw := &fakeGateway{}
	s := apitest.New(t, withGateway(gw))
	f := newFixture(t, s, "Refusing")
	for _, c := range []struct {
		err    error
		status int
	}{
		{budgetExhausted, http.StatusPaymentRequired},
		{apperr.New(apperr.Forbidden, "agents_disabled", "the agents feature is off"), http.StatusForbidden},
		{agentDown, http.StatusServiceUnavailable},
		{agentGarbage, http.StatusBadGateway},
	} {
		gw.set(c.err)
		wantProblem(t, extractBill(s, t, f.token, map[string]any{"text": acmeBill}, nil), c.status, apperr.From(c.err).Code)
	}
	require.Empty(t, listProposals(s, t, f.token, ""), "nothing is stored when the agent cannot run")

	// With no gateway at all, the same: the client hears the agent is unavailable.
	bare := apitest.New(t)
	g := newFixture(t, bare, "Bare")
	wantProblem(t, extractBill(bare, t, g.token, map[string]any{"text": acmeBill}, nil), http.StatusServiceUnavailable, "agent_unavailable")

	// The real gateway refuses while the tenant has agents switched off.
	real := apitest.New(t, withAgents)
	h := newFixture(t, real, "Switched off")
	wantProblem(t, extractBill(real, t, h.token, map[string]any{"text": acmeBill}, nil), http.StatusForbidden, "agents_disabled")
}

type runItemDoc struct {
	Seq            int     `json:"seq"`
	CounterpartyID string  `json:"counterparty_id"`
	Currency       string  `json:"currency"`
	OverdueMinor   int64   `json:"overdue_minor"`
	DaysOverdue    int     `json:"days_overdue"`
	Stage          int     `json:"stage"`
	Status         string  `json:"status"`
	Reason         *string `json:"reason"`
	ProposalID     *string `json:"proposal_id"`
	Attempts       int     `json:"attempts"`
}

type runDoc struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Mode       string `json:"mode"`
	Status     string `json:"status"`
	ItemsTotal int    `json:"items_total"`
	ItemsDone  int    `json:"items_done"`
	Counts     struct {
		Pending  int `json:"pending"`
		Proposed int `json:"proposed"`
		Skipped  int `json:"skipped"`
	} `json:"counts"`
	Items []runItemDoc `json:"items"`
}

func (r runDoc) item(t *testing.T, counterparty string) runItemDoc {
	t.Helper()
	for _, it := range r.Items {
		if it.CounterpartyID == counterparty {
			return it
		}
	}
	t.Fatalf("no item for %s", counterparty)
	return runItemDoc{}
}

func startCollections(t *testing.T, s *apitest.Server, token string, body any) runDoc {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/agents/ar/collections", Token: token, Body: body})
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	var r runDoc
	resp.JSON(t, &r)
	require.Equal(t, "collections_run", r.Object)
	require.Equal(t, "/v1/agents/ar/collections/"+r.ID, resp.Header.Get("Location"))
	return r
}

func getRun(t *testing.T, s *apitest.Server, token, id string) runDoc {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/ar/collections/" + id, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var r runDoc
	resp.JSON(t, &r)
	return r
}

type messageContent struct {
	CounterpartyID  string   `json:"counterparty_id"`
	Currency        string   `json:"currency"`
	Stage           int      `json:"stage"`
	OverdueMinor    int64    `json:"overdue_minor"`
	Subject         string   `json:"subject"`
	Body            string   `json:"body"`
	CitedInvoiceIDs []string `json:"cited_invoice_ids"`
}

// overdueCustomer is a customer with one open invoice due daysAgo days ago.
func (f fixture) overdueCustomer(t *testing.T, name string, daysAgo int) (string, invoice) {
	t.Helper()
	cp := f.counterparty(t, map[string]any{"name": name, "kind": "customer"})
	inv := f.openInvoice(t, map[string]any{"counterparty_id": cp, "issue_date": civilDaysAgo(daysAgo + 30), "due_date": civilDaysAgo(daysAgo)})
	return cp, inv
}

func TestAgentsARCollectionsInline(t *testing.T) {
	t.Parallel()
	s := apitest.New(t, withAgents)
	f := newFixture(t, s, "Collecting")
	agentsOn(t, s, f.token)
	// The default schedule reminds at 7, 14 and 30 days overdue: stage 2, stage 3, below
	// the first stage, and an invoice not due yet.
	firm, firmInv := f.overdueCustomer(t, "Firm Co", 20)
	final, _ := f.overdueCustomer(t, "Final Co", 45)
	early, _ := f.overdueCustomer(t, "Early Co", 3)
	f.openInvoice(t, map[string]any{"due_date": civilDaysAgo(-10), "issue_date": civilDaysAgo(5)})

	clerk := s.TokenAs(t, f.tenant, "clerk-2", auth.RoleAccountant)
	run := startCollections(t, s, clerk, nil)
	require.Equal(t, "inline", run.Mode)
	require.Equal(t, "completed", run.Status)
	require.Equal(t, 3, run.ItemsTotal)
	require.Equal(t, 3, run.ItemsDone)
	require.Equal(t, 2, run.Counts.Proposed)
	require.Equal(t, "below_first_stage", *run.item(t, early).Reason)
	require.Equal(t, 2, run.item(t, firm).Stage)
	require.Equal(t, 3, run.item(t, final).Stage)

	msgs := listProposals(s, t, f.token, "?kind=collection_message&collection_run_id="+run.ID)
	require.Len(t, msgs, 2)
	p := getProposal(s, t, f.token, *run.item(t, firm).ProposalID)
	require.Equal(t, actorDoc{"agent", "ar_collections"}, p.ProposedBy)
	require.Equal(t, &actorDoc{"user", "clerk-2"}, p.RequestedBy)
	var msg messageContent
	p.content(t, &msg)
	require.Equal(t, firm, msg.CounterpartyID)
	require.Equal(t, 2, msg.Stage)
	require.Equal(t, int64(45000), msg.OverdueMinor)
	require.Equal(t, []string{firmInv.ID}, msg.CitedInvoiceIDs)
	require.Contains(t, msg.Body, *firmInv.Number)
	require.Contains(t, p.Rationale, "stage 2")
	require.Contains(t, p.Evidence, "aging")
	require.Contains(t, p.Evidence, "history")

	// A second run proposes nothing new for the stages handled.
	again := startCollections(t, s, clerk, map[string]any{"counterparty_ids": []string{firm}})
	require.Equal(t, 1, again.ItemsTotal)
	require.Equal(t, "already_proposed", *again.item(t, firm).Reason)

	// Approving the message, edited, records the stage as sent: the close's dunning
	// proposal is approved with it.
	done := decodeProposal(t, approve(s, t, f.controller, p.ID, map[string]any{
		"collection_message": map[string]any{"subject": "Invoice " + *firmInv.Number + " is overdue"}}), http.StatusOK)
	require.NotNil(t, done.Result.DunningProposalID)
	var edited messageContent
	done.content(t, &edited)
	require.Equal(t, "Invoice "+*firmInv.Number+" is overdue", edited.Subject)
	require.Equal(t, msg.Body, edited.Body)
	var status string
	var stage int
	require.NoError(t, s.DB.Admin.QueryRow(context.Background(), `SELECT status, stage FROM dunning_proposals WHERE id = $1 AND tenant_id = $2`,
		*done.Result.DunningProposalID, f.tenant).Scan(&status, &stage))
	require.Equal(t, "approved", status)
	require.Equal(t, 2, stage)
	// An approved message still counts: the stage is not proposed again.
	require.Equal(t, "already_proposed", *startCollections(t, s, clerk, map[string]any{"counterparty_ids": []string{firm}}).item(t, firm).Reason)
	// Editing a bill of a message is refused.
	other := *run.item(t, final).ProposalID
	wantProblem(t, approve(s, t, f.controller, other, map[string]any{"bill": map[string]any{"number": "X"}}),
		http.StatusUnprocessableEntity, "validation_failed")

	require.Equal(t, run.ID, getRun(t, s, s.Token(t, f.tenant, auth.RoleViewer), run.ID).ID)
	requireForbidden(t, s.Do(t, apitest.Request{Method: "POST", Path: "/v1/agents/ar/collections",
		Token: s.Token(t, f.tenant, auth.RoleApprover)}), "an approver running the AR agent")
}

func TestAgentsARCollectionsAsyncThroughTheProcessor(t *testing.T) {
	t.Parallel()
	sink := &topicSink{}
	gw := &fakeGateway{}
	s := apitest.New(t, withAgents, apitest.WithPublisher(eventSink{}), func(d *platform.Deps) {
		d.RawPublisher = sink
		gw.next = d.Agents
		d.Agents = gw
	})
	f := newFixture(t, s, "Many")
	agentsOn(t, s, f.token)
	var customers []string
	for i := range proposals.DefaultInlineMax + 2 {
		cp, _ := f.overdueCustomer(t, "Customer "+string(rune('A'+i)), 10+i)
		customers = append(customers, cp)
	}
	run := startCollections(t, s, f.token, nil)
	require.Equal(t, "async", run.Mode)
	require.Equal(t, "running", run.Status)
	require.Equal(t, len(customers), run.Counts.Pending)
	require.Empty(t, listProposals(s, t, f.token, "?kind=collection_message"))

	sink.mu.Lock()
	msgs := sink.msgs[proposals.AgentRunsTopic]
	delete(sink.msgs, proposals.AgentRunsTopic)
	sink.mu.Unlock()
	require.Len(t, msgs, len(customers), "one message per customer, published after commit")
	deliver := func(m int, attempt int) error {
		return s.Deliver(t, "AgentRunsProcessor", platform.Message{Data: msgs[m].Data, Attributes: msgs[m].Attributes, DeliveryAttempt: attempt})
	}

	// The agent is down for the first message: it is retried, and the attempt counted.
	gw.set(agentDown)
	require.Error(t, deliver(0, 1))
	first := getRun(t, s, f.token, run.ID).Items[0]
	require.Equal(t, "pending", first.Status)
	require.Equal(t, 1, first.Attempts)
	gw.set(nil)

	// Every message, twice: one proposal each.
	for round := range 2 {
		for m := range msgs {
			require.NoError(t, deliver(m, 2+round))
		}
	}
	done := getRun(t, s, f.token, run.ID)
	require.Equal(t, "completed", done.Status)
	require.Equal(t, len(customers), done.Counts.Proposed)
	require.Len(t, listProposals(s, t, f.token, "?kind=collection_message&collection_run_id="+run.ID), len(customers))

	// A message for a run that does not exist, or that is not one, is dropped.
	require.NoError(t, s.Deliver(t, "AgentRunsProcessor", platform.Message{Data: []byte(`{"tenant_id":"` + f.tenant.String() +
		`","run_id":"` + uuid.NewString() + `","seq":1}`)}))
	require.NoError(t, s.Deliver(t, "AgentRunsProcessor", platform.Message{Data: []byte(`not json`)}))

	// An agent that stays down is given up on at the last attempt: skipped, with the reason.
	f2 := newFixture(t, s, "Unlucky")
	agentsOn(t, s, f2.token)
	for i := range proposals.DefaultInlineMax + 1 {
		f2.overdueCustomer(t, "Late "+string(rune('A'+i)), 10)
	}
	run2 := startCollections(t, s, f2.token, nil)
	sink.mu.Lock()
	msgs = sink.msgs[proposals.AgentRunsTopic]
	sink.mu.Unlock()
	gw.set(agentDown)
	require.Error(t, deliver(0, 1))
	require.NoError(t, deliver(0, 5), "the subscription's last attempt")
	require.Equal(t, "agent_unavailable", *getRun(t, s, f2.token, run2.ID).Items[0].Reason)
}

func TestAgentsARCollectionsWhenTheGatewayRefuses(t *testing.T) {
	t.Parallel()
	gw := &fakeGateway{err: budgetExhausted}
	s := apitest.New(t, withGateway(gw))
	f := newFixture(t, s, "Broke")
	a, _ := f.overdueCustomer(t, "Alpha Co", 20)
	b, _ := f.overdueCustomer(t, "Beta Co", 40)
	run := startCollections(t, s, f.token, nil)
	require.Equal(t, "completed", run.Status)
	require.Equal(t, 2, run.Counts.Skipped)
	for _, cp := range []string{a, b} {
		it := run.item(t, cp)
		require.Equal(t, "skipped", it.Status)
		require.Equal(t, "agent_budget_exhausted", *it.Reason)
	}
	require.Empty(t, listProposals(s, t, f.token, ""))

	// Without any gateway, the run goes on too, each customer skipped as unavailable.
	bare := apitest.New(t)
	g := newFixture(t, bare, "Bare")
	c, _ := g.overdueCustomer(t, "Gamma Co", 20)
	require.Equal(t, "agent_unavailable", *startCollections(t, bare, g.token, nil).item(t, c).Reason)
}

type narrativeDoc struct {
	Object    string          `json:"object"`
	Forecast  json.RawMessage `json:"forecast"`
	Narrative *struct {
		Summary           string   `json:"summary"`
		Drivers           []string `json:"drivers"`
		Risks             []string `json:"risks"`
		CitedAmountsMinor []int64  `json:"cited_amounts_minor"`
	} `json:"narrative"`
	Citations []struct {
		AmountMinor int64    `json:"amount_minor"`
		Figures     []string `json:"figures"`
	} `json:"citations"`
	Unavailable *struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	} `json:"narrative_unavailable"`
	AgentRunID *string `json:"agent_run_id"`
}

func narrative(t *testing.T, s *apitest.Server, token, query string) narrativeDoc {
	t.Helper()
	resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/forecast/narrative" + query, Token: token})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var n narrativeDoc
	resp.JSON(t, &n)
	require.Equal(t, "forecast_narrative", n.Object)
	return n
}

// forecastAmounts collects every amount (each *_minor member) of a forecast.
func forecastAmounts(t *testing.T, raw json.RawMessage) map[int64]bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	require.NoError(t, dec.Decode(&doc))
	out := map[int64]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if n, ok := e.(json.Number); ok && strings.HasSuffix(k, "_minor") {
					x, err := n.Int64()
					require.NoError(t, err)
					out[x] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}

func TestAgentsForecastNarrativeIsGroundedInTheForecast(t *testing.T) {
	t.Parallel()
	gw := &fakeGateway{}
	s := apitest.New(t, withAgents, func(d *platform.Deps) { gw.next, d.Agents = d.Agents, gw })
	f := newFixture(t, s, "Forecast")
	agentsOn(t, s, f.token)
	f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(10), "due_date": civilDaysAgo(-5)})
	f.openInvoice(t, map[string]any{"issue_date": civilDaysAgo(10), "due_date": civilDaysAgo(-30),
		"lines": []map[string]any{{"description": "Retainer", "quantity": "1", "unit_amount_minor": 120000}}})
	f.openInvoice(t, map[string]any{"direction": "payable", "counterparty_id": f.vendor, "issue_date": civilDaysAgo(3),
		"due_date": civilDaysAgo(-12), "lines": []map[string]any{{"description": "Rent", "quantity": "1", "unit_amount_minor": 80000}}})

	// The built-in agent's narrative: every amount it cites, listed or written in its
	// text, is an amount of the forecast it was given.
	viewer := s.Token(t, f.tenant, auth.RoleViewer)
	n := narrative(t, s, viewer, "")
	require.Nil(t, n.Unavailable)
	require.NotNil(t, n.Narrative)
	require.NotNil(t, n.AgentRunID)
	require.NotEmpty(t, n.Narrative.Summary)
	require.NotEmpty(t, n.Narrative.CitedAmountsMinor)
	amounts := forecastAmounts(t, n.Forecast)
	require.Contains(t, amounts, int64(165000), "the open receivables")
	for _, a := range n.Narrative.CitedAmountsMinor {
		require.True(t, amounts[a] || amounts[-a], "the narrative cites %d, which the forecast does not hold", a)
	}
	require.Len(t, n.Citations, len(n.Narrative.CitedAmountsMinor))
	for _, c := range n.Citations {
		require.NotEmpty(t, c.Figures, "%d", c.AmountMinor)
		require.True(t, strings.HasPrefix(c.Figures[0], "forecasts[currency=USD]") || strings.HasPrefix(c.Figures[0], "counterparties["),
			c.Figures[0])
	}

	// An agent that invents a figure is not shown: the forecast comes alone.
	invented := agents.ForecastNarrative{Summary: "In USD, 1234567.89 USD is expected in.", Drivers: []string{}, Risks: []string{},
		CitedAmountsMinor: []int64{123456789}}
	gw.mu.Lock()
	gw.outputs = map[agents.Name]any{agents.ForecastNarrator: invented}
	gw.mu.Unlock()
	n = narrative(t, s, viewer, "")
	require.Nil(t, n.Narrative)
	require.Equal(t, agents.CodeUngrounded, n.Unavailable.Code)
	require.Contains(t, n.Unavailable.Detail, "123456789")
	require.Contains(t, forecastAmounts(t, n.Forecast), int64(165000))

	// One that leaves the figure out of its list but writes it in its text, likewise.
	invented.CitedAmountsMinor = []int64{165000}
	invented.Summary = "In USD, 1650.00 USD is open and 9999.99 USD will arrive."
	gw.mu.Lock()
	gw.outputs[agents.ForecastNarrator] = invented
	gw.mu.Unlock()
	n = narrative(t, s, viewer, "")
	require.Nil(t, n.Narrative)
	require.Contains(t, n.Unavailable.Detail, "999999")

	// A grounded one is shown, with where each amount comes from.
	invented.Summary = "In USD, 1650.00 USD is open."
	gw.mu.Lock()
	gw.outputs[agents.ForecastNarrator] = invented
	gw.mu.Unlock()
	n = narrative(t, s, viewer, "?weeks=8")
	require.NotNil(t, n.Narrative)
	require.Equal(t, int64(165000), n.Citations[0].AmountMinor)
	require.Contains(t, n.Citations[0].Figures, "forecasts[currency=USD].totals.inflows_minor")

	// When the agent cannot run, the forecast still comes, with the reason.
	gw.set(budgetExhausted)
	n = narrative(t, s, viewer, "")
	require.Nil(t, n.Narrative)
	require.Equal(t, "agent_budget_exhausted", n.Unavailable.Code)
	require.Contains(t, forecastAmounts(t, n.Forecast), int64(165000))
	wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/agents/forecast/narrative?weeks=99", Token: viewer}),
		http.StatusBadRequest, "invalid_parameter")
}
