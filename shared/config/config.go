// Package config is the one description of what a Ledgerline function reads from its
// environment. The struct is the contract with Terraform: every variable Terraform sets
// is a field here and every required field is set by Terraform. Nothing else in the
// code reads environment variables.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ledgerline/ledgerline/shared/auth"
)

// Config is read once per instance, on first use.
type Config struct {
	// ProjectID is the Google Cloud project: trace correlation in logs and the Pub/Sub client.
	ProjectID string `env:"GOOGLE_CLOUD_PROJECT"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL, default=info"`

	// DatabaseURL is a libpq/pgx connection string; used when InstanceConnectionName is empty
	// (local development and tests).
	DatabaseURL string `env:"DATABASE_URL"`
	// InstanceConnectionName (project:region:instance) selects the Cloud SQL Go connector
	// with IAM database authentication.
	InstanceConnectionName string `env:"INSTANCE_CONNECTION_NAME"`
	// DBUser is the IAM database user (the service account e-mail without
	// ".gserviceaccount.com"), with the connector.
	DBUser string `env:"DB_USER"`
	// DBName is the database name, with the connector.
	DBName string `env:"DB_NAME, default=ledgerline"`
	// DBPrivateIP makes the connector dial the instance's private IP.
	DBPrivateIP bool `env:"DB_PRIVATE_IP, default=false"`
	// DBMaxConns is this instance's pool size. Cloud SQL connections are budgeted as
	// max instances × DBMaxConns in Terraform, so keep it small.
	DBMaxConns int32 `env:"DB_MAX_CONNS, default=4"`

	// RedisURL (redis://host:port, or rediss:// with TLS; Memorystore in production) is
	// the cache every instance shares for tenant settings and feature flags. Optional:
	// without it each instance caches in its own memory, and changes reach the other
	// instances when their entries expire. An unreachable Redis only slows reads down to
	// the database's pace.
	RedisURL string `env:"REDIS_URL"`

	// EventsTopic is the Pub/Sub topic domain events are published to.
	EventsTopic string `env:"EVENTS_TOPIC, default=ledgerline-events"`

	// AuthIssuer is Ledgerline's own issuer: the iss of the tokens its token endpoint
	// signs (and, locally, of development tokens). AuthAudience is the aud every token
	// must carry.
	AuthIssuer   string `env:"AUTH_ISSUER"`
	AuthAudience string `env:"AUTH_AUDIENCE, default=ledgerline"`
	// AuthJWKSURL and AuthJWKSIssuer trust one external issuer for every tenant: tokens
	// with iss AUTH_JWKS_ISSUER signed by a key published at AUTH_JWKS_URL. Optional;
	// issuers a tenant trusts for itself are configured through the API instead.
	AuthJWKSURL    string `env:"AUTH_JWKS_URL"`
	AuthJWKSIssuer string `env:"AUTH_JWKS_ISSUER"`
	// AuthForwardedHeader reads callers' tokens from X-Forwarded-Authorization: set only
	// when the functions are internal and reached through the API gateway, which puts
	// its own identity token in Authorization.
	AuthForwardedHeader bool `env:"AUTH_FORWARDED_HEADER, default=false"`
	// AuthDevKeyFile is the PEM file of the local development issuer's key, which then
	// signs the token endpoint's tokens too; never set in production.
	AuthDevKeyFile string `env:"AUTH_DEV_KEY_FILE"`
	// TokenSigningKeys are the token endpoint's signing keys, a PEM bundle of private
	// keys (ECDSA P-256 or RSA), from Secret Manager. The first signs; the others are
	// still accepted and published at /.well-known/jwks.json. To rotate: add the new key
	// after the current one and wait out the JWKS cache (5 minutes) and the rollout; move
	// it first; remove the old one once TOKEN_TTL has passed.
	TokenSigningKeys string `env:"TOKEN_SIGNING_KEYS"`
	// TokenJWKSURL is where Ledgerline's own key set is published (the JWKS function's
	// URL, path included). Functions without TOKEN_SIGNING_KEYS, which only the token
	// endpoint and the key set need, verify Ledgerline's tokens against it, so the
	// private keys stay with those two.
	TokenJWKSURL string `env:"TOKEN_JWKS_URL"`
	// TokenTTL is the lifetime of the access tokens the token endpoint signs
	// (DefaultTokenTTL when zero in a configuration built by hand).
	TokenTTL time.Duration `env:"TOKEN_TTL, default=15m"`

	// TraceExporter is where spans go: none, stdout, otlp or cloudtrace.
	TraceExporter string `env:"TRACE_EXPORTER, default=none"`
	// TraceSampleRatio samples new traces; a caller's sampling decision is followed.
	TraceSampleRatio float64 `env:"TRACE_SAMPLE_RATIO, default=0.1"`

	// MaxBodyBytes caps every request body (413 beyond it).
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=1048576"`
	// ImportMaxBytes caps the file an import uploads, instead of MAX_BODY_BYTES (413
	// beyond it), and ImportMaxRows its data rows (413 beyond them). Cloud Run takes
	// HTTP/1 request bodies up to 32 MiB; a gzip-compressed upload counts here
	// uncompressed.
	ImportMaxBytes int64 `env:"IMPORT_MAX_BYTES, default=52428800"`
	ImportMaxRows  int   `env:"IMPORT_MAX_ROWS, default=300000"`
	// PubSubMaxDeliveryAttempts is the processors' subscriptions' dead-letter policy
	// (max_delivery_attempts; the local event bus's is 5): processors that must know a
	// message's last attempt, to record what is given up on, compare with it.
	PubSubMaxDeliveryAttempts int `env:"PUBSUB_MAX_DELIVERY_ATTEMPTS, default=5"`

	// RateLimitPerSecond and RateLimitBurst limit each tenant's requests (429 with
	// Retry-After beyond them): RateLimitPerSecond on average, RateLimitBurst at once.
	// The limit is per instance, so a tenant may get up to the limit times the number of
	// instances serving it. 0 turns the limit off.
	RateLimitPerSecond float64 `env:"RATE_LIMIT_PER_SECOND, default=100"`
	RateLimitBurst     int     `env:"RATE_LIMIT_BURST, default=200"`

	// WebhookSecretKey (32 bytes, standard base64) seals webhook endpoints' signing
	// secrets at rest with AES-256-GCM. Optional here because only the webhook functions
	// use it: they fail with an error naming it when it is missing.
	WebhookSecretKey string `env:"WEBHOOK_SECRET_KEY"`
	// WebhookAllowPrivateTargets lets webhook URLs reach loopback and private addresses:
	// local development and tests only. In production it stays false, so a tenant cannot
	// point deliveries at internal services.
	WebhookAllowPrivateTargets bool `env:"WEBHOOK_ALLOW_PRIVATE_TARGETS, default=false"`
	// IssuerAllowLoopback lets the OIDC issuers tenants trust be http and on loopback
	// (an identity provider on the developer's machine, the tests' fake one): local
	// development and tests only. In production it stays false: issuers and their key
	// sets are https, never on internal addresses.
	IssuerAllowLoopback bool `env:"ISSUER_ALLOW_LOOPBACK, default=false"`

	// AgentProviders says which provider serves each AI agent, as agent=provider pairs
	// separated by commas (ap_extract=gemini,ar_collections=builtin,
	// forecast_narrative=mcp). Providers: builtin (deterministic, offline, free),
	// gemini, mcp. An agent left out is served by builtin, so the default runs every
	// agent offline. Parsed and checked by shared/agents when the gateway is built.
	AgentProviders string `env:"AGENT_PROVIDERS"`
	// AgentTimeout bounds one agent run, retries and the repair attempt included.
	AgentTimeout time.Duration `env:"AGENT_TIMEOUT, default=30s"`
	// AgentCacheTTL is how long an agent's validated output is reused for the same
	// tenant, agent, provider, model, prompt version and input.
	AgentCacheTTL time.Duration `env:"AGENT_CACHE_TTL, default=24h"`
	// AgentPrices are model prices, model=input:output in major units of the tenant's
	// base currency per million tokens, separated by commas
	// (gemini-2.5-flash=0.30:2.50); they add to and override shared/agents'
	// DefaultPrices. A run costs its tokens at its configured model's price (an MCP
	// agent's model is its tool); "*" prices any model not listed. The gateway refuses
	// to start when a gemini or mcp agent's model has no price and there is no "*".
	AgentPrices string `env:"AGENT_PRICES"`
	// GeminiModel is the Gemini model the gemini provider calls.
	GeminiModel string `env:"GEMINI_MODEL, default=gemini-2.5-flash"`
	// GeminiAPIKey (from Secret Manager) calls the Gemini API with a key; empty calls
	// Vertex AI in GOOGLE_CLOUD_PROJECT and VERTEX_LOCATION as the function's service
	// account, which is what production does.
	GeminiAPIKey   string `env:"GEMINI_API_KEY"`
	VertexLocation string `env:"VERTEX_LOCATION, default=us-central1"`
	// MCPAgentURL is the streamable HTTP endpoint of the external agent server the mcp
	// provider calls tools on; MCPAgentTools renames the tool of an agent
	// (agent=tool, separated by commas; by default each tool is named after its agent).
	MCPAgentURL   string `env:"MCP_AGENT_URL"`
	MCPAgentTools string `env:"MCP_AGENT_TOOLS"`
}

// DefaultTokenTTL is TOKEN_TTL's default.
const DefaultTokenTTL = 15 * time.Minute

// Load reads the configuration from the process environment.
func Load(ctx context.Context) (Config, error) {
	return LoadFrom(ctx, envconfig.OsLookuper())
}

// LoadFrom reads the configuration from l; tests pass a map lookuper.
func LoadFrom(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every inconsistency at once, so a misconfigured deploy fails with the
// whole list rather than one variable at a time.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.DatabaseURL == "" && c.InstanceConnectionName == "":
		errs = append(errs, errors.New("one of DATABASE_URL or INSTANCE_CONNECTION_NAME is required"))
	case c.DatabaseURL != "" && c.InstanceConnectionName != "":
		errs = append(errs, errors.New("DATABASE_URL and INSTANCE_CONNECTION_NAME are exclusive"))
	case c.InstanceConnectionName != "" && c.DBUser == "":
		errs = append(errs, errors.New("DB_USER is required with INSTANCE_CONNECTION_NAME"))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 100 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS must be 1..100, got %d", c.DBMaxConns))
	}
	if c.AuthIssuer == "" {
		errs = append(errs, errors.New("AUTH_ISSUER is required"))
	}
	if c.AuthAudience == "" {
		errs = append(errs, errors.New("AUTH_AUDIENCE is required"))
	}
	switch {
	case c.TokenSigningKeys == "" && c.AuthDevKeyFile == "" && c.TokenJWKSURL == "":
		errs = append(errs, errors.New("one of TOKEN_SIGNING_KEYS, TOKEN_JWKS_URL or AUTH_DEV_KEY_FILE is required"))
	case c.TokenSigningKeys != "" && c.AuthDevKeyFile != "":
		errs = append(errs, errors.New("TOKEN_SIGNING_KEYS and AUTH_DEV_KEY_FILE are exclusive"))
	case c.TokenSigningKeys != "":
		if _, err := auth.ParseKeySet([]byte(c.TokenSigningKeys)); err != nil {
			errs = append(errs, fmt.Errorf("TOKEN_SIGNING_KEYS: %w", err))
		}
	}
	if c.TokenJWKSURL != "" {
		if u, err := url.Parse(c.TokenJWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, errors.New("TOKEN_JWKS_URL must be an https URL"))
		}
	}
	// Short-lived is the point: a leaked token is useful only until it expires.
	if c.TokenTTL < time.Minute || c.TokenTTL > time.Hour {
		errs = append(errs, fmt.Errorf("TOKEN_TTL must be 1m..1h, got %s", c.TokenTTL))
	}
	switch {
	case (c.AuthJWKSURL == "") != (c.AuthJWKSIssuer == ""):
		errs = append(errs, errors.New("AUTH_JWKS_URL and AUTH_JWKS_ISSUER go together"))
	case c.AuthJWKSIssuer != "" && c.AuthJWKSIssuer == c.AuthIssuer:
		errs = append(errs, errors.New("AUTH_JWKS_ISSUER must differ from AUTH_ISSUER, whose keys are Ledgerline's own"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("MAX_BODY_BYTES must be at least 1024, got %d", c.MaxBodyBytes))
	}
	if c.ImportMaxBytes < 1024 || c.ImportMaxBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("IMPORT_MAX_BYTES must be 1024..1073741824, got %d", c.ImportMaxBytes))
	}
	if c.ImportMaxRows < 1 || c.ImportMaxRows > 5_000_000 {
		errs = append(errs, fmt.Errorf("IMPORT_MAX_ROWS must be 1..5000000, got %d", c.ImportMaxRows))
	}
	if c.PubSubMaxDeliveryAttempts < 5 || c.PubSubMaxDeliveryAttempts > 100 {
		errs = append(errs, fmt.Errorf("PUBSUB_MAX_DELIVERY_ATTEMPTS must be 5..100 (Pub/Sub's range), got %d", c.PubSubMaxDeliveryAttempts))
	}
	// Written to be false for NaN too.
	if !(c.RateLimitPerSecond >= 0 && c.RateLimitPerSecond <= 1e6) {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_PER_SECOND must be 0 (off) to 1000000, got %v", c.RateLimitPerSecond))
	}
	if c.RateLimitPerSecond > 0 && (c.RateLimitBurst < 1 || c.RateLimitBurst > 1e6) {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_BURST must be 1..1000000 when RATE_LIMIT_PER_SECOND is set, got %d", c.RateLimitBurst))
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			errs = append(errs, errors.New("REDIS_URL must be redis://host:port or rediss://host:port"))
		}
	}
	if c.WebhookSecretKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.WebhookSecretKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("WEBHOOK_SECRET_KEY must be 32 bytes in standard base64"))
		}
	}
	if c.AgentTimeout < time.Second || c.AgentTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("AGENT_TIMEOUT must be 1s..10m, got %s", c.AgentTimeout))
	}
	if c.AgentCacheTTL < 0 || c.AgentCacheTTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("AGENT_CACHE_TTL must be 0 (off) to 720h, got %s", c.AgentCacheTTL))
	}
	if c.MCPAgentURL != "" {
		if u, err := url.Parse(c.MCPAgentURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("MCP_AGENT_URL must be an http(s) URL"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
