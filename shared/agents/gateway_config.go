package agents

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// FromConfig builds the gateway a deployment describes (AGENT_PROVIDERS and the
// provider variables of shared/config). It does no I/O: a provider connects on its
// first call.
func FromConfig(cfg config.Config, pool *db.DB, c cache.Cache, now func() time.Time) (*Service, error) {
	choice, err := ParseAssignments("AGENT_PROVIDERS", cfg.AgentProviders)
	if err != nil {
		return nil, err
	}
	tools, err := ParseAssignments("MCP_AGENT_TOOLS", cfg.MCPAgentTools)
	if err != nil {
		return nil, err
	}
	prices, err := ParsePrices(cfg.AgentPrices)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	s := &Service{
		DB: pool, Cache: c, CacheTTL: cfg.AgentCacheTTL, Prices: prices, Timeout: cfg.AgentTimeout, Now: now,
		Settings:  &settings.Service{DB: pool, Cache: c, Now: now},
		Features:  &features.Service{DB: pool, Cache: c, Now: now},
		Providers: map[Name]Provider{},
	}
	var gemini *GeminiProvider
	var mcpProvider *MCPProvider
	var errs []error
	for agent, provider := range choice {
		switch provider {
		case Builtin:
			s.Providers[agent] = BuiltinProvider{}
		case Gemini:
			if cfg.GeminiModel == "" {
				errs = append(errs, errors.New("GEMINI_MODEL is required when an agent uses gemini"))
				continue
			}
			if cfg.GeminiAPIKey == "" && cfg.ProjectID == "" {
				errs = append(errs, errors.New("gemini needs GEMINI_API_KEY, or GOOGLE_CLOUD_PROJECT for Vertex AI"))
				continue
			}
			if gemini == nil {
				gemini = NewGemini(GeminiOptions{Model: cfg.GeminiModel, APIKey: cfg.GeminiAPIKey,
					Project: cfg.ProjectID, Location: cfg.VertexLocation})
			}
			s.Providers[agent] = gemini
		case MCP:
			if cfg.MCPAgentURL == "" {
				errs = append(errs, errors.New("MCP_AGENT_URL is required when an agent uses mcp"))
				continue
			}
			if mcpProvider == nil {
				mcpProvider = NewMCP(MCPOptions{URL: cfg.MCPAgentURL, Tools: tools})
			}
			s.Providers[agent] = mcpProvider
		default:
			errs = append(errs, fmt.Errorf("AGENT_PROVIDERS: %s: unknown provider %q (builtin, gemini, mcp)", agent, provider))
		}
	}
	errs = append(errs, unpriced(s.Providers, prices)...)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	return s, nil
}

// unpriced refuses a paid provider's model that prices has no price for, when there is
// no "*" price either: its runs would cost 0 and no budget would ever stop them. The
// built-in provider is free.
func unpriced(providers map[Name]Provider, prices Prices) []error {
	var errs []error
	for _, agent := range Names() {
		p := providers[agent]
		if p == nil || p.Name() == Builtin {
			continue
		}
		if _, ok := prices.price(p.Model(agent)); !ok {
			errs = append(errs, fmt.Errorf(
				"AGENT_PRICES: %s uses %s model %q, which has no price (and there is no \"*\" price); add %s=input:output so its runs count against the budget",
				agent, p.Name(), p.Model(agent), p.Model(agent)))
		}
	}
	return errs
}

// ParseAssignments reads agent=value pairs separated by commas, each agent at most
// once; variable names the setting in errors.
func ParseAssignments(variable, s string) (map[Name]string, error) {
	out := map[Name]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		agent, value := Name(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch {
		case !ok || value == "":
			return nil, fmt.Errorf("agents: %s: %q is not agent=value", variable, pair)
		case !ValidName(agent):
			return nil, fmt.Errorf("agents: %s: unknown agent %q (ap_extract, ar_collections, forecast_narrative)", variable, agent)
		case out[agent] != "":
			return nil, fmt.Errorf("agents: %s: %s is given twice", variable, agent)
		}
		out[agent] = value
	}
	return out, nil
}
