package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/google/uuid"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	_ "github.com/ledgerline/ledgerline" // registers every function
	"github.com/ledgerline/ledgerline/shared/agents"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/deadletters"
	"github.com/ledgerline/ledgerline/shared/docs"
	"github.com/ledgerline/ledgerline/shared/eventbus"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/logging"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/pgcluster"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/tenants"
)

const (
	eventsTopic = "ledgerline-events"
	// devTick replaces scheduled processors' cron schedules locally, so swept events and
	// daily work show up within seconds.
	devTick     = 10 * time.Second
	devAudience = "ledgerline"
	devProject  = "ledgerline-dev"
	devDatabase = "ledgerline"
)

// DemoTenant is the tenant the dev server creates and prints a token for.
var DemoTenant = uuid.MustParse("0193a000-0000-7000-8000-000000000001")

// devState tells `ledgerline token` where the running dev server's database is.
type devState struct {
	AdminURL string `json:"admin_url"`
	AppURL   string `json:"app_url"`
	BaseURL  string `json:"base_url"`
	PID      int    `json:"pid"`
}

func devKeyFile() string {
	if v := os.Getenv("AUTH_DEV_KEY_FILE"); v != "" {
		return v
	}
	return auth.DefaultDevKeyFile()
}

// devWebhookKey is WEBHOOK_SECRET_KEY for local runs: the variable when set, else a key
// kept beside the development issuer's, so endpoints in a database that outlives one
// run (DATABASE_URL) can still be signed for in the next.
func devWebhookKey() (string, error) {
	if v := os.Getenv("WEBHOOK_SECRET_KEY"); v != "" {
		return v, nil
	}
	path := filepath.Join(filepath.Dir(devKeyFile()), "webhook-secret.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	key := base64.StdEncoding.EncodeToString(k)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}

func statePath() string { return filepath.Join(filepath.Dir(auth.DefaultDevKeyFile()), "dev.json") }

func readDevState() (devState, error) {
	var st devState
	b, err := os.ReadFile(statePath())
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ExitOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	_ = fs.Parse(args)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	logger := logging.New(os.Stderr, slog.LevelInfo, "")
	slog.SetDefault(logger)

	// PostgreSQL: a throwaway cluster unless DATABASE_URL names a server (as a superuser,
	// so the roles can be created and the database migrated).
	adminURL := os.Getenv("DATABASE_URL")
	database := devDatabase
	if adminURL == "" {
		if _, err := pgcluster.BinDir(); errors.Is(err, pgcluster.ErrNotInstalled) {
			if err := pgcluster.EnsureInstalled(ctx); err != nil {
				return err
			}
		}
		logger.Info("starting a throwaway PostgreSQL cluster")
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			return err
		}
		defer func() {
			logger.Info("removing the throwaway PostgreSQL cluster")
			_ = c.Stop()
		}()
		adminURL = c.DSN("postgres")
	} else if u, err := url.Parse(adminURL); err == nil && strings.Trim(u.Path, "/") != "" {
		database = strings.Trim(u.Path, "/")
	}
	urls, err := dbsetup.Bootstrap(ctx, adminURL, database)
	if err != nil {
		return err
	}
	logger.Info("database migrated", "database", database)
	pool, err := db.OpenURL(ctx, urls.App, 16)
	if err != nil {
		return err
	}
	defer pool.Close()

	client, stopPubSub, err := startPubSub(ctx, logger)
	if err != nil {
		return err
	}
	defer stopPubSub()
	bus, err := eventbus.New(client, eventbus.Options{Project: devProject, Logger: logger})
	if err != nil {
		return err
	}
	if err := bus.EnsureTopic(ctx, eventsTopic); err != nil {
		return err
	}
	publisher := events.NewPubSubPublisher(client, bus.TopicName(eventsTopic))
	defer publisher.Stop()
	relayPool, err := db.OpenURL(ctx, urls.Relay, 2)
	if err != nil {
		return err
	}
	defer relayPool.Close()
	opsPool, err := db.OpenURL(ctx, urls.Ops, 2)
	if err != nil {
		return err
	}
	defer opsPool.Close()
	readonlyPool, err := db.OpenURL(ctx, urls.Readonly, 4)
	if err != nil {
		return err
	}
	defer readonlyPool.Close()
	rawPublisher := events.NewPubSubRawPublisher(client)
	defer rawPublisher.Stop()

	iss, err := auth.LoadOrCreateDevIssuer(devKeyFile(), auth.DevIssuerName, devAudience)
	if err != nil {
		return err
	}
	webhookKey, err := devWebhookKey()
	if err != nil {
		return err
	}
	deps := &platform.Deps{
		Config: config.Config{
			DatabaseURL: urls.App, AuthIssuer: iss.Issuer, AuthAudience: iss.Audience, AuthDevKeyFile: devKeyFile(),
			MaxBodyBytes: 1 << 20, DBMaxConns: 16, LogLevel: "info", EventsTopic: "ledgerline-events",
			// Local receivers and identity providers listen on this machine.
			WebhookSecretKey: webhookKey, WebhookAllowPrivateTargets: true, IssuerAllowLoopback: true,
			AgentTimeout: agents.DefaultTimeout, AgentCacheTTL: agents.DefaultCacheTTL,
		},
		DB: pool, Logger: logger, Now: time.Now, Publisher: publisher,
		// As an instance without Redis has.
		Cache:        cache.NewMemory(cache.DefaultMemoryEntries),
		RoleDBs:      map[string]*db.DB{"relay": relayPool, "ops": opsPool, "readonly": readonlyPool},
		RawPublisher: rawPublisher,
		Failures:     &deadletters.FailureLog{DB: opsPool},
	}
	// Authenticate as an instance does: the development key signs the token endpoint's
	// tokens too, deleted API clients' tokens are refused, tenants' issuers are trusted.
	if deps.Issuer, err = platform.BuildIssuer(deps.Config); err != nil {
		return err
	}
	if deps.Auth, err = platform.NewAuthenticator(ctx, deps.Config, deps.Issuer, pool, deps.Cache); err != nil {
		return err
	}
	// No provider configured: the built-in agent serves every agent, offline.
	if deps.Agents, err = agents.FromConfig(deps.Config, pool, deps.Cache, deps.Now); err != nil {
		return err
	}
	mux, err := platform.Mux(deps)
	if err != nil {
		return err
	}
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Pool.Ping(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	mux.Handle("/docs", docs.Handler())
	mux.Handle("/docs/", docs.Handler())
	mux.Handle("GET /v1/openapi.json", docs.SpecHandler())

	// Tenants are created by an operator role, never the application's.
	admin, err := db.OpenURL(ctx, urls.Admin, 2)
	if err != nil {
		return err
	}
	err = tenants.Ensure(ctx, admin.Pool, tenants.Tenant{ID: DemoTenant, Name: "Demo Ltd"})
	admin.Close()
	if err != nil {
		return err
	}
	token, err := iss.Issue(DemoTenant, "dev-user", []auth.Role{auth.RoleOwner}, 12*time.Hour)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, port))
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	// Processors: each receives its topic's messages as CloudEvents over HTTP, as
	// Eventarc delivers them; scheduled ones get a tick every devTick instead of their
	// production cron schedule.
	for _, name := range platform.RegisteredEvents() {
		fn, _ := manifest.Lookup(name)
		h, err := platform.EventHTTPHandler(ctx, name, deps)
		if err != nil {
			return err
		}
		mux.Handle("POST /_events/"+name, h)
		if err := bus.Route(ctx, fn, base+"/_events/"+name); err != nil {
			return err
		}
		if fn.Schedule != "" {
			go bus.Schedule(ctx, fn, devTick)
		}
	}
	go func() {
		if err := bus.Run(ctx); err != nil {
			logger.Error("event bus stopped", "error", err.Error())
		}
	}()
	st, _ := json.Marshal(devState{AdminURL: urls.Admin, AppURL: urls.App, BaseURL: base, PID: os.Getpid()})
	_ = os.MkdirAll(filepath.Dir(statePath()), 0o700)
	if err := os.WriteFile(statePath(), st, 0o600); err != nil {
		return err
	}
	defer os.Remove(statePath())

	fmt.Printf(`
Ledgerline is running at %[1]s
  API docs:     %[1]s/docs
  health:       %[1]s/healthz
  demo tenant:  %[2]s
  database:     %[3]s

A bearer token for the demo tenant (owner, 12 h):

%[4]s

  export TOKEN=<the token above>
  curl -s %[1]s/v1/invoices -H "Authorization: Bearer $TOKEN"

Another tenant or role:  go run ./cmd/ledgerline token --tenant <uuid> --roles accountant
One function alone:      FUNCTION_TARGET=InvoicesGet PORT=8081 DATABASE_URL='%[5]s' \
                         AUTH_ISSUER=%[6]s AUTH_DEV_KEY_FILE=%[7]s go run ./cmd/ledgerline serve
Ctrl-C stops everything.
`, base, DemoTenant, urls.Admin, token, urls.App, iss.Issuer, devKeyFile())

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// startPubSub provides Pub/Sub for local runs: an in-process fake (pstest) unless
// PUBSUB_EMULATOR_HOST points at the emulator.
func startPubSub(ctx context.Context, logger *slog.Logger) (*pubsub.Client, func(), error) {
	var opts []option.ClientOption
	var srv *pstest.Server
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		srv = pstest.NewServer()
		opts = append(opts, option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	client, err := pubsub.NewClient(ctx, devProject, opts...)
	if err != nil {
		return nil, nil, err
	}
	where := "in-process (pstest)"
	if srv == nil {
		where = "emulator at " + os.Getenv("PUBSUB_EMULATOR_HOST")
	}
	logger.Info("pub/sub ready", "where", where)
	return client, func() {
		client.Close()
		if srv != nil {
			srv.Close()
		}
	}, nil
}
