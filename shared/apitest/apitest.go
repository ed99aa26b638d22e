// Package apitest drives Ledgerline's HTTP functions in tests exactly as the dev server
// serves them (platform.Mux over a real database), with tokens from the development
// issuer, and checks every response against the OpenAPI document, so the contract
// cannot drift from the code.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/openapi"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// Server is the functions over one test database.
type Server struct {
	DB      *dbtest.Database
	Issuer  *auth.DevIssuer
	Deps    *platform.Deps
	Handler http.Handler
	router  routers.Router
	// KeyFile is the development issuer's private key (PEM), for tests that forge
	// tokens the issuer would never sign.
	KeyFile string
}

// Option adjusts the dependencies before the functions are built.
type Option func(*platform.Deps)

// WithPublisher makes the functions publish events after commit through p.
func WithPublisher(p events.Publisher) Option { return func(d *platform.Deps) { d.Publisher = p } }

// WithRateLimit limits each tenant to perSecond requests with bursts of burst, as
// RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST do; servers are unlimited otherwise.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(d *platform.Deps) {
		d.Config.RateLimitPerSecond, d.Config.RateLimitBurst = perSecond, burst
		d.RateLimit = platform.NewRateLimiter(perSecond, burst, d.Now)
	}
}

// New builds the server; the caller's package must import the function packages (the
// root package ledgerline imports them all).
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	d := dbtest.New(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	iss, err := auth.LoadOrCreateDevIssuer(keyFile, auth.DevIssuerName, "ledgerline")
	if err != nil {
		t.Fatal(err)
	}
	// As in the dev server, the development key signs the token endpoint's tokens too.
	own, err := auth.NewIssuer(iss.Issuer, iss.Audience, iss.KeySet(), config.DefaultTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	deps := &platform.Deps{
		Config: config.Config{
			AuthIssuer: iss.Issuer, AuthAudience: iss.Audience, MaxBodyBytes: 64 << 10, DBMaxConns: 8,
			// Test receivers listen on loopback.
			WebhookSecretKey: randomKey(), WebhookAllowPrivateTargets: true,
		},
		DB:     d.App,
		Auth:   platform.OwnAuthenticator(own, d.App),
		Issuer: own,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now:    time.Now,
	}
	relayDB, err := db.OpenURL(context.Background(), d.URLs.Relay, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(relayDB.Close)
	opsDB, err := db.OpenURL(context.Background(), d.URLs.Ops, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(opsDB.Close)
	readonlyDB, err := db.OpenURL(context.Background(), d.URLs.Readonly, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(readonlyDB.Close)
	deps.RoleDBs = map[string]*db.DB{"relay": relayDB, "ops": opsDB, "readonly": readonlyDB}
	for _, o := range opts {
		o(deps)
	}
	mux, err := platform.Mux(deps)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Server{DB: d, Issuer: iss, Deps: deps, Handler: mux, router: router, KeyFile: keyFile}
}

// randomKey is a WEBHOOK_SECRET_KEY for one server.
func randomKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// Token issues a bearer token for tenant with roles.
func (s *Server) Token(t testing.TB, tenant uuid.UUID, roles ...auth.Role) string {
	t.Helper()
	tok, err := s.Issuer.Issue(tenant, "user-"+tenant.String()[:8], roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TokenAs issues a bearer token for tenant with roles to a named subject: a second
// person in the same tenant, where separation of duties tells people apart.
func (s *Server) TokenAs(t testing.TB, tenant uuid.UUID, subject string, roles ...auth.Role) string {
	t.Helper()
	tok, err := s.Issuer.Issue(tenant, subject, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Tenant provisions a tenant and returns it with an admin token.
func (s *Server) Tenant(t testing.TB, name string) (uuid.UUID, string) {
	id := s.DB.NewTenant(t, name)
	return id, s.Token(t, id, auth.RoleAdmin)
}

// Response is a recorded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem decodes a problem body.
func (r Response) Problem(t testing.TB) Problem {
	t.Helper()
	var p Problem
	r.JSON(t, &p)
	return p
}

// Problem is the shape of error bodies.
type Problem struct {
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   int               `json:"status"`
	Detail   string            `json:"detail"`
	Instance string            `json:"instance"`
	Code     string            `json:"code"`
	Errors   map[string]string `json:"errors"`
}

// Request is one call; Body may be a string, []byte or any value encoded as JSON.
type Request struct {
	Method string
	Path   string
	Token  string
	Body   any
	Header map[string]string
	// SkipContract leaves the response unchecked against the contract, for a test of an
	// answer the document does not declare (the per-tenant rate limit's 429).
	SkipContract bool
}

// Do serves req and validates the response against the contract.
func (s *Server) Do(t testing.TB, req Request) Response {
	t.Helper()
	var body []byte
	switch b := req.Body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	r := httptest.NewRequest(req.Method, req.Path, bytes.NewReader(body))
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.Handler.ServeHTTP(w, r)
	resp := Response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	if !req.SkipContract {
		s.checkContract(t, r, resp)
	}
	return resp
}

// checkContract validates the response of any request that routes to a documented
// operation: status documented, body matching its schema, headers present.
func (s *Server) checkContract(t testing.TB, r *http.Request, resp Response) {
	t.Helper()
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		return // not a documented route (404 probes); nothing to check against
	}
	for _, v := range params {
		if v == "" {
			// The router lets a variable match an empty segment (DELETE /v1/invoices as
			// DELETE /v1/invoices/{id}); net/http never serves that request with the
			// operation, so it is not one to check against either.
			return
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.Status,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(resp.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s → %d violates the contract: %v\nbody: %s", r.Method, r.URL.Path, resp.Status, err, resp.Body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("%s %s → %d has no X-Request-Id", r.Method, r.URL.Path, resp.Status)
	}
}

// Deliver hands m to the named processor as Eventarc would (a Pub/Sub CloudEvent) and
// returns its verdict: nil acknowledges, an error asks for redelivery.
func (s *Server) Deliver(t testing.TB, name string, m platform.Message) error {
	t.Helper()
	fn, err := platform.EventProcessor(name, s.Deps)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	e, err := platform.PubSubEvent("ledgerline-test", "test-topic", m)
	if err != nil {
		t.Fatal(err)
	}
	return fn(context.Background(), e)
}
