package platform

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// RateLimiter is a token bucket per tenant: a tenant may make RATE_LIMIT_BURST
// requests at once and RATE_LIMIT_PER_SECOND on average, so one tenant's flood cannot
// starve the others of an instance's connections and CPU.
//
// The buckets live in the instance's memory and are not shared: the limit is per
// instance. Cloud Run spreads a tenant's requests over its instances, so a tenant's
// effective limit is up to RATE_LIMIT_PER_SECOND times the number of instances serving
// it (max instances × limit at worst); size the limit with that in mind. Holding the
// buckets in memory keeps the check free of I/O, which a shared store (Redis) would
// add to every request.
type RateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[uuid.UUID]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery is how often buckets that have refilled are forgotten: a full bucket is
// the same as no bucket, so memory follows the tenants active recently, not every
// tenant the instance has ever seen.
const sweepEvery = time.Minute

// NewRateLimiter limits each tenant to perSecond requests on average with bursts of up
// to burst (at least 1). A perSecond of zero or less turns limiting off: it returns nil,
// and a nil limiter allows everything.
func NewRateLimiter(perSecond float64, burst int, now func() time.Time) *RateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{rate: perSecond, burst: float64(max(burst, 1)), now: now, buckets: map[uuid.UUID]*bucket{}}
}

// Allow takes one request from tenant's bucket. When the bucket is empty it reports how
// long until the next request would be allowed.
func (l *RateLimiter) Allow(tenant uuid.UUID) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, found := l.buckets[tenant]
	switch {
	case !found:
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[tenant] = b
	case now.After(b.last):
		// A clock that steps back refills nothing rather than draining the bucket.
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

func (l *RateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	// Tokens never go below zero, so a bucket untouched for burst/rate is full.
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for id, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, id)
		}
	}
}

// size is the number of buckets held, for tests of the sweep.
func (l *RateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// retryAfterSeconds is the Retry-After value for a wait: whole seconds, rounded up,
// never less than one (zero would invite an immediate retry into the same refusal).
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// limitTenant refuses a tenant's request with 429 once the tenant has used up its
// bucket. It runs after authentication, so the bucket is the verified token's tenant
// (a caller cannot spend another tenant's allowance, nor escape its own by naming
// another), and before authorisation, so refused calls count too.
func limitTenant(l *RateLimiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		if ok, wait := l.Allow(p.TenantID); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			return apperr.New(apperr.RateLimited, "rate_limited", "too many requests for this tenant; retry after the number of seconds in Retry-After")
		}
		next.ServeHTTP(w, r)
		return nil
	})
}
