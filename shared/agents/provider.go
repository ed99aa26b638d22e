package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Provider names: who answers an agent's call.
const (
	// Builtin is the deterministic agent in this package: rules and templates, no
	// network, no cost. It serves every agent no provider is configured for.
	Builtin = "builtin"
	// Gemini is Google's Gemini, through Vertex AI in production.
	Gemini = "gemini"
	// MCP is an external agent server whose tools are called over MCP.
	MCP = "mcp"
)

// Provider answers agents' calls: a model behind an API, an agent server, or the
// built-in rules. It makes one attempt per Call; the gateway retries, validates,
// repairs, caches and meters around it.
type Provider interface {
	// Name is the provider's name as runs record it: builtin, gemini or mcp.
	Name() string
	// Model is the model (or tool) that serves agent, as runs record it and as the
	// price table and the cache key know it.
	Model(agent Name) string
	// Call makes one attempt. A failure worth retrying is a *ProviderError with
	// Retryable set (or a transport error, which the gateway retries too); any other
	// error ends the run.
	Call(ctx context.Context, c Call) (Reply, error)
}

// Call is one request to a provider.
type Call struct {
	Agent         Name
	Model         string
	PromptVersion string
	// System is the agent's instructions.
	System string
	// Input is the agent's input as canonical JSON (an object).
	Input json.RawMessage
	// Schema is the JSON schema (the OpenAPI 3.0 subset) the output must satisfy.
	Schema json.RawMessage
	// Repair, when set, asks for a corrected output: the provider's previous output
	// and what was wrong with it.
	Repair *Repair
}

// Repair is what a repair attempt sends back.
type Repair struct {
	Output string   `json:"previous_output"`
	Errors []string `json:"errors"`
}

// Reply is a provider's answer: the output as JSON text and the tokens it took.
type Reply struct {
	Output    []byte
	TokensIn  int64
	TokensOut int64
	// Model is the model that answered when the provider reports one (an agent
	// server's _meta), for display only (the attempt's span): runs record, cache and
	// are priced by the configured Provider.Model, never by what a remote server says.
	Model string
}

// ProviderError is a provider's failure as the gateway classifies it.
type ProviderError struct {
	Provider string
	// Status is the HTTP status the provider answered with, 0 when none.
	Status int
	// Retryable failures (429, 5xx, timeouts, lost connections) are tried again
	// within the run's deadline; the others end the run.
	Retryable bool
	// RetryAfter is how long the provider asked to wait (Retry-After), 0 when it did
	// not say.
	RetryAfter time.Duration
	Message    string
	Err        error
	// TokensIn and TokensOut are what the failed attempt consumed all the same (a
	// response the provider blocked), which the run is charged for.
	TokensIn, TokensOut int64
}

func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ProviderError) Unwrap() error { return e.Err }

// statusRetryable says whether an HTTP status is worth another attempt: throttling,
// a timeout on the way, or the server's own failure. Other 4xx are the request's
// fault and would fail the same way again.
func statusRetryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// transient reports whether err is a transport failure worth another attempt: a
// refused or reset connection, a network timeout, an unexpected EOF.
func transient(err error) bool {
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	case errors.As(err, &urlErr):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// exchange is what the HTTP transport saw of a provider's last response, for the
// errors the client libraries return without their headers (Retry-After).
type exchange struct {
	mu         sync.Mutex
	status     int
	retryAfter string
}

func (x *exchange) get() (int, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.retryAfter
}

type exchangeKey struct{}

// withExchange returns ctx carrying a fresh exchange for the requests made with it.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

// recordingTransport notes each response's status and Retry-After in the exchange
// of the request's context.
type recordingTransport struct{ next http.RoundTripper }

func (t recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if x, ok := r.Context().Value(exchangeKey{}).(*exchange); ok && resp != nil {
		x.mu.Lock()
		x.status, x.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
		x.mu.Unlock()
	}
	return resp, err
}

// recordingClient returns a copy of c (a new client when nil) whose transport records
// responses in their request's exchange.
func recordingClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	cp := *c
	cp.Transport = recordingTransport{next: c.Transport}
	return &cp
}
