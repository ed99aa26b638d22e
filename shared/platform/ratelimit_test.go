package platform

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimiterTokenBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewRateLimiter(2, 3, clock.now) // 2 per second, bursts of 3
	tenant := uuid.New()

	for i := range 3 {
		ok, _ := l.Allow(tenant)
		require.True(t, ok, "request %d of the burst", i+1)
	}
	ok, wait := l.Allow(tenant)
	require.False(t, ok, "the burst is spent")
	require.Equal(t, 500*time.Millisecond, wait, "one token comes back every half second")

	clock.advance(250 * time.Millisecond)
	ok, wait = l.Allow(tenant)
	require.False(t, ok)
	require.Equal(t, 250*time.Millisecond, wait)

	clock.advance(250 * time.Millisecond)
	ok, _ = l.Allow(tenant)
	require.True(t, ok, "half a second refilled one token")
	ok, _ = l.Allow(tenant)
	require.False(t, ok)

	// A long pause refills to the burst and no further.
	clock.advance(time.Hour)
	for range 3 {
		ok, _ = l.Allow(tenant)
		require.True(t, ok)
	}
	ok, _ = l.Allow(tenant)
	require.False(t, ok, "idle time does not bank more than the burst")

	// A clock stepping back neither refills nor drains.
	clock.advance(-time.Minute)
	ok, _ = l.Allow(tenant)
	require.False(t, ok)
	clock.advance(time.Minute + 500*time.Millisecond)
	ok, _ = l.Allow(tenant)
	require.True(t, ok)
}

func TestRateLimiterTenantsAreIndependent(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewRateLimiter(1, 2, clock.now)
	noisy, quiet := uuid.New(), uuid.New()
	for range 2 {
		ok, _ := l.Allow(noisy)
		require.True(t, ok)
	}
	for range 100 {
		ok, _ := l.Allow(noisy)
		require.False(t, ok)
	}
	for range 2 {
		ok, _ := l.Allow(quiet)
		require.True(t, ok, "another tenant's flood does not touch this tenant's bucket")
	}
}

func TestRateLimiterOffAndEdges(t *testing.T) {
	require.Nil(t, NewRateLimiter(0, 10, nil), "0 turns it off")
	require.Nil(t, NewRateLimiter(-1, 10, nil))
	var off *RateLimiter
	ok, wait := off.Allow(uuid.New())
	require.True(t, ok, "a nil limiter allows everything")
	require.Zero(t, wait)

	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewRateLimiter(0.1, 0, clock.now) // a burst below 1 is 1
	ok, _ = l.Allow(uuid.Nil)
	require.True(t, ok)
	ok, wait = l.Allow(uuid.Nil)
	require.False(t, ok)
	require.Equal(t, 10*time.Second, wait)
}

func TestRateLimiterForgetsIdleTenants(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewRateLimiter(10, 10, clock.now) // refills in one second
	for range 50 {
		l.Allow(uuid.New())
	}
	require.Equal(t, 50, l.size())
	clock.advance(sweepEvery)
	active := uuid.New()
	l.Allow(active)
	require.Equal(t, 1, l.size(), "refilled buckets are dropped; the one just used stays")

	// A dropped bucket comes back full, exactly as if it had been kept.
	clock.advance(sweepEvery)
	for range 10 {
		ok, _ := l.Allow(active)
		require.True(t, ok)
	}
	ok, _ := l.Allow(active)
	require.False(t, ok)
}

func TestRetryAfterSeconds(t *testing.T) {
	for wait, want := range map[time.Duration]int{
		0: 1, time.Millisecond: 1, time.Second: 1, time.Second + time.Nanosecond: 2, 1500 * time.Millisecond: 2, 10 * time.Second: 10,
	} {
		require.Equal(t, want, retryAfterSeconds(wait), wait)
	}
}

func TestLimitTenantMiddleware(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	l := NewRateLimiter(0.25, 1, clock.now)
	served := 0
	h := limitTenant(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	tenant := uuid.New()
	call := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/invoices", nil)
		r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{TenantID: tenant, Subject: "s"}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	require.Equal(t, http.StatusOK, call().Code)
	clock.advance(500 * time.Millisecond)
	w := call()
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "4", w.Header().Get("Retry-After"), "3.5 s until the next token, rounded up")
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	require.Contains(t, w.Body.String(), `"code":"rate_limited"`)
	require.Equal(t, 1, served, "the refused request never reached the handler")

	// Off, every request goes through.
	off := limitTenant(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	for range 10 {
		off.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	require.Equal(t, 11, served)
}
