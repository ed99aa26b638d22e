// Package platform wires Ledgerline's functions to the outside: the per-instance
// dependencies (config, pool, verifier, logger, clock), built lazily on first use and
// rebuilt after a failed build; the registration of each function with
// functions-framework-go under its manifest entry point; and the middleware every HTTP
// function shares (request id, logging, recovery, routing, authentication, per-tenant
// rate limit, authorisation, body limit, contract validation, idempotency). init() of
// a function package only registers: nothing here does I/O until a request arrives.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/apiclients"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/issuers"
	"github.com/ledgerline/ledgerline/shared/logging"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

// Authenticator turns a request's credentials into a principal.
type Authenticator interface {
	Authenticate(r *http.Request) (auth.Principal, error)
}

// Deps are one instance's dependencies, shared by every request it serves.
type Deps struct {
	Config config.Config
	DB     *db.DB
	Auth   Authenticator
	Logger *slog.Logger
	Now    func() time.Time
	// Publisher sends domain events to the events topic; nil when the function is not
	// configured to publish (no project), in which case the sweeper relays its events.
	Publisher events.Publisher
	// RawPublisher publishes prepared messages to any topic (dead-letter replay); nil
	// without a project, like Publisher.
	RawPublisher events.RawPublisher
	// Failures records the error of every message a processor gives back for
	// redelivery; nil records nothing.
	Failures FailureRecorder
	// Issuer is Ledgerline's own token issuer: the token endpoint signs with it and the
	// JWKS endpoint publishes its keys; nil where no signing key is configured.
	Issuer *auth.Issuer
	// RateLimit is the per-tenant request limit of this instance (RATE_LIMIT_PER_SECOND,
	// RATE_LIMIT_BURST); nil limits nothing.
	RateLimit *RateLimiter
	// Cache is the instance's cache (tenant settings, feature flags): Redis, shared by
	// every instance, when REDIS_URL is set, else this instance's memory. nil (tests)
	// makes those reads go to the database every time.
	Cache cache.Cache
	// Agents is the AI agent gateway (AGENT_PROVIDERS and the provider variables):
	// the built-in agent for every agent not configured otherwise. nil (tests that do
	// not set it) means no gateway: flows that use agents go on without them.
	Agents agents.Gateway
	// RoleDBs are pools for the other database roles of the manifest (relay, ops, readonly) when
	// one process serves functions of several roles: the dev server and tests. In
	// production each function has its own identity and DB is already its role's.
	RoleDBs map[string]*db.DB
}

// forFunction returns the dependencies fn runs with: DB switched to fn's role's pool
// when the process holds one.
func (d *Deps) forFunction(role string) *Deps {
	pool, ok := d.RoleDBs[role]
	if !ok || role == "app" {
		return d
	}
	c := *d
	c.DB = pool
	return &c
}

// Build creates the dependencies cfg describes.
func Build(ctx context.Context, cfg config.Config) (*Deps, error) {
	level, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	logger := logging.New(os.Stdout, level, cfg.ProjectID)
	// Spans go nowhere until an exporter is configured; the shutdown is not kept because
	// an instance is stopped without notice, and the batcher exports as it goes.
	if _, err := tracing.Setup(ctx, cfg.TraceExporter, cfg.TraceSampleRatio, "ledgerline"); err != nil {
		return nil, err
	}
	issuer, err := BuildIssuer(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &Deps{Config: cfg, DB: pool, Issuer: issuer, Logger: logger, Now: time.Now,
		Failures:  &deadletters.FailureLog{DB: pool},
		RateLimit: NewRateLimiter(cfg.RateLimitPerSecond, cfg.RateLimitBurst, time.Now)}
	d.Cache = cache.NewMemory(cache.DefaultMemoryEntries)
	if cfg.RedisURL != "" {
		// Like the Pub/Sub client, it connects on first use.
		r, err := cache.NewRedis(cfg.RedisURL)
		if err != nil {
			pool.Close()
			return nil, err
		}
		d.Cache = r
	}
	if d.Auth, err = NewAuthenticator(ctx, cfg, issuer, pool, d.Cache); err != nil {
		pool.Close()
		return nil, err
	}
	// Providers connect on their first call; building the gateway does no I/O.
	gw, err := agents.FromConfig(cfg, pool, d.Cache, d.Now)
	if err != nil {
		pool.Close()
		return nil, err
	}
	d.Agents = gw
	if cfg.ProjectID != "" && cfg.EventsTopic != "" {
		// The client connects lazily; creating it does no network I/O.
		client, err := pubsub.NewClient(ctx, cfg.ProjectID)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("platform: pubsub: %w", err)
		}
		d.Publisher = events.NewPubSubPublisher(client, cfg.EventsTopic)
		d.RawPublisher = events.NewPubSubRawPublisher(client)
	}
	return d, nil
}

// BuildIssuer is Ledgerline's own token issuer: its keys are TOKEN_SIGNING_KEYS in
// production and the development key locally, so `ledgerline token` and the token
// endpoint sign as one issuer, AUTH_ISSUER. It is nil for a function given neither:
// such a function verifies Ledgerline's tokens against the published key set and
// issues none.
func BuildIssuer(cfg config.Config) (*auth.Issuer, error) {
	var keys *auth.KeySet
	switch {
	case cfg.TokenSigningKeys != "":
		var err error
		if keys, err = auth.ParseKeySet([]byte(cfg.TokenSigningKeys)); err != nil {
			return nil, fmt.Errorf("platform: %w", err)
		}
	case cfg.AuthDevKeyFile != "":
		dev, err := auth.LoadOrCreateDevIssuer(cfg.AuthDevKeyFile, cfg.AuthIssuer, cfg.AuthAudience)
		if err != nil {
			return nil, err
		}
		keys = dev.KeySet()
	default:
		return nil, nil
	}
	ttl := cfg.TokenTTL
	if ttl == 0 {
		ttl = config.DefaultTokenTTL
	}
	iss, err := auth.NewIssuer(cfg.AuthIssuer, cfg.AuthAudience, keys, ttl)
	if err != nil {
		return nil, fmt.Errorf("platform: %w", err)
	}
	return iss, nil
}

// OwnAuthenticator authenticates every token issuer signs, whatever actor it claims
// (the development issuer's users and operators included), and refuses those of API
// clients deleted since they were issued. NewAuthenticator builds on it for the
// development issuer and narrows it for production keys (auth.ClientTokensOnly); tests
// start from it alone.
func OwnAuthenticator(issuer *auth.Issuer, pool *db.DB) *auth.Authenticator {
	return ownAuthenticator(issuer.Name, issuer.Verifier(), pool)
}

func ownAuthenticator(name string, own auth.TokenVerifier, pool *db.DB) *auth.Authenticator {
	clients := &apiclients.Service{DB: pool}
	return &auth.Authenticator{
		Issuers: map[string]auth.TokenVerifier{name: own},
		Checks:  []auth.PrincipalCheck{clients.RefuseDeletedClients(name)},
	}
}

// NewAuthenticator is how every function authenticates its callers. Each token goes to
// the verifier of its iss: Ledgerline's own tokens to issuer's keys (the current and
// previous ones, kid and algorithm pinned) or, in a function that holds no signing key,
// to the key set published at TOKEN_JWKS_URL; the external issuer of AUTH_JWKS_URL to
// its published keys when one is configured. Outside development, Ledgerline's own
// tokens are accepted only as the token endpoint issues them: an API client's, without
// platform_admin. A token of an API client deleted since it was issued is refused. Key
// sets are fetched through c (cache.Documents), so instances share them; c may be nil.
func NewAuthenticator(ctx context.Context, cfg config.Config, issuer *auth.Issuer, pool *db.DB, c cache.Cache) (*auth.Authenticator, error) {
	fetch := keyfunc.Override{Client: &http.Client{Timeout: 10 * time.Second, Transport: cache.Documents{Cache: c}}}
	var a *auth.Authenticator
	switch {
	case issuer != nil && cfg.TokenSigningKeys == "" && cfg.AuthDevKeyFile != "":
		// The development issuer (BuildIssuer): it signs users' and platform operators'
		// tokens too (`ledgerline token`).
		a = OwnAuthenticator(issuer, pool)
	case issuer != nil:
		// TOKEN_SIGNING_KEYS: only the token endpoint signs, and only API clients' tokens.
		a = ownAuthenticator(issuer.Name, auth.ClientTokensOnly(issuer.Verifier()), pool)
	case cfg.TokenJWKSURL != "" && cfg.AuthIssuer != "":
		// Fetched in the background, refreshed hourly and when a token names a kid the
		// set lacks (rate-limited), so a rotation's new key is picked up by itself. Each
		// published key names its algorithm, which the token's must equal.
		kf, err := keyfunc.NewDefaultOverrideCtx(context.WithoutCancel(ctx), []string{cfg.TokenJWKSURL}, fetch)
		if err != nil {
			return nil, fmt.Errorf("platform: own jwks: %w", err)
		}
		algs := []string{jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg()}
		// The published keys are the token endpoint's, which signs API clients' tokens only.
		a = ownAuthenticator(cfg.AuthIssuer, auth.ClientTokensOnly(auth.NewVerifier(cfg.AuthIssuer, cfg.AuthAudience, algs, kf.Keyfunc, nil)), pool)
	default:
		return nil, errors.New("platform: Ledgerline's own tokens need TOKEN_SIGNING_KEYS, TOKEN_JWKS_URL or AUTH_DEV_KEY_FILE")
	}
	// Any other iss: the OIDC issuers tenants trust (POST /v1/tenant/issuers).
	a.External = issuers.NewVerifier(pool, issuers.Options{AllowLoopback: cfg.IssuerAllowLoopback, Cache: c})
	a.Forwarded = cfg.AuthForwardedHeader
	if cfg.AuthJWKSURL != "" {
		// An empty iss would match tokens without one; Ledgerline's own would lose its keys.
		if cfg.AuthJWKSIssuer == "" || cfg.AuthJWKSIssuer == cfg.AuthIssuer {
			return nil, errors.New("platform: AUTH_JWKS_URL needs its own AUTH_JWKS_ISSUER, other than AUTH_ISSUER")
		}
		// The key set is fetched in the background and refreshed on rotation; the
		// context must outlive this request, so it is the instance's lifetime.
		kf, err := keyfunc.NewDefaultOverrideCtx(context.WithoutCancel(ctx), []string{cfg.AuthJWKSURL}, fetch)
		if err != nil {
			return nil, fmt.Errorf("platform: jwks: %w", err)
		}
		algs := []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
		a.Issuers[cfg.AuthJWKSIssuer] = auth.NewVerifier(cfg.AuthJWKSIssuer, cfg.AuthAudience, algs, kf.Keyfunc, nil)
	}
	return a, nil
}

// lazyDeps builds the instance's dependencies on first use. Unlike a bare sync.Once, a
// failed build is not remembered: the next request tries again, so an instance that
// started while the database was unreachable recovers by itself.
type lazyDeps struct {
	mu    sync.Mutex
	deps  *Deps
	build func(context.Context) (*Deps, error)
}

func (l *lazyDeps) get(ctx context.Context) (*Deps, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.deps != nil {
		return l.deps, nil
	}
	d, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.deps = d
	return d, nil
}

var instance = &lazyDeps{build: func(ctx context.Context) (*Deps, error) {
	cfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	d, err := Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(d.Logger)
	return d, nil
}}
