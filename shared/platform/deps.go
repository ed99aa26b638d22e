// Package platform wires Ledgerline's functions to the outside: the per-instance
// dependencies (config, pool, verifier, logger, clock), built lazily on first use and
// rebuilt after a failed build; the registration of each function with
// functions-framework-go under its manifest entry point; and the middleware every HTTP
// function shares (request id, logging, recovery, routing, authentication,
// authorisation, body limit, contract validation, idempotency). init() of a function
// package only registers: nothing here does I/O until a request arrives.
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/events"
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
	// RoleDBs are pools for the other database roles of the manifest (relay, ops) when
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
	verifier, err := buildVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &Deps{Config: cfg, DB: pool, Auth: verifier, Logger: logger, Now: time.Now,
		Failures: &deadletters.FailureLog{DB: pool}}
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

func buildVerifier(ctx context.Context, cfg config.Config) (*auth.Verifier, error) {
	if cfg.AuthDevKeyFile != "" {
		iss, err := auth.LoadOrCreateDevIssuer(cfg.AuthDevKeyFile, cfg.AuthIssuer, cfg.AuthAudience)
		if err != nil {
			return nil, err
		}
		return iss.Verifier(), nil
	}
	// The key set is fetched in the background and refreshed on rotation; the context
	// must outlive this request, so it is the instance's lifetime.
	kf, err := keyfunc.NewDefaultCtx(context.WithoutCancel(ctx), []string{cfg.AuthJWKSURL})
	if err != nil {
		return nil, fmt.Errorf("platform: jwks: %w", err)
	}
	algs := []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
	return auth.NewVerifier(cfg.AuthIssuer, cfg.AuthAudience, algs, kf.Keyfunc, nil), nil
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
