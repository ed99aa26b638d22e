package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

// TestServeFunctionTarget runs the binary as Cloud Run runs a function: `ledgerline
// serve` with FUNCTION_TARGET naming one entry point, configuration from the
// environment, dependencies built on the first request.
func TestServeFunctionTarget(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "ledgerline")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	t.Run("a processor accepts the raw push body and the Eventarc CloudEvent", func(t *testing.T) {
		t.Parallel()
		db := dbtest.New(t)
		keyFile := filepath.Join(t.TempDir(), "dev.pem")
		devToken(t, keyFile, db.NewTenant(t, "Unused"))
		srv := startServe(t, bin, "TenantClose", db.URLs.App, keyFile)
		post := func(body string, headers map[string]string) int {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.base+"/", strings.NewReader(body))
			require.NoError(t, err)
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err, srv.output())
			defer resp.Body.Close()
			return resp.StatusCode
		}
		closeFor := func(tenant uuid.UUID, date string) string {
			b, _ := json.Marshal(map[string]string{"tenant_id": tenant.String(), "close_date": date})
			return base64.StdEncoding.EncodeToString(b)
		}
		countCloses := func(tenant uuid.UUID) int {
			var n int
			require.NoError(t, db.Admin.QueryRow(t.Context(),
				`SELECT count(*) FROM processed_messages WHERE tenant_id = $1 AND consumer = 'TenantClose'`, tenant).Scan(&n))
			return n
		}

		// A push subscription without Eventarc posts the bare Pub/Sub envelope.
		a := db.NewTenant(t, "Pushed")
		status := post(`{"message":{"data":"`+closeFor(a, "2026-11-01")+`","messageId":"101","publishTime":"2026-11-01T02:00:00Z"},
			"subscription":"projects/p/subscriptions/TenantClose"}`, map[string]string{"Content-Type": "application/json"})
		require.Equal(t, http.StatusOK, status, srv.output())
		require.Equal(t, 1, countCloses(a))

		// Eventarc posts a binary-mode CloudEvent whose data is the same envelope.
		b := db.NewTenant(t, "Eventarc")
		status = post(`{"message":{"data":"`+closeFor(b, "2026-11-01")+`","messageId":"102"},"subscription":"projects/p/subscriptions/TenantClose"}`,
			map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "102",
				"ce-source": "//pubsub.googleapis.com/projects/p/topics/ledgerline-tenant-close",
				"ce-type":   "google.cloud.pubsub.topic.v1.messagePublished"})
		require.Equal(t, http.StatusOK, status, srv.output())
		require.Equal(t, 1, countCloses(b))

		// A poison message is acknowledged rather than redelivered forever.
		require.Equal(t, http.StatusOK, post(`{"message":{"data":"bm90IGpzb24=","messageId":"103"}}`,
			map[string]string{"Content-Type": "application/json"}))
	})

	t.Run("serves its own route", func(t *testing.T) {
		t.Parallel()
		db := dbtest.New(t)
		tenant := db.NewTenant(t, "Acme")
		id := insertCounterparty(t, db, tenant, "Globex")
		keyFile := filepath.Join(t.TempDir(), "dev.pem")
		tok := devToken(t, keyFile, tenant, auth.RoleViewer)

		srv := startServe(t, bin, "CounterpartiesGet", db.URLs.App, keyFile)

		start := time.Now()
		resp := srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), tok)
		t.Logf("first request after start (builds the dependencies): %s", time.Since(start))
		require.Equal(t, http.StatusOK, resp.status, "%s\n%s", resp.body, srv.output())
		require.Equal(t, "application/json", resp.header.Get("Content-Type"))
		var c map[string]any
		require.NoError(t, json.Unmarshal(resp.body, &c))
		require.Equal(t, id.String(), c["id"])
		require.Equal(t, "Globex", c["name"])
		require.Equal(t, "customer", c["kind"])
		require.Equal(t, "counterparty", c["object"])
		require.NotEmpty(t, resp.header.Get("X-Request-Id"))

		// Served again from the cached dependencies.
		resp = srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), tok)
		require.Equal(t, http.StatusOK, resp.status, string(resp.body))

		// Another tenant's token does not see it.
		other := devToken(t, keyFile, db.NewTenant(t, "Other"), auth.RoleViewer)
		resp = srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), other)
		require.Equal(t, "counterparty_not_found", resp.problem(t, http.StatusNotFound).Code)

		// The function answers only its own route, although every path reaches it.
		resp = srv.do(t, http.MethodGet, "/v1/invoices", tok)
		require.Equal(t, "route_not_found", resp.problem(t, http.StatusNotFound).Code)

		resp = srv.do(t, http.MethodPost, "/v1/counterparties/"+id.String(), tok)
		require.Equal(t, "method_not_allowed", resp.problem(t, http.StatusMethodNotAllowed).Code)
		require.Equal(t, http.MethodGet, resp.header.Get("Allow"))

		resp = srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), "")
		require.Equal(t, "unauthenticated", resp.problem(t, http.StatusUnauthorized).Code)
	})

	t.Run("database unreachable, then reachable", func(t *testing.T) {
		t.Parallel()
		db := dbtest.New(t)
		tenant := db.NewTenant(t, "Acme")
		id := insertCounterparty(t, db, tenant, "Globex")
		keyFile := filepath.Join(t.TempDir(), "dev.pem")
		tok := devToken(t, keyFile, tenant, auth.RoleViewer)

		// The function is configured with a port nothing listens on yet.
		u, err := url.Parse(db.URLs.App)
		require.NoError(t, err)
		realDB := u.Host
		dbPort := freePort(t)
		u.Host = net.JoinHostPort("127.0.0.1", dbPort)
		q := u.Query()
		q.Set("connect_timeout", "3")
		u.RawQuery = q.Encode()

		srv := startServe(t, bin, "CounterpartiesGet", u.String(), keyFile)
		for range 2 {
			resp := srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), tok)
			p := resp.problem(t, http.StatusServiceUnavailable)
			require.Equal(t, "service_unavailable", p.Code)
			require.Equal(t, "1", resp.header.Get("Retry-After"))
			require.NotContains(t, string(resp.body), "refused", "the cause is not shown")
			require.False(t, srv.exited(), "the instance stays up:\n%s", srv.output())
		}

		// Once the database answers, the next request builds the dependencies.
		proxy(t, net.JoinHostPort("127.0.0.1", dbPort), realDB)
		resp := srv.do(t, http.MethodGet, "/v1/counterparties/"+id.String(), tok)
		require.Equal(t, http.StatusOK, resp.status, "%s\n%s", resp.body, srv.output())
		require.Contains(t, string(resp.body), id.String())
	})

	t.Run("unknown target", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bin, "serve")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FUNCTION_TARGET=NoSuchFunction", "PORT=" + freePort(t)}
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "the process must not serve: %s", out)
		require.Contains(t, string(out), "NoSuchFunction")
	})
}

func insertCounterparty(t *testing.T, db *dbtest.Database, tenant uuid.UUID, name string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := db.Admin.Exec(t.Context(),
		`INSERT INTO counterparties (id, tenant_id, name, kind, default_currency) VALUES ($1, $2, $3, 'customer', 'EUR')`,
		id, tenant, name)
	require.NoError(t, err)
	return id
}

func devToken(t *testing.T, keyFile string, tenant uuid.UUID, roles ...auth.Role) string {
	t.Helper()
	iss, err := auth.LoadOrCreateDevIssuer(keyFile, auth.DevIssuerName, devAudience)
	require.NoError(t, err)
	tok, err := iss.Issue(tenant, "tester", roles, time.Hour)
	require.NoError(t, err)
	return tok
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	return port
}

// proxy forwards TCP connections from listen to target until the test ends.
func proxy(t *testing.T, listen, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type served struct {
	base string
	out  *lockedBuffer
	done chan struct{}
}

func (s *served) output() string { return s.out.String() }

func (s *served) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// startServe starts `ledgerline serve` for target with nothing from this process's
// environment but PATH, and waits until it accepts connections. The process is killed
// when the test ends.
func startServe(t *testing.T, bin, target, databaseURL, keyFile string) *served {
	t.Helper()
	port := freePort(t)
	home := t.TempDir()
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"FUNCTION_TARGET=" + target,
		"PORT=" + port,
		"DATABASE_URL=" + databaseURL,
		"AUTH_ISSUER=" + auth.DevIssuerName,
		"AUTH_DEV_KEY_FILE=" + keyFile,
		"DB_MAX_CONNS=2",
	}
	s := &served{base: "http://127.0.0.1:" + port, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("ledgerline serve output:\n%s", s.output())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if s.exited() {
			t.Fatalf("ledgerline serve exited before listening:\n%s", s.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledgerline serve did not listen on %s: %v\n%s", port, err, s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *served) do(t *testing.T, method, path, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, s.output())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

type problem struct {
	Status   int               `json:"status"`
	Code     string            `json:"code"`
	Instance string            `json:"instance"`
	Errors   map[string]string `json:"errors"`
}

func (r response) problem(t *testing.T, status int) problem {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json"), r.header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, r.header.Get("X-Request-Id"))
	require.Equal(t, r.header.Get("X-Request-Id"), p.Instance)
	return p
}
