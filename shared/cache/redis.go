package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The Redis client's budget. A cached read saves a database round trip of about a
// millisecond, so waiting longer than a few for the cache defeats its purpose: an
// operation gives up after opTimeout, is never retried, and a failure makes the next
// operations skip Redis for downFor instead of each waiting out its own timeout.
const (
	dialTimeout = 200 * time.Millisecond
	ioTimeout   = 100 * time.Millisecond
	opTimeout   = 250 * time.Millisecond
	downFor     = time.Second
)

// Redis is a cache every instance shares (Memorystore in production), so a value
// written by one instance is read by all. An outage is an error on the operation that
// meets it (which ReadThrough reads as a miss) and, for downFor after it,
// ErrUnavailable at once.
type Redis struct {
	client    *redis.Client
	now       func() time.Time
	downUntil atomic.Int64 // unix nanoseconds; 0: up
}

// NewRedis connects lazily to the server url names (redis://[user:password@]host:port[/db],
// or rediss:// for TLS); creating it does no I/O.
func NewRedis(url string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_URL: %w", err)
	}
	opt.DialTimeout = dialTimeout
	opt.DialerRetries = 1
	opt.ReadTimeout = ioTimeout
	opt.WriteTimeout = ioTimeout
	opt.PoolTimeout = ioTimeout
	opt.MaxRetries = -1 // the caller falls back to the database instead
	opt.ContextTimeoutEnabled = true
	// RESP2 with nothing but the commands used: no HELLO negotiation, CLIENT SETINFO or
	// maintenance-notification handshake on connect, which Memorystore may refuse.
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Redis{client: redis.NewClient(opt), now: time.Now}, nil
}

// Get reads key.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := r.do(ctx, func(ctx context.Context) error {
		var err error
		v, err = r.client.Get(ctx, key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Set writes key with its expiry in one command.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return r.do(ctx, func(ctx context.Context) error { return r.client.Set(ctx, key, value, ttl).Err() })
}

// Delete removes key.
func (r *Redis) Delete(ctx context.Context, key string) error {
	return r.do(ctx, func(ctx context.Context) error { return r.client.Del(ctx, key).Err() })
}

// Close releases the client's connections.
func (r *Redis) Close() error { return r.client.Close() }

// do runs op within the budget, unless Redis failed within the last downFor.
func (r *Redis) do(ctx context.Context, op func(context.Context) error) error {
	if until := r.downUntil.Load(); until != 0 && r.now().UnixNano() < until {
		return ErrUnavailable
	}
	opCtx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := op(opCtx)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.downUntil.Store(0)
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about Redis.
	default:
		r.downUntil.Store(r.now().Add(downFor).UnixNano())
		err = fmt.Errorf("cache: redis: %w", err)
	}
	return err
}
