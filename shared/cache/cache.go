// Package cache is the one interface Ledgerline caches through: bytes under a key with a
// time to live, nothing more. Memory (in-process, bounded) serves an instance when no
// Redis is configured; Redis (Memorystore in production) is shared by every instance.
//
// A cache is never a source of truth and never a reason to fail. Callers read through
// it with ReadThrough, which treats every cache error as a miss and goes to the source,
// and they bound how stale a value may be with its TTL: a write elsewhere that could not
// reach the cache (another instance's memory, a Redis outage) is seen once the TTL ends.
package cache

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Cache stores values by key for a while.
type Cache interface {
	// Get returns the value stored under key; found is false when there is none or it
	// has expired.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Set stores value under key for ttl (which must be positive).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrUnavailable is returned without trying while a cache is known to be down, so an
// outage costs callers nothing but the miss.
var ErrUnavailable = errors.New("cache: unavailable")

// Loader reads a value from its source, with how long it may be cached (0: not at all).
type Loader func(ctx context.Context) (value []byte, ttl time.Duration, err error)

// ReadThrough returns the value cached under key or, on a miss, load's, which it then
// caches for the TTL load gives. A cache failure is logged and read as a miss, so only
// load's own error is ever returned. A nil c reads the source every time.
func ReadThrough(ctx context.Context, c Cache, key string, load Loader) ([]byte, error) {
	if c != nil {
		v, found, err := c.Get(ctx, key)
		switch {
		case err != nil:
			logFailure(ctx, "get", key, err)
		case found:
			return v, nil
		}
	}
	v, ttl, err := load(ctx)
	if err != nil {
		return nil, err
	}
	if ttl > 0 {
		Put(ctx, c, key, v, ttl)
	}
	return v, nil
}

// Put stores value under key, logging a failure instead of returning it: the value is
// already safe in its source, and the TTL of whatever the cache still holds bounds the
// staleness.
func Put(ctx context.Context, c Cache, key string, value []byte, ttl time.Duration) {
	if c == nil {
		return
	}
	if err := c.Set(ctx, key, value, ttl); err != nil {
		logFailure(ctx, "set", key, err)
	}
}

// Forget removes key, logging a failure like Put.
func Forget(ctx context.Context, c Cache, key string) {
	if c == nil {
		return
	}
	if err := c.Delete(ctx, key); err != nil {
		logFailure(ctx, "delete", key, err)
	}
}

// logFailure records a cache operation that failed. Calls refused while a cache is
// known to be down are not logged again: the failure that marked it down was.
func logFailure(ctx context.Context, op, key string, err error) {
	if errors.Is(err, ErrUnavailable) {
		return
	}
	slog.WarnContext(ctx, "cache unavailable; using the database", "op", op, "key", key, "error", err.Error())
}
