package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/manifest"
)

// testDeps are dependencies without a database: enough for everything the middleware
// does before a handler touches the store.
func testDeps(t *testing.T) (*Deps, *auth.DevIssuer) {
	t.Helper()
	iss, err := auth.LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "key.pem"), auth.DevIssuerName, "ledgerline")
	require.NoError(t, err)
	return &Deps{
		Config: config.Config{AuthIssuer: iss.Issuer, AuthAudience: iss.Audience, MaxBodyBytes: 64 << 10},
		Auth:   iss.Verifier(),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now:    time.Now,
	}, iss
}

func bearer(t *testing.T, iss *auth.DevIssuer, roles ...auth.Role) string {
	t.Helper()
	tok, err := iss.Issue(uuid.Must(uuid.NewV7()), "tester", roles, time.Hour)
	require.NoError(t, err)
	return "Bearer " + tok
}

func lookup(t *testing.T, name string) manifest.Function {
	t.Helper()
	fn, ok := manifest.Lookup(name)
	require.True(t, ok, name)
	return fn
}

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) httpx.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), rec.Body.String())
	var p httpx.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	require.Equal(t, rec.Code, p.Status)
	return p
}

func TestLazyDepsRetriesAfterFailureAndCachesSuccess(t *testing.T) {
	want := &Deps{Now: time.Now}
	type ctxKey struct{}
	var calls int
	l := &lazyDeps{build: func(ctx context.Context) (*Deps, error) {
		calls++
		require.Equal(t, "marker", ctx.Value(ctxKey{}), "build gets the caller's context")
		if calls == 1 {
			return nil, errors.New("database unreachable")
		}
		return want, nil
	}}
	ctx := context.WithValue(context.Background(), ctxKey{}, "marker")

	d, err := l.get(ctx)
	require.EqualError(t, err, "database unreachable")
	require.Nil(t, d)

	d, err = l.get(ctx)
	require.NoError(t, err)
	require.Same(t, want, d, "the failure was not remembered: the second call built again")

	for range 3 {
		d, err = l.get(ctx)
		require.NoError(t, err)
		require.Same(t, want, d)
	}
	require.Equal(t, 2, calls, "a success is cached: no build after it")
}

func TestLazyDepsBuildsOnceUnderConcurrency(t *testing.T) {
	want := &Deps{}
	var calls atomic.Int32
	l := &lazyDeps{build: func(context.Context) (*Deps, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		return want, nil
	}}
	var wg sync.WaitGroup
	got := make([]*Deps, 8)
	for i := range got {
		wg.Go(func() {
			d, err := l.get(context.Background())
			if err == nil {
				got[i] = d
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, calls.Load())
	for _, d := range got {
		require.Same(t, want, d)
	}
}

// TestLazyHandlerRecoversFromAFailedBuild is what functions-framework-go serves: the
// first request finds the dependencies unavailable and gets a 503 problem; the next one
// (the build now succeeding) is served, and the handler is built only once.
func TestLazyHandlerRecoversFromAFailedBuild(t *testing.T) {
	d, iss := testDeps(t)
	saved := instance
	t.Cleanup(func() { instance = saved })
	var builds, ctors atomic.Int32
	instance = &lazyDeps{build: func(context.Context) (*Deps, error) {
		if builds.Add(1) == 1 {
			return nil, errors.New("dial tcp 127.0.0.1:5432: connection refused")
		}
		return d, nil
	}}
	fn := lookup(t, "CounterpartiesGet")
	h := lazyHandler(fn, func(got *Deps) http.Handler {
		ctors.Add(1)
		require.Same(t, d, got, "the constructor gets the instance's dependencies")
		return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
			return httpx.JSON(w, http.StatusOK, map[string]string{"subject": Principal(r).Subject, "id": r.PathValue("id")})
		})
	})
	id := uuid.NewString()
	serve := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", bearer(t, iss, auth.RoleViewer))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := serve("/v1/counterparties/" + id)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	p := problemOf(t, w)
	require.Equal(t, "service_unavailable", p.Code)
	require.NotContains(t, w.Body.String(), "connection refused", "the cause is logged, not shown")
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.NotEmpty(t, w.Header().Get(httpx.RequestIDHeader))
	require.Equal(t, w.Header().Get(httpx.RequestIDHeader), p.Instance)
	require.Zero(t, ctors.Load(), "no handler without dependencies")

	w = serve("/v1/counterparties/" + id)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"subject":"tester","id":"`+id+`"}`, w.Body.String())

	w = serve("/v1/counterparties/" + id)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.EqualValues(t, 2, builds.Load(), "the dependencies are cached once built")
	require.EqualValues(t, 1, ctors.Load(), "the handler is built once")

	// Deployed alone, the function still answers only its own route.
	w = serve("/v1/invoices")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "route_not_found", problemOf(t, w).Code)
}

func TestWrapRecoversFromAPanic(t *testing.T) {
	d, iss := testDeps(t)
	h := Wrap(lookup(t, "CounterpartiesGet"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret detail")
	}), d)
	for range 2 { // the instance survives the first panic
		r := httptest.NewRequest(http.MethodGet, "/v1/counterparties/"+uuid.NewString(), nil)
		r.Header.Set("Authorization", bearer(t, iss, auth.RoleViewer))
		w := httptest.NewRecorder()
		require.NotPanics(t, func() { h.ServeHTTP(w, r) })
		require.Equal(t, http.StatusInternalServerError, w.Code)
		p := problemOf(t, w)
		require.Equal(t, "internal", p.Code)
		require.Equal(t, "internal error", p.Detail)
		require.NotContains(t, w.Body.String(), "secret detail")
		require.Equal(t, w.Header().Get(httpx.RequestIDHeader), p.Instance)
	}
}

func TestWrapLetsAbortHandlerThrough(t *testing.T) {
	d, iss := testDeps(t)
	h := Wrap(lookup(t, "CounterpartiesGet"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), d)
	r := httptest.NewRequest(http.MethodGet, "/v1/counterparties/"+uuid.NewString(), nil)
	r.Header.Set("Authorization", bearer(t, iss, auth.RoleViewer))
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { h.ServeHTTP(httptest.NewRecorder(), r) },
		"net/http's own abort must reach net/http")
}

// TestWrapRefusesBeforeTheHandler checks the order of the chain: nothing reaches the
// function's handler unless it is authenticated, permitted and valid.
func TestWrapRefusesBeforeTheHandler(t *testing.T) {
	d, iss := testDeps(t)
	var reached atomic.Int32
	h := Wrap(lookup(t, "CounterpartiesCreate"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		var in map[string]any
		require.NoError(t, Decode(r, &in))
		require.Equal(t, "Acme", in["name"], "the handler decodes the body the platform read")
		w.WriteHeader(http.StatusCreated)
	}), d)
	cases := []struct {
		name, auth, body string
		status           int
		code             string
	}{
		{"no token", "", `{"name":"Acme","kind":"customer"}`, 401, "unauthenticated"},
		{"viewer", bearer(t, iss, auth.RoleViewer), `{"name":"Acme","kind":"customer"}`, 403, "forbidden"},
		{"invalid body", bearer(t, iss, auth.RoleAccountant), `{"kind":"customer"}`, 422, "validation_failed"},
		{"malformed body", bearer(t, iss, auth.RoleAccountant), `{"name":`, 400, "malformed_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/counterparties", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Equal(t, tc.code, problemOf(t, w).Code)
		})
	}
	require.Zero(t, reached.Load())

	r := httptest.NewRequest(http.MethodPost, "/v1/counterparties", strings.NewReader(`{"name":"Acme","kind":"customer"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", bearer(t, iss, auth.RoleAccountant))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // no Idempotency-Key: the store (and its nil database) is not used
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.EqualValues(t, 1, reached.Load())
}

// TestWrapRefusesIdempotencyKeyOnSecretResponses: an operation whose answer carries a
// secret (manifest secret_response) never has its response stored, so a keyed request
// is refused before the handler, and the store (here with a nil database) is not used.
func TestWrapRefusesIdempotencyKeyOnSecretResponses(t *testing.T) {
	d, iss := testDeps(t)
	fn := lookup(t, "ApiClientsCreate")
	require.True(t, fn.SecretResponse)
	var reached atomic.Int32
	h := Wrap(fn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusCreated)
	}), d)
	serve := func(key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/api-clients", strings.NewReader(`{"name":"ERP","roles":["viewer"]}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", bearer(t, iss, auth.RoleOwner))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := serve("key-1")
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	require.Equal(t, "idempotency_not_supported", problemOf(t, w).Code)
	require.Zero(t, reached.Load())

	w = serve("")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.EqualValues(t, 1, reached.Load())
}

// TestWrapAnswersOnlyItsRoute: deployed alone, a function receives every path; another
// method on its path is a 405 naming the allowed one, anything else a 404.
func TestWrapAnswersOnlyItsRoute(t *testing.T) {
	d, iss := testDeps(t)
	h := Wrap(lookup(t, "CounterpartiesGet"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the handler was reached for %s %s", r.Method, r.URL.Path)
	}), d)
	serve := func(method, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", bearer(t, iss, auth.RoleAdmin))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
		w := serve(method, "/v1/counterparties/"+uuid.NewString())
		require.Equal(t, http.StatusMethodNotAllowed, w.Code)
		require.Equal(t, "method_not_allowed", problemOf(t, w).Code)
		require.Equal(t, http.MethodGet, w.Header().Get("Allow"))
	}
	for _, path := range []string{"/", "/v1/counterparties", "/v1/counterparties/a/b", "/v1/invoices/" + uuid.NewString()} {
		w := serve(http.MethodGet, path)
		require.Equal(t, http.StatusNotFound, w.Code, path)
		require.Equal(t, "route_not_found", problemOf(t, w).Code)
		require.Empty(t, w.Header().Get("Allow"))
	}
}

func TestHandlerUnknownName(t *testing.T) {
	d, _ := testDeps(t)
	_, err := Handler("NoSuchFunction", d)
	require.ErrorContains(t, err, "NoSuchFunction is not registered")
}

func TestHTTPRefusesNamesOutsideTheManifest(t *testing.T) {
	require.PanicsWithValue(t, "platform: NoSuchFunction is not an HTTP function in the manifest", func() {
		HTTP("NoSuchFunction", func(*Deps) http.Handler { return http.NotFoundHandler() })
	})
	require.NotContains(t, Registered(), "NoSuchFunction")
}

// TestInstanceBuildsFromTheEnvironment covers the production build: configuration from
// the environment, and a failure (configuration or database) reported, not cached.
func TestInstanceBuildsFromTheEnvironment(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	t.Setenv("AUTH_ISSUER", auth.DevIssuerName)
	t.Setenv("AUTH_DEV_KEY_FILE", keyFile)
	t.Setenv("AUTH_JWKS_URL", "")
	t.Setenv("INSTANCE_CONNECTION_NAME", "")

	t.Setenv("DATABASE_URL", "")
	_, err := instance.build(context.Background())
	require.ErrorContains(t, err, "DATABASE_URL")

	// Nothing listens on port 1: the pool's ping fails at once.
	t.Setenv("DATABASE_URL", "postgres://ledgerline_app@127.0.0.1:1/ledgerline?sslmode=disable&connect_timeout=2")
	_, err = instance.build(context.Background())
	require.ErrorContains(t, err, "db: ping")

	// A reachable database: the instance's logger becomes the default one.
	db := dbtest.New(t)
	prevLogger, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(prevLogger)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	})
	t.Setenv("DATABASE_URL", db.URLs.App)
	d, err := instance.build(context.Background())
	require.NoError(t, err)
	t.Cleanup(d.DB.Close)
	require.Same(t, d.Logger, slog.Default())
	require.Equal(t, db.URLs.App, d.Config.DatabaseURL)
	require.Equal(t, keyFile, d.Config.AuthDevKeyFile)
	require.NoError(t, d.DB.Pool.Ping(context.Background()))

	t.Setenv("LOG_LEVEL", "chatty")
	_, err = instance.build(context.Background())
	require.Error(t, err)
}
