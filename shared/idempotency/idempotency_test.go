package idempotency_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
	"github.com/ledgerline/ledgerline/shared/idempotency"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const op = "counterparties.create"

var fp = idempotency.Fingerprint(op, "/v1/counterparties", []byte(`{"name":"Acme"}`))

func created(body string) idempotency.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Location", "/v1/counterparties/1")
	h.Set("ETag", `"1"`)
	h.Set("X-Request-Id", "not-kept")
	return idempotency.Response{Status: http.StatusCreated, Header: h, Body: []byte(body)}
}

// counting wraps a handle and counts its calls.
func counting(calls *atomic.Int32, resp idempotency.Response) func(context.Context) idempotency.Response {
	return func(context.Context) idempotency.Response {
		calls.Add(1)
		return resp
	}
}

func requireAppErr(t *testing.T, err error, kind apperr.Kind, code string) {
	t.Helper()
	require.Error(t, err)
	ae := apperr.From(err)
	require.Equal(t, kind, ae.Kind, "%v", err)
	require.Equal(t, code, ae.Code, "%v", err)
}

func countRows(t *testing.T, d *dbtest.Database, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, d.Admin.QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}

// insertCounterparty is a business change made by a handle through the joined transaction.
func insertCounterparty(ctx context.Context, d *dbtest.Database, tenant uuid.UUID, name string) error {
	return d.App.InTenantTx(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO counterparties (id, tenant_id, name, kind) VALUES ($1, $2, $3, 'customer')`,
			uuid.Must(uuid.NewV7()), tenant, name)
		return err
	})
}

func TestRunStoresAndReplays(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "replay")
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32

	resp, replayed, err := s.Run(ctx, tenant, "key-1", op, fp, counting(&calls, created(`{"id":1}`)))
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, `{"id":1}`, string(resp.Body))
	require.EqualValues(t, 1, calls.Load())
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1 AND key = 'key-1'
		AND expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'`, tenant))

	for i := 0; i < 2; i++ {
		resp, replayed, err = s.Run(ctx, tenant, "key-1", op, fp, counting(&calls, created(`{"id":2}`)))
		require.NoError(t, err)
		require.True(t, replayed)
		require.EqualValues(t, 1, calls.Load(), "a replay does not run handle")
		require.Equal(t, http.StatusCreated, resp.Status)
		require.Equal(t, `{"id":1}`, string(resp.Body))
		require.Equal(t, http.Header{
			"Content-Type": {"application/json"},
			"Location":     {"/v1/counterparties/1"},
			"Etag":         {`"1"`},
		}, resp.Header, "only the kept headers are replayed")
	}
}

func TestRunRefusesAReusedKey(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "reuse")
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32
	_, _, err := s.Run(ctx, tenant, "k", op, fp, counting(&calls, created(`{}`)))
	require.NoError(t, err)

	other := idempotency.Fingerprint(op, "/v1/counterparties", []byte(`{"name":"Other"}`))
	for _, c := range []struct {
		name      string
		operation string
		fp        [32]byte
	}{
		{"different body", op, other},
		{"different operation", "invoices.create", fp},
		{"both different", "invoices.create", other},
	} {
		_, replayed, err := s.Run(ctx, tenant, "k", c.operation, c.fp, counting(&calls, created(`{}`)))
		requireAppErr(t, err, apperr.Unprocessable, "idempotency_key_reused")
		require.False(t, replayed, c.name)
	}
	require.EqualValues(t, 1, calls.Load())
}

func TestRunRefusesAKeyInFlight(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "inflight")
	s := idempotency.Store{DB: d.App}

	entered, release := make(chan struct{}), make(chan struct{})
	type result struct {
		resp     idempotency.Response
		replayed bool
		err      error
	}
	first := make(chan result, 1)
	go func() {
		resp, replayed, err := s.Run(ctx, tenant, "slow", op, fp, func(context.Context) idempotency.Response {
			close(entered)
			<-release
			return created(`{"id":"slow"}`)
		})
		first <- result{resp, replayed, err}
	}()
	<-entered

	var calls atomic.Int32
	_, replayed, err := s.Run(ctx, tenant, "slow", op, fp, counting(&calls, created(`{}`)))
	requireAppErr(t, err, apperr.Conflict, "idempotency_key_in_use")
	require.False(t, replayed)
	// A different request with the same key is also told to wait, not that it differs.
	_, _, err = s.Run(ctx, tenant, "slow", "other.op", fp, counting(&calls, created(`{}`)))
	requireAppErr(t, err, apperr.Conflict, "idempotency_key_in_use")
	// Other keys are not blocked.
	_, replayed, err = s.Run(ctx, tenant, "fast", op, fp, counting(&calls, created(`{}`)))
	require.NoError(t, err)
	require.False(t, replayed)
	require.EqualValues(t, 1, calls.Load())

	close(release)
	r := <-first
	require.NoError(t, r.err)
	require.False(t, r.replayed)

	resp, replayed, err := s.Run(ctx, tenant, "slow", op, fp, counting(&calls, created(`{}`)))
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, `{"id":"slow"}`, string(resp.Body))
	require.EqualValues(t, 1, calls.Load())
}

func TestRefusedResponsesAreNotStored(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "refused")
	s := idempotency.Store{DB: d.App}

	for _, status := range []int{http.StatusFound, http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity,
		http.StatusInternalServerError, http.StatusServiceUnavailable} {
		key := "refused-" + http.StatusText(status)
		var calls atomic.Int32
		refusal := idempotency.Response{Status: status, Header: http.Header{"Content-Type": {"application/problem+json"}},
			Body: []byte(`{"code":"nope"}`)}
		for i := 1; i <= 2; i++ {
			resp, replayed, err := s.Run(ctx, tenant, key, op, fp, counting(&calls, refusal))
			require.Error(t, err)
			require.False(t, replayed)
			require.Zero(t, resp.Status)
			got, ok := idempotency.IsRefused(err)
			require.True(t, ok, "status %d", status)
			require.Equal(t, refusal, got)
			require.Equal(t, http.StatusText(status), err.Error())
			require.EqualValues(t, i, calls.Load(), "a refused request runs again")
		}
		// After refusals the key is free: a success is stored.
		_, replayed, err := s.Run(ctx, tenant, key, op, fp, counting(&calls, created(`{"ok":true}`)))
		require.NoError(t, err)
		require.False(t, replayed)
		require.EqualValues(t, 3, calls.Load())
	}
	require.EqualValues(t, 6, countRows(t, d, `SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1`, tenant))

	_, ok := idempotency.IsRefused(apperr.New(apperr.Conflict, "x", "y"))
	require.False(t, ok)
	_, ok = idempotency.IsRefused(nil)
	require.False(t, ok)
}

// TestBusinessChangeCommitsWithTheKey: handle's own transaction joins Run's, so its
// change and the stored response commit or roll back together.
func TestBusinessChangeCommitsWithTheKey(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "atomic")
	s := idempotency.Store{DB: d.App}

	insertThen := func(name string, resp idempotency.Response) func(context.Context) idempotency.Response {
		return func(ctx context.Context) idempotency.Response {
			if err := insertCounterparty(ctx, d, tenant, name); err != nil {
				return idempotency.Response{Status: http.StatusInternalServerError, Body: []byte(err.Error())}
			}
			// Uncommitted until Run commits: invisible from outside.
			var n int64
			if err := d.Admin.QueryRow(ctx, `SELECT count(*) FROM counterparties WHERE name = $1`, name).Scan(&n); err != nil || n != 0 {
				return idempotency.Response{Status: http.StatusInternalServerError, Body: []byte("visible before commit")}
			}
			return resp
		}
	}

	_, _, err := s.Run(ctx, tenant, "fails", op, fp, insertThen("rolled-back", idempotency.Response{Status: 500, Body: []byte("x")}))
	resp, ok := idempotency.IsRefused(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "x", string(resp.Body))
	require.Zero(t, countRows(t, d, `SELECT count(*) FROM counterparties WHERE name = 'rolled-back'`))

	resp, replayed, err := s.Run(ctx, tenant, "works", op, fp, insertThen("committed", created(`{}`)))
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, http.StatusCreated, resp.Status)
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM counterparties WHERE name = 'committed'`))

	_, replayed, err = s.Run(ctx, tenant, "works", op, fp, insertThen("committed", created(`{}`)))
	require.NoError(t, err)
	require.True(t, replayed)
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM counterparties WHERE name = 'committed'`))
}

// TestSuccessWithoutBody: a 2xx with no body (204 No Content, or a handler that wrote
// nothing) is stored and replayed like any other success.
func TestSuccessWithoutBody(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "nobody")
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32
	handle := func(ctx context.Context) idempotency.Response {
		calls.Add(1)
		if err := insertCounterparty(ctx, d, tenant, "no-content"); err != nil {
			return idempotency.Response{Status: 500}
		}
		return idempotency.Response{Status: http.StatusNoContent}
	}
	resp, replayed, err := s.Run(ctx, tenant, "k", op, fp, handle)
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, http.StatusNoContent, resp.Status)
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM counterparties WHERE name = 'no-content'`))

	resp, replayed, err = s.Run(ctx, tenant, "k", op, fp, handle)
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, http.StatusNoContent, resp.Status)
	require.Empty(t, resp.Body)
	require.EqualValues(t, 1, calls.Load())
}

func TestExpiredKeyRunsAgain(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "expiry")
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32

	_, _, err := s.Run(ctx, tenant, "old", op, fp, counting(&calls, created(`{"v":1}`)))
	require.NoError(t, err)
	_, err = d.Admin.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)

	// Expired: runs again, even for a different request, and stores the new response.
	other := idempotency.Fingerprint(op, "/v1/counterparties", []byte(`{"name":"New"}`))
	resp, replayed, err := s.Run(ctx, tenant, "old", op, other, counting(&calls, created(`{"v":2}`)))
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, `{"v":2}`, string(resp.Body))
	require.EqualValues(t, 2, calls.Load())

	resp, replayed, err = s.Run(ctx, tenant, "old", op, other, counting(&calls, created(`{"v":3}`)))
	require.NoError(t, err)
	require.True(t, replayed)
	require.Equal(t, `{"v":2}`, string(resp.Body))
	require.EqualValues(t, 2, calls.Load())
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM idempotency_keys WHERE tenant_id = $1 AND key = 'old'
		AND expires_at > now() + interval '23 hours'`, tenant))
}

func TestKeysArePerTenant(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	a, b := d.NewTenant(t, "A"), d.NewTenant(t, "B")
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32

	_, _, err := s.Run(ctx, a, "shared", op, fp, counting(&calls, created(`"a"`)))
	require.NoError(t, err)
	resp, replayed, err := s.Run(ctx, b, "shared", op, fp, counting(&calls, created(`"b"`)))
	require.NoError(t, err)
	require.False(t, replayed)
	require.Equal(t, `"b"`, string(resp.Body))
	require.EqualValues(t, 2, calls.Load())

	// B may even use the key for a different request.
	other := idempotency.Fingerprint("other", "/", nil)
	_, _, err = s.Run(ctx, b, "a-only", "other", other, counting(&calls, created(`"b2"`)))
	require.NoError(t, err)

	for tenant, want := range map[uuid.UUID]string{a: `"a"`, b: `"b"`} {
		resp, replayed, err := s.Run(ctx, tenant, "shared", op, fp, counting(&calls, created(`"x"`)))
		require.NoError(t, err)
		require.True(t, replayed)
		require.Equal(t, want, string(resp.Body))
	}
	require.EqualValues(t, 3, calls.Load())
}

func TestConcurrentRunsExecuteOnce(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	tenant := d.NewTenant(t, "race")
	s := idempotency.Store{DB: d.App}

	const n = 10
	var wg sync.WaitGroup
	var executed, inUse, replays atomic.Int32
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, replayed, err := s.Run(ctx, tenant, "same", op, fp, func(ctx context.Context) idempotency.Response {
				executed.Add(1)
				if err := insertCounterparty(ctx, d, tenant, "once"); err != nil {
					return idempotency.Response{Status: 500}
				}
				time.Sleep(20 * time.Millisecond) // widen the window for the others
				return created(`{"once":true}`)
			})
			switch {
			case err == nil && replayed:
				replays.Add(1)
			case err == nil:
			case apperr.From(err).Code == "idempotency_key_in_use":
				inUse.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, executed.Load())
	require.EqualValues(t, n-1, inUse.Load()+replays.Load())
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM counterparties WHERE name = 'once'`))
	require.EqualValues(t, 1, countRows(t, d, `SELECT count(*) FROM idempotency_keys WHERE key = 'same'`))
}

func TestRunWithoutTenantFails(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	s := idempotency.Store{DB: d.App}
	var calls atomic.Int32
	_, _, err := s.Run(context.Background(), uuid.Nil, "k", op, fp, counting(&calls, created(`{}`)))
	requireAppErr(t, err, apperr.Internal, "internal")
	require.Zero(t, calls.Load())
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := idempotency.Fingerprint(op, "/v1/x", []byte(`{"name":"Acme","terms":30,"tags":["a","b"]}`))
	cases := []struct {
		name      string
		operation string
		path      string
		body      string
		same      bool
	}{
		{"identical", op, "/v1/x", `{"name":"Acme","terms":30,"tags":["a","b"]}`, true},
		{"whitespace", op, "/v1/x", " {\n  \"name\" : \"Acme\",\t\"terms\": 30, \"tags\": [ \"a\", \"b\" ] }\n", true},
		{"key order", op, "/v1/x", `{"tags":["a","b"],"terms":30,"name":"Acme"}`, true},
		{"different value", op, "/v1/x", `{"name":"Acme","terms":31,"tags":["a","b"]}`, false},
		{"array order", op, "/v1/x", `{"name":"Acme","terms":30,"tags":["b","a"]}`, false},
		{"number spelled differently", op, "/v1/x", `{"name":"Acme","terms":30.0,"tags":["a","b"]}`, false},
		{"extra field", op, "/v1/x", `{"name":"Acme","terms":30,"tags":["a","b"],"x":null}`, false},
		{"different path", op, "/v1/y", `{"name":"Acme","terms":30,"tags":["a","b"]}`, false},
		{"different operation", "other", "/v1/x", `{"name":"Acme","terms":30,"tags":["a","b"]}`, false},
	}
	for _, c := range cases {
		got := idempotency.Fingerprint(c.operation, c.path, []byte(c.body))
		if c.same {
			require.Equal(t, base, got, c.name)
		} else {
			require.NotEqual(t, base, got, c.name)
		}
	}

	// Large integers are compared exactly, not as float64.
	require.NotEqual(t,
		idempotency.Fingerprint(op, "/", []byte(`{"amount":9007199254740993}`)),
		idempotency.Fingerprint(op, "/", []byte(`{"amount":9007199254740992}`)))

	// A body that is not JSON is hashed as is.
	raw := idempotency.Fingerprint(op, "/", []byte("a=1&b=2"))
	require.Equal(t, raw, idempotency.Fingerprint(op, "/", []byte("a=1&b=2")))
	require.NotEqual(t, raw, idempotency.Fingerprint(op, "/", []byte("b=2&a=1")))
	require.NotEqual(t, raw, idempotency.Fingerprint(op, "/", []byte("a=1&b=2 ")))
	require.NotEqual(t, idempotency.Fingerprint(op, "/", nil), idempotency.Fingerprint(op, "/", []byte("null")))

	// The separators keep fields apart.
	require.NotEqual(t, idempotency.Fingerprint("ab", "c", nil), idempotency.Fingerprint("a", "bc", nil))
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		key   string
		valid bool
	}{
		{"empty", "", false},
		{"one char", "a", true},
		{"uuid", uuid.NewString(), true},
		{"255 printable", strings.Repeat("k", 255), true},
		{"all printable ascii", func() string {
			var b strings.Builder
			for c := byte(0x20); c <= 0x7e; c++ {
				b.WriteByte(c)
			}
			return b.String()
		}(), true},
		{"256 chars", strings.Repeat("k", 256), false},
		{"newline", "abc\n", false},
		{"nul", "a\x00b", false},
		{"tab", "a\tb", false},
		{"delete", "a\x7fb", false},
		{"non-ascii", "clé", false},
	}
	for _, c := range cases {
		err := idempotency.ValidateKey(c.key)
		if c.valid {
			require.NoError(t, err, c.name)
			continue
		}
		requireAppErr(t, err, apperr.Invalid, "invalid_idempotency_key")
	}
}
