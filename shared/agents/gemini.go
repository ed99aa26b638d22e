package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genai"
)

// GeminiOptions configure the Gemini provider.
type GeminiOptions struct {
	// Model is the model every agent calls (GEMINI_MODEL).
	Model string
	// APIKey calls the Gemini API; empty calls Vertex AI in Project and Location with
	// the instance's service account (Application Default Credentials).
	APIKey            string
	Project, Location string
	// BaseURL replaces Google's endpoint (tests, a proxy).
	BaseURL string
	// HTTPClient is the client to call with (the default client when nil); with
	// Vertex AI it must authenticate itself.
	HTTPClient *http.Client
}

// GeminiProvider calls Gemini's generateContent with the agent's instructions as the
// system instruction, the input as the user turn, and the agent's schema as the
// response schema (JSON mode), at temperature 0. The client is built on the first
// call, so an instance that serves no agent never looks for credentials; a failed
// build is retried on the next call.
type GeminiProvider struct {
	opts GeminiOptions

	mu     sync.Mutex
	client *genai.Client
}

// NewGemini returns the provider; it does no I/O.
func NewGemini(o GeminiOptions) *GeminiProvider { return &GeminiProvider{opts: o} }

// Name is gemini.
func (*GeminiProvider) Name() string { return Gemini }

// Model is the configured model, for every agent.
func (g *GeminiProvider) Model(Name) string { return g.opts.Model }

func (g *GeminiProvider) genai(ctx context.Context) (*genai.Client, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client != nil {
		return g.client, nil
	}
	cc := &genai.ClientConfig{HTTPOptions: genai.HTTPOptions{BaseURL: g.opts.BaseURL}}
	base := g.opts.HTTPClient
	if g.opts.APIKey != "" {
		cc.Backend, cc.APIKey = genai.BackendGeminiAPI, g.opts.APIKey
	} else {
		cc.Backend, cc.Project, cc.Location = genai.BackendVertexAI, g.opts.Project, g.opts.Location
		if base == nil {
			creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}})
			if err != nil {
				return nil, fmt.Errorf("gemini: vertex ai credentials: %w", err)
			}
			if base, err = httptransport.NewClient(&httptransport.Options{Credentials: creds}); err != nil {
				return nil, fmt.Errorf("gemini: vertex ai client: %w", err)
			}
		}
	}
	// The gateway retries (it knows the run's deadline and budget); the client's own
	// retries stay off, and the transport keeps each response's Retry-After, which the
	// client's errors leave out.
	cc.HTTPClient = recordingClient(base)
	c, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("gemini: %w", err)
	}
	g.client = c
	return c, nil
}

// Call makes one generateContent request.
func (g *GeminiProvider) Call(ctx context.Context, c Call) (Reply, error) {
	client, err := g.genai(ctx)
	if err != nil {
		return Reply{}, &ProviderError{Provider: Gemini, Message: "not configured", Err: err}
	}
	var schema openapi3.Schema
	if err := json.Unmarshal(c.Schema, &schema); err != nil {
		return Reply{}, fmt.Errorf("gemini: schema: %w", err)
	}
	contents := []*genai.Content{genai.NewContentFromText("The input, as JSON:\n"+string(c.Input), genai.RoleUser)}
	if c.Repair != nil {
		contents = append(contents,
			genai.NewContentFromText(c.Repair.Output, genai.RoleModel),
			genai.NewContentFromText("That output is invalid:\n- "+strings.Join(c.Repair.Errors, "\n- ")+
				"\nAnswer again with the corrected JSON object only, conforming to the schema.", genai.RoleUser))
	}
	temperature := float32(0)
	config := &genai.GenerateContentConfig{
		SystemInstruction: &genai.Content{Parts: []*genai.Part{{Text: c.System}}},
		Temperature:       &temperature,
		CandidateCount:    1,
		ResponseMIMEType:  "application/json",
		ResponseSchema:    toGenaiSchema(&schema),
	}
	ctx, x := withExchange(ctx)
	resp, err := client.Models.GenerateContent(ctx, c.Model, contents, config)
	if err != nil {
		return Reply{}, geminiError(ctx, err, x)
	}
	var reply Reply
	if u := resp.UsageMetadata; u != nil {
		reply.TokensIn = int64(u.PromptTokenCount) + int64(u.ToolUsePromptTokenCount)
		// Thinking is billed as output.
		reply.TokensOut = int64(u.CandidatesTokenCount) + int64(u.ThoughtsTokenCount)
	}
	text := resp.Text()
	if text == "" {
		pe := &ProviderError{Provider: Gemini, Message: "no output", TokensIn: reply.TokensIn, TokensOut: reply.TokensOut}
		switch {
		case resp.PromptFeedback != nil && resp.PromptFeedback.BlockReason != "":
			pe.Message = "prompt blocked: " + string(resp.PromptFeedback.BlockReason)
		case len(resp.Candidates) > 0 && resp.Candidates[0].FinishReason != "":
			pe.Message = "finished without output: " + string(resp.Candidates[0].FinishReason)
		default:
			// Nothing said why: worth another attempt.
			pe.Retryable = true
		}
		return Reply{}, pe
	}
	reply.Output = []byte(text)
	return reply, nil
}

// geminiError classifies a failed request: the API's status, and the wait the
// response asked for (its Retry-After header, or the RetryInfo detail Google APIs
// send with a 429).
func geminiError(ctx context.Context, err error, x *exchange) error {
	if ctx.Err() != nil {
		return err
	}
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		if transient(err) {
			return err
		}
		return &ProviderError{Provider: Gemini, Message: "request failed", Err: err}
	}
	status, retryAfter := x.get()
	if status == 0 {
		status = apiErr.Code
	}
	wait := parseRetryAfter(retryAfter, time.Now())
	if wait == 0 {
		wait = retryInfoDelay(apiErr.Details)
	}
	return &ProviderError{Provider: Gemini, Status: status, Retryable: statusRetryable(status), RetryAfter: wait,
		Message: strings.TrimSpace(apiErr.Status + " " + clip(apiErr.Message, 500))}
}

// retryInfoDelay reads google.rpc.RetryInfo's retryDelay ("30s") from error details.
func retryInfoDelay(details []map[string]any) time.Duration {
	for _, d := range details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		if s, ok := d["retryDelay"].(string); ok {
			if v, err := time.ParseDuration(s); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

// toGenaiSchema converts an agent's schema to Gemini's response schema (its OpenAPI
// 3.0 subset; additionalProperties has no equivalent and is left to validation).
func toGenaiSchema(s *openapi3.Schema) *genai.Schema {
	if s == nil {
		return nil
	}
	out := &genai.Schema{Description: s.Description, Pattern: s.Pattern, Format: s.Format, Required: s.Required}
	if s.Type != nil && len(*s.Type) > 0 {
		out.Type = genai.Type(strings.ToUpper((*s.Type)[0]))
	}
	if s.Nullable {
		t := true
		out.Nullable = &t
	}
	for _, e := range s.Enum {
		out.Enum = append(out.Enum, fmt.Sprint(e))
	}
	out.Minimum, out.Maximum = s.Min, s.Max
	if s.MinLength > 0 {
		v := int64(s.MinLength)
		out.MinLength = &v
	}
	if s.MaxLength != nil {
		v := int64(*s.MaxLength)
		out.MaxLength = &v
	}
	if s.MinItems > 0 {
		v := int64(s.MinItems)
		out.MinItems = &v
	}
	if s.MaxItems != nil {
		v := int64(*s.MaxItems)
		out.MaxItems = &v
	}
	if s.Items != nil {
		out.Items = toGenaiSchema(s.Items.Value)
	}
	if len(s.Properties) > 0 {
		out.Properties = map[string]*genai.Schema{}
		for name, p := range s.Properties {
			out.Properties[name] = toGenaiSchema(p.Value)
		}
		// Gemini writes properties in this order: the schema's required order.
		out.PropertyOrdering = append([]string(nil), s.Required...)
	}
	return out
}
