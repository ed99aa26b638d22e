package issuers

import (
	"context"
	"sync"
	"time"
)

// lazyCache holds values built on first use and shared by every request of the
// instance: one build per key at a time (concurrent requests wait for it rather than
// repeat it), kept for ttl (0: until evicted), a failed build remembered for failTTL so
// a failing upstream is not retried by every request (0: not remembered), and at most
// max entries.
type lazyCache[T any] struct {
	ttl, failTTL time.Duration
	max          int
	now          func() time.Time
	// release is called with a built value the cache drops, to stop what it runs.
	release func(T)

	mu      sync.Mutex
	entries map[string]*lazyEntry[T]
}

type lazyEntry[T any] struct {
	ready chan struct{} // closed when the build has finished; val, err and at are set then
	val   T
	err   error
	at    time.Time
}

func newLazyCache[T any](ttl, failTTL time.Duration, max int, now func() time.Time, release func(T)) *lazyCache[T] {
	return &lazyCache[T]{ttl: ttl, failTTL: failTTL, max: max, now: now, release: release, entries: map[string]*lazyEntry[T]{}}
}

// get returns key's value, building it with build when it is missing or stale. A
// caller whose ctx ends while another request builds gets ctx's error; the build goes
// on for the others.
func (c *lazyCache[T]) get(ctx context.Context, key string, build func() (T, error)) (T, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && c.stale(e) {
		c.drop(key, e)
		ok = false
	}
	builder := !ok
	if builder {
		c.makeRoom()
		e = &lazyEntry[T]{ready: make(chan struct{})}
		c.entries[key] = e
	}
	c.mu.Unlock()

	if builder {
		e.val, e.err = build()
		e.at = c.now()
		close(e.ready)
		if e.err != nil && c.failTTL == 0 {
			c.mu.Lock()
			if c.entries[key] == e {
				delete(c.entries, key)
			}
			c.mu.Unlock()
		}
		return e.val, e.err
	}
	select {
	case <-e.ready:
		return e.val, e.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// stale reports whether e has finished and outlived its time; c.mu is held.
func (c *lazyCache[T]) stale(e *lazyEntry[T]) bool {
	select {
	case <-e.ready:
	default:
		return false // still building: wait for it
	}
	age := c.now().Sub(e.at)
	if e.err != nil {
		return age >= c.failTTL
	}
	return c.ttl > 0 && age >= c.ttl
}

// drop removes e, releasing its value; c.mu is held and e has finished.
func (c *lazyCache[T]) drop(key string, e *lazyEntry[T]) {
	delete(c.entries, key)
	if e.err == nil && c.release != nil {
		c.release(e.val)
	}
}

// makeRoom keeps the cache under max entries: stale ones go first; if that is not
// enough, finished entries go in map order (effectively at random) down to three
// quarters of max, so a flood of distinct keys costs amortised constant time per key
// rather than a scan per insertion. c.mu is held.
func (c *lazyCache[T]) makeRoom() {
	if len(c.entries) < c.max {
		return
	}
	for k, e := range c.entries {
		if c.stale(e) {
			c.drop(k, e)
		}
	}
	for k, e := range c.entries {
		if len(c.entries) <= c.max*3/4 {
			return
		}
		select {
		case <-e.ready:
			c.drop(k, e)
		default:
		}
	}
}

// close drops every finished entry; entries still building are released by nobody,
// so close is for the end of an instance's life (and of a test).
func (c *lazyCache[T]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		select {
		case <-e.ready:
			c.drop(k, e)
		default:
		}
	}
}
