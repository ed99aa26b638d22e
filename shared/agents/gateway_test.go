package agents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/settings"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// --- the tenant and the gateway -------------------------------------------------

type env struct {
	d        *dbtest.Database
	tenant   uuid.UUID
	actor    audit.Actor
	svc      *agents.Service
	settings *settings.Service
	features *features.Service
	mu       sync.Mutex
	sleeps   []time.Duration
}

// newEnv is a tenant with the agents feature on and a budget of USD 100.00, and a
// gateway over it whose waits are recorded instead of slept.
func newEnv(t *testing.T, providers map[agents.Name]agents.Provider) *env {
	t.Helper()
	d := dbtest.New(t)
	tenant := d.NewTenant(t, "Agents")
	c := cache.NewMemory(1000)
	e := &env{d: d, tenant: tenant, actor: audit.Actor{TenantID: tenant, Type: "user", ID: "alice", RequestID: "req-1"},
		settings: &settings.Service{DB: d.App, Cache: c, Now: time.Now}, features: &features.Service{DB: d.App, Cache: c, Now: time.Now}}
	e.svc = &agents.Service{
		DB: d.App, Cache: c, CacheTTL: time.Hour, Settings: e.settings, Features: e.features, Providers: providers,
		Now: time.Now, Timeout: 10 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.sleeps = append(e.sleeps, d)
			return ctx.Err()
		},
		// The longest wait full jitter may draw, so the waits are predictable.
		Jitter: func(max time.Duration) time.Duration { return max },
	}
	e.setFlag(t, true)
	e.setBudget(t, 10_000)
	return e
}

func (e *env) setFlag(t *testing.T, on bool) {
	t.Helper()
	_, err := e.features.Put(context.Background(), e.actor, features.PutInput{Flags: map[string]bool{"agents": on}})
	require.NoError(t, err)
}

func (e *env) setBudget(t *testing.T, minor int64) {
	t.Helper()
	ctx := context.Background()
	v, err := e.settings.Current(ctx, e.tenant)
	require.NoError(t, err)
	var in settings.UpdateInput
	require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{"agent_budget_monthly_minor": %d}`, minor)), &in))
	_, err = e.settings.Update(ctx, e.actor, v.Version, in)
	require.NoError(t, err)
}

func (e *env) waits() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// runs are the tenant's recorded runs, newest first.
func (e *env) runs(t *testing.T) []agents.Run {
	t.Helper()
	l, err := e.svc.Runs(context.Background(), e.tenant, agents.Filter{}, page.Params{Limit: 100})
	require.NoError(t, err)
	return l.Data
}

// requireRecorded checks that run is the latest recorded run, as returned.
func (e *env) requireRecorded(t *testing.T, run agents.Run) {
	t.Helper()
	runs := e.runs(t)
	require.NotEmpty(t, runs)
	require.Equal(t, run, runs[0])
}

func requireCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	require.Error(t, err)
	e := apperr.From(err)
	require.Equal(t, code, e.Code, err.Error())
	require.Equal(t, status, apperr.Status(e.Kind))
}

// --- inputs and outputs ------------------------------------------------------------

var acme = agents.VendorOption{ID: uuid.MustParse("0190f3a8-0000-7000-8000-000000000001"), Name: "Acme Office Supplies Ltd", TaxID: ptr("GB123456789")}

func ptr[T any](v T) *T { return &v }

var billInput = agents.APExtractInput{Text: "ACME Office Supplies Ltd\nVAT No: GB 123 4567 89\nInvoice No: INV-42\nInvoice Date: 2026-03-03\nToner 2 x £64.99 £129.98\nTotal due £155.98",
	Vendors: []agents.VendorOption{acme}}

// modelBill is what a model extracts from billInput.
var modelBill = agents.APExtraction{
	Vendor: agents.ExtractedVendor{Name: "ACME Office Supplies Ltd", TaxID: ptr("GB 123 4567 89"), MatchedID: &acme.ID},
	Number: ptr("INV-42"), IssueDate: civil.Date{Year: 2026, Month: 3, Day: 3}, Currency: "GBP",
	Lines:      []agents.ExtractedLine{{Description: "Toner", Quantity: "2", UnitAmountMinor: 6499, TaxRate: ptr("20")}},
	TotalMinor: 15598,
	Confidence: map[string]float64{"vendor": 0.97, "number": 0.95, "issue_date": 0.95, "due_date": 0, "currency": 0.9, "lines": 0.9, "total_minor": 0.95},
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// --- a fake Gemini: the generateContent REST API ---------------------------------

type fakeGemini struct {
	t         *testing.T
	srv       *httptest.Server
	mu        sync.Mutex
	responses []http.HandlerFunc
	requests  []geminiRequest
	calls     atomic.Int32
}

type geminiRequest struct {
	Path   string
	APIKey string
	Body   struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
		SystemInstruction struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"systemInstruction"`
		GenerationConfig struct {
			ResponseMimeType string         `json:"responseMimeType"`
			ResponseSchema   map[string]any `json:"responseSchema"`
			Temperature      *float64       `json:"temperature"`
		} `json:"generationConfig"`
	}
}

func newFakeGemini(t *testing.T, responses ...http.HandlerFunc) *fakeGemini {
	f := &fakeGemini{t: t, responses: responses}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		var req geminiRequest
		req.Path, req.APIKey = r.URL.Path, r.Header.Get("x-goog-api-key")
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req.Body); err != nil {
			t.Errorf("fake gemini: request body: %v", err)
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, ":generateContent") || r.Method != http.MethodPost {
			http.Error(w, "not generateContent", http.StatusNotFound)
			return
		}
		if n > len(f.responses) {
			t.Errorf("fake gemini: unexpected call %d", n)
			http.Error(w, "no more responses", http.StatusInternalServerError)
			return
		}
		f.responses[n-1](w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGemini) provider() *agents.GeminiProvider {
	return agents.NewGemini(agents.GeminiOptions{Model: "gemini-2.5-flash", APIKey: "test-key", BaseURL: f.srv.URL})
}

func (f *fakeGemini) request(i int) geminiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[i]
}

// geminiOK answers with text as the model's output and its usage.
func geminiOK(text string, promptTokens, candidateTokens, thoughtTokens int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"candidates": []any{map[string]any{
				"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}},
				"finishReason": "STOP",
			}},
			"usageMetadata": map[string]any{"promptTokenCount": promptTokens, "candidatesTokenCount": candidateTokens,
				"thoughtsTokenCount": thoughtTokens, "totalTokenCount": promptTokens + candidateTokens + thoughtTokens},
			"modelVersion": "gemini-2.5-flash",
		})
	}
}

// geminiFail answers with a Google API error.
func geminiFail(status int, retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"code": status, "message": http.StatusText(status), "status": map[int]string{400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}[status]}})
	}
}

// geminiHang never answers.
func geminiHang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// --- Gemini ------------------------------------------------------------------------

func TestGeminiSuccess(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiOK(jsonText(t, modelBill), 1200, 300, 50))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, modelBill, out)
	require.Equal(t, agents.OutcomeSucceeded, run.Outcome)
	require.Equal(t, "gemini", run.Provider)
	require.Equal(t, "gemini-2.5-flash", run.Model)
	require.Equal(t, "ap_extract.v1", run.PromptVersion)
	require.Equal(t, 1, run.Attempts)
	require.False(t, run.CacheHit)
	require.Nil(t, run.Error)
	require.Equal(t, int64(1200), run.TokensIn)
	require.Equal(t, int64(350), run.TokensOut, "thinking tokens are output")
	// 1200 × 0.30 + 350 × 2.50 per million tokens = 0.001235 of a major unit.
	require.Equal(t, int64(1235), run.CostMicros)
	e.requireRecorded(t, run)

	req := g.request(0)
	require.Equal(t, "/v1beta/models/gemini-2.5-flash:generateContent", req.Path)
	require.Equal(t, "test-key", req.APIKey)
	require.Equal(t, "application/json", req.Body.GenerationConfig.ResponseMimeType)
	require.Equal(t, "OBJECT", req.Body.GenerationConfig.ResponseSchema["type"])
	require.Contains(t, req.Body.GenerationConfig.ResponseSchema["properties"], "total_minor")
	require.Equal(t, 0.0, *req.Body.GenerationConfig.Temperature)
	require.Contains(t, req.Body.SystemInstruction.Parts[0].Text, "You extract a vendor's bill")
	require.Len(t, req.Body.Contents, 1)
	require.Contains(t, req.Body.Contents[0].Parts[0].Text, `"text":"ACME Office Supplies Ltd`)
}

func TestGeminiRetriesAfterRetryAfter(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(429, "2"), geminiOK(jsonText(t, modelBill), 100, 100, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{2 * time.Second}, e.waits(), "the wait the provider asked for, not a backoff")
	require.Equal(t, 2, run.Attempts)
	require.Equal(t, agents.OutcomeSucceeded, run.Outcome)
	require.Equal(t, int32(2), g.calls.Load())
}

func TestGeminiRetryAfterBeyondTheDeadlineFailsAtOnce(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(429, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeUnavailable, http.StatusServiceUnavailable)
	require.True(t, agents.IsUnavailable(err))
	require.Empty(t, e.waits(), "no point waiting past the deadline")
	require.Equal(t, agents.OutcomeFailed, run.Outcome)
	require.Contains(t, *run.Error, "beyond the run's deadline")
	e.requireRecorded(t, run)
}

func TestGeminiRetriesA503WithBackoff(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(503, ""), geminiFail(503, ""), geminiOK(jsonText(t, modelBill), 100, 100, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{agents.DefaultBackoff, 2 * agents.DefaultBackoff}, e.waits(), "exponential, jitter drawn at its maximum")
	require.Equal(t, 3, run.Attempts)
	require.Equal(t, agents.OutcomeSucceeded, run.Outcome)
}

func TestGeminiGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(503, ""), geminiFail(503, ""), geminiFail(503, ""), geminiFail(503, ""))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeUnavailable, http.StatusServiceUnavailable)
	require.Equal(t, agents.DefaultMaxAttempts, run.Attempts)
	require.Len(t, e.waits(), agents.DefaultMaxAttempts-1)
	require.Equal(t, agents.OutcomeFailed, run.Outcome)
	require.Zero(t, out.TotalMinor)
}

func TestGeminiDoesNotRetryABadRequest(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(400, ""))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeFailed, http.StatusBadGateway)
	require.True(t, agents.IsUnavailable(err))
	require.Equal(t, 1, run.Attempts)
	require.Empty(t, e.waits())
	require.Equal(t, agents.OutcomeFailed, run.Outcome)
	require.Contains(t, *run.Error, "agent_failed")
	require.Contains(t, *run.Error, "INVALID_ARGUMENT")
	e.requireRecorded(t, run)
}

func TestGeminiMalformedOutputIsRepaired(t *testing.T) {
	t.Parallel()
	bad := `{"vendor": {"name": "ACME"}, "total_minor": "155.98"}`
	g := newFakeGemini(t, geminiOK(bad, 500, 40, 0), geminiOK(jsonText(t, modelBill), 700, 300, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, modelBill, out)
	require.Equal(t, agents.OutcomeRepaired, run.Outcome)
	require.Equal(t, 2, run.Attempts)
	require.Equal(t, int64(1200), run.TokensIn, "both attempts are paid for")
	require.Equal(t, int64(340), run.TokensOut)

	repair := g.request(1).Body.Contents
	require.Len(t, repair, 3, "the input, the invalid output, the errors")
	require.Equal(t, "model", repair[1].Role)
	require.Equal(t, bad, repair[1].Parts[0].Text)
	require.Contains(t, repair[2].Parts[0].Text, "That output is invalid")
	require.Contains(t, repair[2].Parts[0].Text, "total_minor")
	e.requireRecorded(t, run)
}

func TestGeminiMalformedTwiceIsARecordedFailure(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiOK("Sure! Here is the bill: ACME, 155.98", 500, 40, 0), geminiOK(`{"vendor": null}`, 600, 20, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})

	out := agents.APExtraction{Currency: "untouched"}
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeOutputInvalid, http.StatusBadGateway)
	require.True(t, agents.IsUnavailable(err))
	require.Equal(t, agents.APExtraction{Currency: "untouched"}, out, "nothing half-parsed reaches the caller")
	require.Equal(t, agents.OutcomeInvalidOutput, run.Outcome)
	require.Equal(t, 2, run.Attempts, "exactly one repair attempt")
	require.Equal(t, int64(1100), run.TokensIn)
	require.Positive(t, run.CostMicros, "invalid output was still paid for")
	require.Contains(t, *run.Error, "agent_output_invalid")
	require.Equal(t, int32(2), g.calls.Load())
	e.requireRecorded(t, run)
}

// TestRunIsRecordedOutsideTheRequestsTransaction: a request made with an
// Idempotency-Key runs in one transaction that a failure rolls back; the run, and the
// spend it records against the budget, must stay.
func TestRunIsRecordedOutsideTheRequestsTransaction(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiOK("not a bill", 500, 40, 0), geminiOK(`{"vendor": null}`, 600, 20, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	ctx := context.Background()

	tx, err := e.d.App.Begin(ctx, e.tenant, db.ReadCommitted)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var out agents.APExtraction
	run, err := e.svc.Run(db.WithTx(ctx, e.tenant, tx), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeOutputInvalid, http.StatusBadGateway)
	require.Positive(t, run.CostMicros)
	require.NoError(t, tx.Rollback(ctx), "the request fails, and its transaction with it")

	e.requireRecorded(t, run)
	u, err := e.svc.Usage(ctx, e.tenant, nil)
	require.NoError(t, err)
	require.Equal(t, run.CostMicros, u.SpentMicros, "the spend counts against the budget")
}

func TestGeminiTimeoutBeyondTheDeadline(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiHang)
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	e.svc.Timeout = 300 * time.Millisecond

	var out agents.APExtraction
	start := time.Now()
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.Less(t, time.Since(start), 5*time.Second)
	requireCode(t, err, agents.CodeUnavailable, http.StatusServiceUnavailable)
	require.Equal(t, agents.OutcomeFailed, run.Outcome)
	require.Equal(t, 1, run.Attempts)
	require.Contains(t, *run.Error, "deadline")
	require.GreaterOrEqual(t, run.LatencyMs, int64(300))
	e.requireRecorded(t, run)
}

func TestGeminiAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiHang, geminiOK(jsonText(t, modelBill), 100, 100, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	e.svc.AttemptTimeout = 200 * time.Millisecond

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, 2, run.Attempts)
	require.Len(t, e.waits(), 1)
}

// --- MCP: an in-process agent server ------------------------------------------------

type toolCall struct {
	tool string
	args map[string]any
}

type fakeAgentServer struct {
	url   string
	mu    sync.Mutex
	calls []toolCall
}

// newFakeAgentServer serves one tool per agent over streamable HTTP; answer decides
// each call's result from the tool, its arguments and the call's number.
func newFakeAgentServer(t *testing.T, answer func(tool string, args map[string]any, n int) *mcp.CallToolResult) *fakeAgentServer {
	f := &fakeAgentServer{}
	server := mcp.NewServer(&mcp.Implementation{Name: "fake-agents", Version: "1"}, nil)
	for _, name := range agents.Names() {
		schema, _, _ := agents.Schema(name)
		server.AddTool(&mcp.Tool{Name: string(name), InputSchema: map[string]any{"type": "object"}, OutputSchema: schema},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				var args map[string]any
				if err := json.Unmarshal(req.Params.Arguments, &args); err != nil {
					return nil, err
				}
				f.mu.Lock()
				f.calls = append(f.calls, toolCall{tool: req.Params.Name, args: args})
				n := len(f.calls)
				f.mu.Unlock()
				return answer(req.Params.Name, args, n), nil
			})
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAgentServer) recorded() []toolCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]toolCall(nil), f.calls...)
}

func TestMCPSuccess(t *testing.T) {
	t.Parallel()
	var structured map[string]any
	require.NoError(t, json.Unmarshal([]byte(jsonText(t, modelBill)), &structured))
	f := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		return &mcp.CallToolResult{StructuredContent: structured,
			Meta: mcp.Meta{"model": "gemini-2.5-pro", "usage": map[string]any{"input_tokens": 900, "output_tokens": 120}}}
	})
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: f.url})})
	prices, err := agents.ParsePrices("ap_extract=2:20,gemini-2.5-flash-lite=0.01:0.01")
	require.NoError(t, err)
	e.svc.Prices = prices

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, modelBill, out)
	require.Equal(t, "mcp", run.Provider)
	require.Equal(t, int64(900), run.TokensIn)
	require.Equal(t, int64(120), run.TokensOut)
	// The configured tool is the model the run records and is priced by; what the
	// server says answered is its word only: 900 × 2 + 120 × 20 per million = 0.0042.
	require.Equal(t, "ap_extract", run.Model)
	require.Equal(t, int64(4200), run.CostMicros)
	e.requireRecorded(t, run)

	// A server naming a cheaper model does not make its calls cheaper.
	cheap := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		return &mcp.CallToolResult{StructuredContent: structured,
			Meta: mcp.Meta{"model": "gemini-2.5-flash-lite", "usage": map[string]any{"input_tokens": 900, "output_tokens": 120}}}
	})
	e.svc.Providers = map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: cheap.url})}
	other := billInput
	other.Text += "\nPO: 7781"
	run, err = e.svc.Run(context.Background(), e.tenant, agents.APExtract, other, &out)
	require.NoError(t, err)
	require.Equal(t, "ap_extract", run.Model)
	require.Equal(t, int64(4200), run.CostMicros)

	calls := f.recorded()
	require.Len(t, calls, 1)
	require.Equal(t, "ap_extract", calls[0].tool, "the tool is named after the agent by default")
	require.Equal(t, billInput.Text, calls[0].args["text"], "the arguments are the agent's input")
	require.NotContains(t, calls[0].args, "repair")
}

func TestMCPToolNamesAndTextContent(t *testing.T) {
	t.Parallel()
	f := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "```json\n" + jsonText(t, modelBill) + "\n```"}}}
	})
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: f.url,
		Tools: map[agents.Name]string{agents.APExtract: "forecast_narrative"}})})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, modelBill, out)
	require.Equal(t, "forecast_narrative", run.Model, "the configured tool, when the server names no model")
	require.Equal(t, "forecast_narrative", f.recorded()[0].tool)
	require.Zero(t, run.CostMicros, "no usage reported, no price for the tool")
}

func TestMCPToolErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "the document is not a bill"}}}
	})
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: f.url})})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeFailed, http.StatusBadGateway)
	require.Equal(t, agents.OutcomeFailed, run.Outcome)
	require.Equal(t, 1, run.Attempts)
	require.Contains(t, *run.Error, "the document is not a bill")
	require.Len(t, f.recorded(), 1)
	e.requireRecorded(t, run)
}

func TestMCPMalformedOutputIsRepaired(t *testing.T) {
	t.Parallel()
	f := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		if n == 1 {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: `{"vendor": "ACME"`}}}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: jsonText(t, modelBill)}}}
	})
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: f.url})})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	require.Equal(t, agents.OutcomeRepaired, run.Outcome)
	calls := f.recorded()
	require.Len(t, calls, 2)
	repair, ok := calls[1].args["repair"].(map[string]any)
	require.True(t, ok, "the repair attempt says what was wrong")
	require.Equal(t, `{"vendor": "ACME"`, repair["previous_output"])
	require.Contains(t, fmt.Sprint(repair["errors"]), "not valid JSON")
	require.Equal(t, billInput.Text, calls[1].args["text"])
}

func TestMCPMalformedTwice(t *testing.T) {
	t.Parallel()
	f := newFakeAgentServer(t, func(tool string, args map[string]any, n int) *mcp.CallToolResult {
		return &mcp.CallToolResult{StructuredContent: map[string]any{"summary": "wrong agent"}}
	})
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: f.url})})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeOutputInvalid, http.StatusBadGateway)
	require.Equal(t, agents.OutcomeInvalidOutput, run.Outcome)
	require.Len(t, f.recorded(), 2)
}

func TestMCPServerDownIsRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: agents.NewMCP(agents.MCPOptions{URL: srv.URL})})

	var out agents.APExtraction
	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeUnavailable, http.StatusServiceUnavailable)
	require.Equal(t, agents.DefaultMaxAttempts, run.Attempts)
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, e.waits())
}

// --- cache, budget, flag ---------------------------------------------------------

func TestRepeatIsServedFromTheCache(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiOK(jsonText(t, modelBill), 1200, 300, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	ctx := context.Background()

	var first agents.APExtraction
	paid, err := e.svc.Run(ctx, e.tenant, agents.APExtract, billInput, &first)
	require.NoError(t, err)

	// The same input in another key order and layout is the same request.
	reordered := json.RawMessage(`{
	  "vendors": [{"tax_id": "GB123456789", "name": "Acme Office Supplies Ltd", "id": "` + acme.ID.String() + `"}],
	  "text": ` + jsonText(t, billInput.Text) + `}`)
	var second agents.APExtraction
	hit, err := e.svc.Run(ctx, e.tenant, agents.APExtract, reordered, &second)
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.Equal(t, int32(1), g.calls.Load(), "no provider call")
	require.True(t, hit.CacheHit)
	require.Equal(t, agents.OutcomeSucceeded, hit.Outcome)
	require.Zero(t, hit.Attempts)
	require.Zero(t, hit.CostMicros)
	require.Zero(t, hit.TokensIn)
	e.requireRecorded(t, hit)

	u, err := e.svc.Usage(ctx, e.tenant, nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), u.Totals.Runs, "a hit is counted")
	require.Equal(t, int64(1), u.Totals.CacheHits)
	require.Equal(t, paid.CostMicros, u.Totals.CostMicros, "and costs nothing")

	// Another tenant's identical request is not served from this tenant's entry.
	other := e.d.NewTenant(t, "Other")
	_, err = e.features.Put(ctx, audit.Actor{TenantID: other, Type: "user", ID: "bob"}, features.PutInput{Flags: map[string]bool{"agents": true}})
	require.NoError(t, err)
	var third agents.APExtraction
	run, err := e.svc.Run(ctx, other, agents.APExtract, billInput, &third)
	requireCode(t, err, agents.CodeBudgetExhausted, http.StatusPaymentRequired)
	require.False(t, run.CacheHit)
}

func TestBudgetExhausted(t *testing.T) {
	t.Parallel()
	// 100,000 prompt tokens of gemini-2.5-flash cost 0.03: over a budget of 0.01.
	g := newFakeGemini(t, geminiOK(jsonText(t, modelBill), 100_000, 100, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	e.setBudget(t, 1)
	ctx := context.Background()

	var out agents.APExtraction
	first, err := e.svc.Run(ctx, e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err, "under budget before the call")
	require.Equal(t, int64(30_250), first.CostMicros)

	other := billInput
	other.Text += "\nPO: 7781"
	var second agents.APExtraction
	run, err := e.svc.Run(ctx, e.tenant, agents.APExtract, other, &second)
	requireCode(t, err, agents.CodeBudgetExhausted, http.StatusPaymentRequired)
	require.True(t, agents.IsUnavailable(err))
	require.Equal(t, agents.OutcomeOverBudget, run.Outcome)
	require.Zero(t, run.Attempts)
	require.Zero(t, run.CostMicros)
	require.Equal(t, int32(1), g.calls.Load(), "no call over budget")
	require.Zero(t, second.TotalMinor)
	e.requireRecorded(t, run)

	// The cache still serves what was already paid for, and the free agent still runs.
	_, err = e.svc.Run(ctx, e.tenant, agents.APExtract, billInput, &out)
	require.NoError(t, err)
	var msg agents.CollectionMessage
	_, err = e.svc.Run(ctx, e.tenant, agents.ARCollections, collectionInput(), &msg)
	require.NoError(t, err)

	u, err := e.svc.Usage(ctx, e.tenant, nil)
	require.NoError(t, err)
	require.True(t, u.BudgetExhausted)
	require.Equal(t, int64(1), u.BudgetMinor)
	require.Equal(t, int64(30_250), u.SpentMicros)
	require.Equal(t, int64(4), u.SpentMinor, "rounded up to the cent")
	require.Zero(t, u.RemainingMinor)
	require.Equal(t, "USD", u.Currency)
	require.Equal(t, int64(1), u.Totals.Outcomes[agents.OutcomeOverBudget])
}

func TestZeroBudgetAllowsOnlyTheBuiltinAgent(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t)
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	e.setBudget(t, 0)
	ctx := context.Background()

	var out agents.APExtraction
	run, err := e.svc.Run(ctx, e.tenant, agents.APExtract, billInput, &out)
	requireCode(t, err, agents.CodeBudgetExhausted, http.StatusPaymentRequired)
	require.Equal(t, agents.OutcomeOverBudget, run.Outcome)
	require.Zero(t, g.calls.Load())

	var msg agents.CollectionMessage
	run, err = e.svc.Run(ctx, e.tenant, agents.ARCollections, collectionInput(), &msg)
	require.NoError(t, err)
	require.Equal(t, "builtin", run.Provider)
	require.Equal(t, agents.BuiltinModel, run.Model)
	require.Zero(t, run.CostMicros)
}

func TestAgentsFlagOff(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t)
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	e.setFlag(t, false)

	for _, agent := range []agents.Name{agents.APExtract, agents.ARCollections} {
		var err error
		var run agents.Run
		if agent == agents.APExtract {
			run, err = e.svc.Run(context.Background(), e.tenant, agent, billInput, new(agents.APExtraction))
		} else {
			run, err = e.svc.Run(context.Background(), e.tenant, agent, collectionInput(), new(agents.CollectionMessage))
		}
		requireCode(t, err, agents.CodeDisabled, http.StatusForbidden)
		require.True(t, agents.IsUnavailable(err))
		require.Equal(t, agents.OutcomeDisabled, run.Outcome)
		require.Zero(t, run.Attempts)
		e.requireRecorded(t, run)
	}
	require.Zero(t, g.calls.Load())
}

func TestInvalidInputIsRefusedUnrecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	in := collectionInput()
	in.Stage = "angry"
	_, err := e.svc.Run(context.Background(), e.tenant, agents.ARCollections, in, new(agents.CollectionMessage))
	requireCode(t, err, agents.CodeInputInvalid, http.StatusUnprocessableEntity)
	require.False(t, agents.IsUnavailable(err), "a defect of the caller, not the agent")
	require.Contains(t, apperr.From(err).Fields, "stage")
	require.Empty(t, e.runs(t))

	// The output must be the agent's type.
	_, err = e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, new(agents.CollectionMessage))
	requireCode(t, err, "internal", http.StatusInternalServerError)
}

// --- the built-in agent through the gateway -----------------------------------------

func collectionInput() agents.ARCollectionsInput {
	return agents.ARCollectionsInput{
		CounterpartyID: uuid.New(), CounterpartyName: "Umbrella Retail", Currency: "USD", OverdueMinor: 500000, OldestDaysLate: 20,
		Stage: agents.StageFirm,
		Invoices: []agents.OverdueInvoice{{ID: uuid.New(), Number: "INV-000102",
			DueDate: civil.Date{Year: 2026, Month: 3, Day: 31}, AmountDueMinor: 500000}},
	}
}

func TestBuiltinAgentsThroughTheGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()

	var bill agents.APExtraction
	run, err := e.svc.Run(ctx, e.tenant, agents.APExtract, billInput, &bill)
	require.NoError(t, err)
	require.Equal(t, agents.OutcomeSucceeded, run.Outcome)
	require.Equal(t, "builtin", run.Provider)
	require.Equal(t, acme.ID, *bill.Vendor.MatchedID)
	require.Equal(t, "INV-42", *bill.Number)
	require.Equal(t, int64(15598), bill.TotalMinor)
	total, err := bill.LinesTotalMinor()
	require.NoError(t, err)
	require.Equal(t, int64(12998), total, "the stated total is kept even though the lines (no VAT line) say otherwise")

	var msg agents.CollectionMessage
	in := collectionInput()
	_, err = e.svc.Run(ctx, e.tenant, agents.ARCollections, in, &msg)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{in.Invoices[0].ID}, msg.CitedInvoiceIDs)
	require.Equal(t, agents.StageFirm, msg.Stage)

	report := map[string]any{"object": "cash_forecast", "as_of": "2026-06-01", "weeks": 2, "forecasts": []any{map[string]any{
		"currency": "USD",
		"weeks": []any{
			map[string]any{"week": 1, "start_date": "2026-06-01", "inflows": map[string]any{"p50_minor": 120000}, "outflows": map[string]any{"p50_minor": 300000}, "cumulative_net_low_minor": -250000},
			map[string]any{"week": 2, "start_date": "2026-06-08", "inflows": map[string]any{"p50_minor": 480000}, "outflows": map[string]any{"p50_minor": 0}, "cumulative_net_low_minor": 100000},
		},
		"beyond_horizon": map[string]any{"inflows": map[string]any{"p50_minor": 0}, "outflows": map[string]any{"p50_minor": 0}},
		"totals":         map[string]any{"inflows_minor": 600000, "outflows_minor": 300000, "net_minor": 300000},
	}}}
	var narrative agents.ForecastNarrative
	_, err = e.svc.Run(ctx, e.tenant, agents.ForecastNarrator, agents.ForecastNarrativeInput{Forecast: report}, &narrative)
	require.NoError(t, err)
	require.Contains(t, narrative.Summary, "USD 6000.00 is expected in")
	require.ElementsMatch(t, []int64{600000, 300000, 480000, -250000}, narrative.CitedAmountsMinor)

	require.Len(t, e.runs(t), 3)
	for _, r := range e.runs(t) {
		require.Zero(t, r.CostMicros)
		require.Zero(t, r.TokensIn)
	}
}

// --- the record --------------------------------------------------------------------

func TestRunsFilterAndPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 3 {
		in := billInput
		in.Text += fmt.Sprintf("\nRef %d", i)
		_, err := e.svc.Run(ctx, e.tenant, agents.APExtract, in, new(agents.APExtraction))
		require.NoError(t, err)
	}
	_, err := e.svc.Run(ctx, e.tenant, agents.ARCollections, collectionInput(), new(agents.CollectionMessage))
	require.NoError(t, err)
	e.setFlag(t, false)
	_, err = e.svc.Run(ctx, e.tenant, agents.ARCollections, collectionInput(), new(agents.CollectionMessage))
	require.Error(t, err)

	ap := agents.APExtract
	first, err := e.svc.Runs(ctx, e.tenant, agents.Filter{Agent: &ap}, page.Params{Limit: 2})
	require.NoError(t, err)
	require.Len(t, first.Data, 2)
	require.True(t, first.HasMore)
	next, err := e.svc.Runs(ctx, e.tenant, agents.Filter{Agent: &ap}, page.Params{Limit: 2, StartingAfter: &first.Data[1].ID})
	require.NoError(t, err)
	require.Len(t, next.Data, 1)
	require.False(t, next.HasMore)

	disabled := agents.OutcomeDisabled
	l, err := e.svc.Runs(ctx, e.tenant, agents.Filter{Outcome: &disabled}, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Len(t, l.Data, 1)
	require.Equal(t, agents.ARCollections, l.Data[0].Agent)

	// Another tenant sees none of them.
	other := e.d.NewTenant(t, "Other")
	l, err = e.svc.Runs(ctx, other, agents.Filter{}, page.Params{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, l.Data)

	u, err := e.svc.Usage(ctx, e.tenant, nil)
	require.NoError(t, err)
	require.Equal(t, int64(5), u.Totals.Runs)
	require.Len(t, u.Agents, 3)
	require.Equal(t, agents.APExtract, u.Agents[0].Agent)
	require.Equal(t, int64(3), u.Agents[0].Runs)
	require.Equal(t, int64(1), u.Agents[1].Outcomes[agents.OutcomeDisabled])
	require.Equal(t, int64(0), u.Agents[2].Runs)
	require.Equal(t, int64(10_000), u.RemainingMinor)

	last, err := agents.ParseMonth("2001-01")
	require.NoError(t, err)
	u, err = e.svc.Usage(ctx, e.tenant, &last)
	require.NoError(t, err)
	require.Zero(t, u.Totals.Runs)
	require.Equal(t, "2001-01", u.Month)
}

func TestSpansAndMetrics(t *testing.T) {
	t.Parallel()
	g := newFakeGemini(t, geminiFail(503, ""), geminiOK(jsonText(t, modelBill), 1200, 300, 0))
	e := newEnv(t, map[agents.Name]agents.Provider{agents.APExtract: g.provider()})
	spans := tracetest.NewSpanRecorder()
	e.svc.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")
	reader := sdkmetric.NewManualReader()
	e.svc.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")

	run, err := e.svc.Run(context.Background(), e.tenant, agents.APExtract, billInput, new(agents.APExtraction))
	require.NoError(t, err)

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	require.Len(t, byName["agents.run"], 1)
	require.Len(t, byName["agents.attempt"], 2, "one span per attempt")
	root := byName["agents.run"][0]
	attrs := map[string]string{}
	for _, a := range root.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	require.Equal(t, "ap_extract", attrs["agent.name"])
	require.Equal(t, "gemini", attrs["agent.provider"])
	require.Equal(t, "succeeded", attrs["agent.outcome"])
	require.Equal(t, "2", attrs["agent.attempts"])
	require.Equal(t, fmt.Sprint(run.CostMicros), attrs["agent.cost_micros"])
	require.Equal(t, e.tenant.String(), attrs["ledgerline.tenant_id"])
	for _, s := range byName["agents.attempt"] {
		require.Equal(t, root.SpanContext().SpanID(), s.Parent().SpanID())
	}

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					sums[m.Name] += dp.Value
				}
			}
		}
	}
	require.Equal(t, int64(1), sums["ledgerline.agent.runs"])
	require.Equal(t, int64(1500), sums["ledgerline.agent.tokens"])
	require.Equal(t, run.CostMicros, sums["ledgerline.agent.cost"])
}

// --- configuration -------------------------------------------------------------------

func TestFromConfig(t *testing.T) {
	base := config.Config{GeminiModel: "gemini-2.5-flash", VertexLocation: "us-central1", AgentTimeout: 30 * time.Second, AgentCacheTTL: time.Hour}

	s, err := agents.FromConfig(base, nil, nil, nil)
	require.NoError(t, err)
	require.Empty(t, s.Providers, "builtin for every agent by default")

	cfg := base
	cfg.AgentProviders = "ap_extract=gemini, ar_collections=builtin,forecast_narrative=mcp"
	cfg.GeminiAPIKey = "key"
	cfg.MCPAgentURL = "https://agents.example/mcp"
	cfg.MCPAgentTools = "forecast_narrative=explain_forecast"
	cfg.AgentPrices = "gemini-2.5-flash=0.5:3,*=1:1"
	s, err = agents.FromConfig(cfg, nil, nil, nil)
	require.NoError(t, err)
	require.Equal(t, "gemini", s.Providers[agents.APExtract].Name())
	require.Equal(t, "gemini-2.5-flash", s.Providers[agents.APExtract].Model(agents.APExtract))
	require.Equal(t, "builtin", s.Providers[agents.ARCollections].Name())
	require.Equal(t, "explain_forecast", s.Providers[agents.ForecastNarrator].Model(agents.ForecastNarrator))
	require.Equal(t, int64(500_000+3_000_000), s.Prices.Cost("gemini-2.5-flash", 1_000_000, 1_000_000))
	require.Equal(t, int64(2), s.Prices.Cost("some-model", 1_000_000, 1_000_000)/1_000_000, "* prices the rest")

	for value, want := range map[string]string{
		"ap_extract=openai":                    "unknown provider",
		"refunds=gemini":                       "unknown agent",
		"ap_extract":                           "not agent=value",
		"ap_extract=builtin,ap_extract=gemini": "given twice",
		"forecast_narrative=mcp":               "MCP_AGENT_URL is required",
	} {
		cfg := base
		cfg.AgentProviders = value
		_, err := agents.FromConfig(cfg, nil, nil, nil)
		require.ErrorContains(t, err, want, value)
	}
	cfg = base
	cfg.AgentProviders = "ap_extract=gemini"
	_, err = agents.FromConfig(cfg, nil, nil, nil)
	require.ErrorContains(t, err, "GEMINI_API_KEY, or GOOGLE_CLOUD_PROJECT")
	cfg.ProjectID = "acme"
	_, err = agents.FromConfig(cfg, nil, nil, nil)
	require.NoError(t, err, "Vertex AI in the project")

	cfg = base
	cfg.AgentPrices = "gemini-2.5-flash=0.1234567:1"
	_, err = agents.FromConfig(cfg, nil, nil, nil)
	require.ErrorContains(t, err, "at most 6 decimals")
}

// TestFromConfigRefusesAnUnpricedPaidModel: a paid provider's configured model with no
// price would cost 0, and the budget would never stop it.
func TestFromConfigRefusesAnUnpricedPaidModel(t *testing.T) {
	base := config.Config{GeminiModel: "gemini-3-ultra", GeminiAPIKey: "key", MCPAgentURL: "https://agents.example/mcp",
		AgentTimeout: 30 * time.Second}

	cfg := base
	cfg.AgentProviders = "ap_extract=gemini"
	_, err := agents.FromConfig(cfg, nil, nil, nil)
	require.ErrorContains(t, err, "AGENT_PRICES")
	require.ErrorContains(t, err, `"gemini-3-ultra"`)

	cfg.AgentProviders = "forecast_narrative=mcp"
	cfg.MCPAgentTools = "forecast_narrative=explain_forecast"
	_, err = agents.FromConfig(cfg, nil, nil, nil)
	require.ErrorContains(t, err, "AGENT_PRICES")
	require.ErrorContains(t, err, `"explain_forecast"`, "an MCP agent is priced by its configured tool")

	for _, prices := range []string{"gemini-3-ultra=1:2,explain_forecast=3:4", "*=1:1"} {
		cfg := base
		cfg.AgentProviders = "ap_extract=gemini,forecast_narrative=mcp"
		cfg.MCPAgentTools = "forecast_narrative=explain_forecast"
		cfg.AgentPrices = prices
		_, err := agents.FromConfig(cfg, nil, nil, nil)
		require.NoError(t, err, prices)
	}

	// The built-in agent is free and needs no price.
	cfg = base
	cfg.AgentProviders = "ap_extract=builtin,ar_collections=builtin,forecast_narrative=builtin"
	_, err = agents.FromConfig(cfg, nil, nil, nil)
	require.NoError(t, err)
}

func TestCost(t *testing.T) {
	p := agents.DefaultPrices
	require.Equal(t, int64(1), p.Cost("gemini-2.5-flash", 1, 0), "a fraction of a micro is a micro")
	require.Zero(t, p.Cost("gemini-2.5-flash", 0, 0))
	require.Zero(t, p.Cost("unknown", 1000, 1000))
	require.Equal(t, int64(10_000_000), p.Cost("gemini-2.5-pro", 0, 1_000_000))
}
