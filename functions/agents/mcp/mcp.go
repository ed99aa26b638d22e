// Package mcp is the AgentsMCP function: POST /v1/mcp, Ledgerline's own MCP server
// (streamable HTTP, github.com/modelcontextprotocol/go-sdk), so agents can read the
// books and propose through tools under the same authentication, permissions and
// tenancy as the API. The platform authenticates each request (bearer JWT) and
// requires mcp:connect; every tool then checks the permission of the operation it
// stands for, and reads and writes only the tenant of the token.
//
// The server is stateless: Cloud Run spreads a client's requests over instances, so
// no session lives in one; every POST carries its token and is answered with JSON.
package mcp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ledgerline/ledgerline/shared/aging"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/forecast"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("AgentsMCP", New) }

// Version is the server's version as MCP clients see it.
const Version = "1.0.0"

// New builds the handler over the instance's dependencies: one MCP server for every
// request of the instance; who calls, and so which tenant, travels with each request.
func New(d *platform.Deps) http.Handler {
	t := &tools{
		invoices:  &invoices.Service{DB: d.DB, Now: d.Now},
		aging:     &aging.Service{DB: d.DB},
		forecast:  &forecast.Service{DB: d.DB, Now: d.Now},
		proposals: proposals.New(d.DB, d.Now, nil, d.Cache),
		logger:    d.Logger,
		now:       d.Now,
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "ledgerline", Title: "Ledgerline", Version: Version}, &mcp.ServerOptions{
		Instructions: "Ledgerline's books for one tenant: invoices, aging, the overdue list and the cash forecast to read, " +
			"and proposals (an allocation, a write-off) for a person to approve. Amounts are integers in minor units " +
			"beside their currency. Nothing you propose changes the books until a person approves it.",
	})
	t.register(server)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: d.Logger})
	// The platform verified the token already; this hands the principal to the tools,
	// through the SDK's own channel for what a bearer token says.
	verified := mcpauth.RequireBearerToken(func(_ context.Context, _ string, r *http.Request) (*mcpauth.TokenInfo, error) {
		p := platform.Principal(r)
		return &mcpauth.TokenInfo{UserID: p.TenantID.String() + "/" + p.Subject,
			Extra: map[string]any{principalKey: p, actorKey: platform.Actor(r)}}, nil
	}, &mcpauth.RequireBearerTokenOptions{AllowMissingExpiration: true})
	return problems(verified(h))
}

const (
	principalKey = "ledgerline_principal"
	actorKey     = "ledgerline_actor"
)

// caller is who calls a tool: the platform's principal and audited actor of the HTTP
// request that carries the call.
func caller(req *mcp.CallToolRequest) (auth.Principal, audit.Actor, error) {
	if req.Extra != nil && req.Extra.TokenInfo != nil {
		p, ok1 := req.Extra.TokenInfo.Extra[principalKey].(auth.Principal)
		a, ok2 := req.Extra.TokenInfo.Extra[actorKey].(audit.Actor)
		if ok1 && ok2 && p.TenantID != uuid.Nil {
			return p, a, nil
		}
	}
	return auth.Principal{}, audit.Actor{}, apperr.New(apperr.Unauthenticated, "unauthenticated", "no verified caller")
}

// problems answers the transport's own refusals (a wrong Accept or Content-Type, a GET
// of a stateless server) as problems like every other error of the API; JSON-RPC
// answers, errors included, pass as they are.
func problems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &plainErrors{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		if !pw.plain {
			return
		}
		kind := map[int]apperr.Kind{
			http.StatusBadRequest: apperr.Invalid, http.StatusForbidden: apperr.Forbidden,
			http.StatusMethodNotAllowed: apperr.MethodNotAllowed, http.StatusRequestEntityTooLarge: apperr.TooLarge,
			http.StatusUnsupportedMediaType: apperr.UnsupportedMediaType, http.StatusUnauthorized: apperr.Unauthenticated,
		}[pw.status]
		if pw.status >= 500 {
			kind = apperr.Internal
		}
		httpx.WriteError(w, r, apperr.New(kind, "mcp_transport", strings.TrimSpace(pw.body.String())))
	})
}

// plainErrors holds back an error status written with a plain-text body.
type plainErrors struct {
	http.ResponseWriter
	status int
	plain  bool
	body   bytes.Buffer
}

func (p *plainErrors) WriteHeader(code int) {
	if p.status != 0 {
		return
	}
	p.status = code
	if code >= 400 && strings.HasPrefix(p.Header().Get("Content-Type"), "text/plain") {
		p.plain = true
		p.Header().Del("Content-Type")
		p.Header().Del("X-Content-Type-Options")
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.plain {
		return p.body.Write(b)
	}
	return p.ResponseWriter.Write(b)
}

func (p *plainErrors) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// tools are the MCP tools over the domain services.
type tools struct {
	invoices  *invoices.Service
	aging     *aging.Service
	forecast  *forecast.Service
	proposals *proposals.Service
	logger    *slog.Logger
	now       func() time.Time
}

// handler adapts a tool to the SDK: the caller is checked for perm first, and a
// refusal or failure becomes a tool error (isError) whose text is the problem code and
// message, so the agent can read what went wrong; a defect's text stays in the logs.
func handler[In any](t *tools, perm auth.Permission, fn func(ctx context.Context, p auth.Principal, a audit.Actor, in In) (any, error)) mcp.ToolHandlerFor[In, any] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		p, a, err := caller(req)
		if err == nil && !p.Can(perm) {
			err = auth.Forbidden(perm)
		}
		var out any
		if err == nil {
			out, err = fn(ctx, p, a, in)
		}
		if err == nil {
			return nil, out, nil
		}
		e := apperr.From(err)
		if e.Kind == apperr.Internal {
			t.logger.ErrorContext(ctx, "mcp tool failed", "tool", req.Params.Name, "error", err.Error())
			e = apperr.New(apperr.Internal, "internal", "internal error")
		}
		res := &mcp.CallToolResult{}
		res.SetError(errors.New(e.Error()))
		return res, nil, nil
	}
}

func (t *tools) register(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{Name: "get_invoice", Description: "Look up one invoice or bill, with its lines, by id or by number " +
		"(numbers are unique per direction: give the direction when the number could be either). Needs invoices:read."},
		handler(t, auth.InvoicesRead, t.getInvoice))
	mcp.AddTool(s, &mcp.Tool{Name: "aging", Description: "The aging report: open balances by counterparty and currency in " +
		"buckets of days past due, as of a date (default today). Lines are the largest " + strconv.Itoa(maxAgingLines) +
		"; totals cover everything. Needs reports:read."}, handler(t, auth.ReportsRead, t.agingReport))
	mcp.AddTool(s, &mcp.Tool{Name: "list_overdue", Description: "Invoices (or bills) still owed and past their due date, " +
		"oldest due first, a page at a time. Needs invoices:read."}, handler(t, auth.InvoicesRead, t.listOverdue))
	mcp.AddTool(s, &mcp.Tool{Name: "cash_forecast", Description: "The 13-week cash forecast by currency: expected inflows and " +
		"outflows per week in three timing scenarios (p10, p50, p90), learned from each counterparty's days to pay. Needs reports:read."},
		handler(t, auth.ReportsRead, t.cashForecast))
	mcp.AddTool(s, &mcp.Tool{Name: "propose_allocation", Description: "Propose applying a payment to open invoices of its " +
		"currency and direction. A person approves or rejects the proposal; an agent's proposal must be within the tenant's " +
		"agent limit. Needs proposals:create."}, handler(t, auth.ProposalsCreate, t.proposeAllocation))
	mcp.AddTool(s, &mcp.Tool{Name: "propose_write_off", Description: "Propose writing an open invoice off as uncollectible for " +
		"its amount due. A person approves or rejects the proposal; an agent's proposal must be within the tenant's agent " +
		"limit. Needs proposals:create."}, handler(t, auth.ProposalsCreate, t.proposeWriteOff))
	mcp.AddTool(s, &mcp.Tool{Name: "list_proposals", Description: "Proposals, newest first, optionally of one kind " +
		"(bill, collection_message, allocation, write_off) or status (pending, approved, rejected, failed). Needs proposals:read."},
		handler(t, auth.ProposalsRead, t.listProposals))
}

// parseID reads an id argument; a malformed one is a field error of the tool's input.
func parseID(field, s string, f apperr.Fields) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil {
		f.Add(field, "must be an id (UUID)")
	}
	return id
}

func parseDate(field string, s string, f apperr.Fields) *civil.Date {
	if s == "" {
		return nil
	}
	d, err := civil.ParseDate(s)
	if err != nil {
		f.Add(field, "must be a date (YYYY-MM-DD)")
		return nil
	}
	return &d
}

// GetInvoiceArgs are get_invoice's arguments.
type GetInvoiceArgs struct {
	ID        string `json:"id,omitempty" jsonschema:"the invoice's id"`
	Number    string `json:"number,omitempty" jsonschema:"the invoice's number, e.g. INV-000042"`
	Direction string `json:"direction,omitempty" jsonschema:"receivable (invoices to customers) or payable (bills from vendors), to tell a number apart"`
}

func (t *tools) getInvoice(ctx context.Context, p auth.Principal, _ audit.Actor, in GetInvoiceArgs) (any, error) {
	f := apperr.Fields{}
	switch {
	case in.ID == "" && in.Number == "":
		f.Add("id", "give the id or the number")
	case in.ID != "" && in.Number != "":
		f.Add("id", "give the id or the number, not both")
	}
	var dir *invoices.Direction
	if in.Direction != "" {
		d := invoices.Direction(in.Direction)
		if !d.Valid() {
			f.Add("direction", "must be receivable or payable")
		}
		dir = &d
	}
	var id uuid.UUID
	if in.ID != "" {
		id = parseID("id", in.ID, f)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if in.Number == "" {
		return t.invoices.Get(ctx, p.TenantID, id)
	}
	ids, err := t.proposals.InvoiceIDsByNumber(ctx, p.TenantID, in.Number, dir)
	if err != nil {
		return nil, err
	}
	switch len(ids) {
	case 0:
		return nil, apperr.NotFoundf("invoice")
	case 1:
		return t.invoices.Get(ctx, p.TenantID, ids[0])
	}
	return nil, apperr.New(apperr.Unprocessable, "ambiguous_number", "an invoice and a bill share this number; give the direction")
}

// maxAgingLines bounds the lines the aging tool returns: an agent reads the largest
// balances; a 20,000-customer aging is for the report endpoint.
const maxAgingLines = 50

// AgingArgs are aging's arguments.
type AgingArgs struct {
	Direction      string `json:"direction,omitempty" jsonschema:"receivable (default) or payable"`
	AsOf           string `json:"as_of,omitempty" jsonschema:"the date to age as of, YYYY-MM-DD (default today)"`
	CounterpartyID string `json:"counterparty_id,omitempty" jsonschema:"one counterparty only"`
	Currency       string `json:"currency,omitempty" jsonschema:"one currency only (ISO 4217)"`
}

// AgingResult is the aging report with its largest lines.
type AgingResult struct {
	aging.Report
	LinesTotal     int  `json:"lines_total"`
	LinesTruncated bool `json:"lines_truncated"`
}

func (t *tools) agingReport(ctx context.Context, p auth.Principal, _ audit.Actor, in AgingArgs) (any, error) {
	f := apperr.Fields{}
	params := aging.Params{Direction: aging.Receivable, AsOf: civil.DateOf(t.now().UTC()), Basis: aging.DueDate}
	if in.Direction != "" {
		params.Direction = aging.Direction(in.Direction)
		if !params.Direction.Valid() {
			f.Add("direction", "must be receivable or payable")
		}
	}
	if d := parseDate("as_of", in.AsOf, f); d != nil {
		params.AsOf = *d
	}
	if in.CounterpartyID != "" {
		id := parseID("counterparty_id", in.CounterpartyID, f)
		params.CounterpartyID = &id
	}
	if in.Currency != "" {
		params.Currency = &in.Currency
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	r, err := t.aging.Report(ctx, p.TenantID, params)
	if err != nil {
		return nil, err
	}
	out := AgingResult{Report: r, LinesTotal: len(r.Lines)}
	if len(r.Lines) > maxAgingLines {
		lines := slices.Clone(r.Lines)
		slices.SortStableFunc(lines, func(a, b aging.Line) int {
			switch {
			case a.TotalMinor > b.TotalMinor:
				return -1
			case a.TotalMinor < b.TotalMinor:
				return 1
			}
			return 0
		})
		out.Lines, out.LinesTruncated = lines[:maxAgingLines], true
	}
	return out, nil
}

// ListOverdueArgs are list_overdue's arguments.
type ListOverdueArgs struct {
	Direction      string `json:"direction,omitempty" jsonschema:"receivable (default) or payable"`
	CounterpartyID string `json:"counterparty_id,omitempty" jsonschema:"one counterparty only"`
	Currency       string `json:"currency,omitempty" jsonschema:"one currency only (ISO 4217)"`
	Limit          int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
	StartingAfter  string `json:"starting_after,omitempty" jsonschema:"the id of the last invoice of the previous page"`
}

func (t *tools) listOverdue(ctx context.Context, p auth.Principal, _ audit.Actor, in ListOverdueArgs) (any, error) {
	f := apperr.Fields{}
	dir, overdue := invoices.Receivable, true
	if in.Direction != "" {
		dir = invoices.Direction(in.Direction)
		if !dir.Valid() {
			f.Add("direction", "must be receivable or payable")
		}
	}
	filter := invoices.ListFilter{Direction: &dir, Overdue: &overdue, Sort: invoices.SortDueDate}
	if in.CounterpartyID != "" {
		id := parseID("counterparty_id", in.CounterpartyID, f)
		filter.CounterpartyID = &id
	}
	if in.Currency != "" {
		filter.Currency = &in.Currency
	}
	pg := pageOf(in.Limit, in.StartingAfter, f)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return t.invoices.List(ctx, p.TenantID, filter, pg)
}

func pageOf(limit int, after string, f apperr.Fields) page.Params {
	pg := page.Params{Limit: page.DefaultLimit}
	if limit != 0 {
		if limit < 1 || limit > page.MaxLimit {
			f.Add("limit", "must be from 1 to 100")
		}
		pg.Limit = limit
	}
	if after != "" {
		id := parseID("starting_after", after, f)
		pg.StartingAfter = &id
	}
	return pg
}

// CashForecastArgs are cash_forecast's arguments.
type CashForecastArgs struct {
	AsOf     string `json:"as_of,omitempty" jsonschema:"the first day of week 1, YYYY-MM-DD (default today)"`
	Weeks    int    `json:"weeks,omitempty" jsonschema:"how many weeks, 1 to 52 (default 13)"`
	Currency string `json:"currency,omitempty" jsonschema:"one currency only (ISO 4217)"`
	Explain  bool   `json:"explain,omitempty" jsonschema:"list each counterparty's basis: its days to pay and open amount"`
}

func (t *tools) cashForecast(ctx context.Context, p auth.Principal, _ audit.Actor, in CashForecastArgs) (any, error) {
	f := apperr.Fields{}
	params := forecast.Params{AsOf: parseDate("as_of", in.AsOf, f), Weeks: in.Weeks, Explain: in.Explain}
	if in.Currency != "" {
		params.Currency = &in.Currency
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return t.forecast.Report(ctx, p.TenantID, params)
}

// AllocationArg is one invoice's share of a proposed allocation.
type AllocationArg struct {
	InvoiceID   string `json:"invoice_id" jsonschema:"the open invoice to allocate to"`
	AmountMinor int64  `json:"amount_minor" jsonschema:"the amount, in minor units of the payment's currency"`
}

// ProposeAllocationArgs are propose_allocation's arguments.
type ProposeAllocationArgs struct {
	PaymentID   string          `json:"payment_id" jsonschema:"the payment to allocate"`
	Allocations []AllocationArg `json:"allocations" jsonschema:"the invoices and amounts"`
	Rationale   string          `json:"rationale" jsonschema:"why: what in the books shows these invoices are what the payment paid"`
}

func proposer(p auth.Principal, a audit.Actor) proposals.Proposer {
	return proposals.Proposer{Actor: a, Agent: proposals.IsAgent(p)}
}

func (t *tools) proposeAllocation(ctx context.Context, p auth.Principal, a audit.Actor, in ProposeAllocationArgs) (any, error) {
	f := apperr.Fields{}
	pin := proposals.ProposeAllocationInput{PaymentID: parseID("payment_id", in.PaymentID, f), Rationale: in.Rationale}
	for i, x := range in.Allocations {
		pin.Allocations = append(pin.Allocations, proposals.AllocationAmount{
			InvoiceID: parseID("allocations["+strconv.Itoa(i)+"].invoice_id", x.InvoiceID, f), AmountMinor: x.AmountMinor})
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return t.proposals.ProposeAllocation(ctx, proposer(p, a), pin)
}

// ProposeWriteOffArgs are propose_write_off's arguments.
type ProposeWriteOffArgs struct {
	InvoiceID string `json:"invoice_id" jsonschema:"the open invoice to write off"`
	Reason    string `json:"reason" jsonschema:"the reason recorded on the invoice, up to 500 characters"`
	Rationale string `json:"rationale" jsonschema:"why: what in the books shows the amount will not be collected"`
}

func (t *tools) proposeWriteOff(ctx context.Context, p auth.Principal, a audit.Actor, in ProposeWriteOffArgs) (any, error) {
	f := apperr.Fields{}
	pin := proposals.ProposeWriteOffInput{InvoiceID: parseID("invoice_id", in.InvoiceID, f), Reason: in.Reason, Rationale: in.Rationale}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return t.proposals.ProposeWriteOff(ctx, proposer(p, a), pin)
}

// ListProposalsArgs are list_proposals' arguments.
type ListProposalsArgs struct {
	Kind          string `json:"kind,omitempty" jsonschema:"bill, collection_message, allocation or write_off"`
	Status        string `json:"status,omitempty" jsonschema:"pending, approved, rejected or failed"`
	Limit         int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
	StartingAfter string `json:"starting_after,omitempty" jsonschema:"the id of the last proposal of the previous page"`
}

func (t *tools) listProposals(ctx context.Context, p auth.Principal, _ audit.Actor, in ListProposalsArgs) (any, error) {
	f := apperr.Fields{}
	var filter proposals.ListFilter
	if in.Kind != "" {
		k := proposals.Kind(in.Kind)
		if !k.Valid() {
			f.Add("kind", "must be bill, collection_message, allocation or write_off")
		}
		filter.Kind = &k
	}
	if in.Status != "" {
		st := proposals.Status(in.Status)
		if !st.Valid() {
			f.Add("status", "must be pending, approved, rejected or failed")
		}
		filter.Status = &st
	}
	pg := pageOf(in.Limit, in.StartingAfter, f)
	if err := f.Err(); err != nil {
		return nil, err
	}
	return t.proposals.List(ctx, p.TenantID, filter, pg)
}
