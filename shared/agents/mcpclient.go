package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCPOptions configure the MCP provider.
type MCPOptions struct {
	// URL is the agent server's streamable HTTP endpoint (MCP_AGENT_URL).
	URL string
	// Tools names each agent's tool; an agent not listed calls the tool named after
	// it (ap_extract, ar_collections, forecast_narrative).
	Tools map[Name]string
	// HTTPClient is the client to call with (the default client when nil): where an
	// agent server needs credentials, a client that adds them.
	HTTPClient *http.Client
}

// MCPProvider calls an external agent server's tools over MCP (streamable HTTP): a
// LangGraph or other agent exposed as one tool per agent.
//
// The tool contract: the arguments are the agent's input object (the JSON the
// gateway marshals from APExtractInput, ARCollectionsInput or
// ForecastNarrativeInput), plus, on the repair attempt, a "repair" member
// {"previous_output": "...", "errors": ["..."]}. The result is the output object as
// structured content, or as the JSON text of the first text content. A result with
// isError is the tool refusing the request, which is not retried. Usage may be
// reported in the result's _meta as {"usage": {"input_tokens": n, "output_tokens":
// n}} (prompt_tokens and completion_tokens are read too), and the model that answered
// as {"model": "..."}, which is shown on the attempt's span only: the run records and
// is priced by the configured tool (Model), which AGENT_PRICES must price, so that a
// server cannot make its calls cheap by naming a cheap model.
type MCPProvider struct {
	opts   MCPOptions
	http   *http.Client
	client *mcp.Client
}

// NewMCP returns the provider; it does no I/O.
func NewMCP(o MCPOptions) *MCPProvider {
	return &MCPProvider{opts: o, http: recordingClient(o.HTTPClient),
		client: mcp.NewClient(&mcp.Implementation{Name: "ledgerline", Version: "1"}, nil)}
}

// Name is mcp.
func (*MCPProvider) Name() string { return MCP }

// Model is the tool that serves agent: what runs record and AGENT_PRICES prices.
func (m *MCPProvider) Model(agent Name) string { return m.tool(agent) }

func (m *MCPProvider) tool(agent Name) string {
	if t := m.opts.Tools[agent]; t != "" {
		return t
	}
	return string(agent)
}

// Call connects a session, calls the agent's tool once and closes the session. A
// session per call keeps nothing to go stale between runs; its handshake is one
// round trip beside a model's seconds.
func (m *MCPProvider) Call(ctx context.Context, c Call) (Reply, error) {
	args := map[string]any{}
	if err := json.Unmarshal(c.Input, &args); err != nil {
		return Reply{}, fmt.Errorf("mcp: input is not an object: %w", err)
	}
	if c.Repair != nil {
		args["repair"] = c.Repair
	}
	ctx, x := withExchange(ctx)
	transport := &mcp.StreamableClientTransport{Endpoint: m.opts.URL, HTTPClient: m.http,
		// The gateway retries; no stream is needed beyond each call's response.
		MaxRetries: -1, DisableStandaloneSSE: true}
	session, err := m.client.Connect(ctx, transport, nil)
	if err != nil {
		return Reply{}, mcpError(ctx, "connect", err, x)
	}
	defer func() { _ = session.Close() }()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: m.tool(c.Agent), Arguments: args})
	if err != nil {
		return Reply{}, mcpError(ctx, "call "+m.tool(c.Agent), err, x)
	}
	reply := Reply{}
	reply.TokensIn, reply.TokensOut, reply.Model = usageFromMeta(res.Meta)
	if res.IsError {
		return Reply{}, &ProviderError{Provider: MCP, Message: "tool error: " + clip(firstText(res), 500),
			TokensIn: reply.TokensIn, TokensOut: reply.TokensOut}
	}
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return Reply{}, fmt.Errorf("mcp: structured content: %w", err)
		}
		reply.Output = b
		return reply, nil
	}
	reply.Output = []byte(firstText(res))
	return reply, nil
}

func firstText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			return t.Text
		}
	}
	return ""
}

// mcpError classifies a failure: a throttled or failing server (429, 5xx) and a lost
// connection are retried; a protocol error (an unknown tool, invalid arguments) is
// not.
func mcpError(ctx context.Context, op string, err error, x *exchange) error {
	if ctx.Err() != nil {
		return err
	}
	status, retryAfter := x.get()
	if status != 0 && statusRetryable(status) {
		return &ProviderError{Provider: MCP, Status: status, Retryable: true,
			RetryAfter: parseRetryAfter(retryAfter, time.Now()), Message: op, Err: err}
	}
	if status == 0 && transient(err) {
		return err
	}
	return &ProviderError{Provider: MCP, Status: status, Message: op, Err: err}
}

// usageFromMeta reads tokens and the model from a result's _meta.
func usageFromMeta(meta mcp.Meta) (in, out int64, model string) {
	if meta == nil {
		return 0, 0, ""
	}
	model, _ = meta["model"].(string)
	usage, _ := meta["usage"].(map[string]any)
	if usage == nil {
		usage = meta
	}
	num := func(keys ...string) int64 {
		for _, k := range keys {
			switch v := usage[k].(type) {
			case float64:
				if v >= 0 && v < 1e15 {
					return int64(v)
				}
			case json.Number:
				if n, err := v.Int64(); err == nil && n >= 0 {
					return n
				}
			}
		}
		return 0
	}
	in = num("input_tokens", "prompt_tokens", "tokens_in")
	out = num("output_tokens", "completion_tokens", "tokens_out")
	if len(model) > 200 || strings.TrimSpace(model) == "" {
		model = ""
	}
	return in, out, model
}
