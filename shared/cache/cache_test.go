package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestMemory(t *testing.T) {
	ctx := context.Background()

	t.Run("hit, miss, delete", func(t *testing.T) {
		m := NewMemory(10)
		_, found, err := m.Get(ctx, "a")
		require.NoError(t, err)
		require.False(t, found)

		require.NoError(t, m.Set(ctx, "a", []byte("1"), time.Minute))
		v, found, err := m.Get(ctx, "a")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("1"), v)

		require.NoError(t, m.Delete(ctx, "a"))
		require.NoError(t, m.Delete(ctx, "a"), "deleting an absent key is fine")
		_, found, _ = m.Get(ctx, "a")
		require.False(t, found)
	})

	t.Run("values expire with their TTL", func(t *testing.T) {
		c := newClock()
		m := newMemory(10, c.now)
		require.NoError(t, m.Set(ctx, "a", []byte("1"), 5*time.Second))
		c.advance(4999 * time.Millisecond)
		_, found, _ := m.Get(ctx, "a")
		require.True(t, found)
		c.advance(time.Millisecond)
		_, found, _ = m.Get(ctx, "a")
		require.False(t, found)
		require.Zero(t, m.Len(), "an expired entry found is dropped")
	})

	t.Run("bounded: the least recently used entry makes room", func(t *testing.T) {
		m := NewMemory(2)
		require.NoError(t, m.Set(ctx, "a", []byte("1"), time.Minute))
		require.NoError(t, m.Set(ctx, "b", []byte("2"), time.Minute))
		_, _, _ = m.Get(ctx, "a") // b is now the least recently used
		require.NoError(t, m.Set(ctx, "c", []byte("3"), time.Minute))
		require.Equal(t, 2, m.Len())
		_, found, _ := m.Get(ctx, "b")
		require.False(t, found)
		for _, k := range []string{"a", "c"} {
			_, found, _ := m.Get(ctx, k)
			require.True(t, found, k)
		}
		require.NoError(t, m.Set(ctx, "a", []byte("4"), time.Minute), "overwriting does not evict")
		require.Equal(t, 2, m.Len())
	})

	t.Run("values are copied in and out", func(t *testing.T) {
		m := NewMemory(10)
		in := []byte("abc")
		require.NoError(t, m.Set(ctx, "a", in, time.Minute))
		in[0] = 'x'
		out, _, _ := m.Get(ctx, "a")
		require.Equal(t, []byte("abc"), out)
		out[0] = 'y'
		again, _, _ := m.Get(ctx, "a")
		require.Equal(t, []byte("abc"), again)
	})
}

func newRedis(t *testing.T) (*Redis, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	r, err := NewRedis("redis://" + mr.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, mr
}

func TestRedis(t *testing.T) {
	ctx := context.Background()

	t.Run("hit, miss, delete", func(t *testing.T) {
		r, mr := newRedis(t)
		_, found, err := r.Get(ctx, "a")
		require.NoError(t, err)
		require.False(t, found)

		require.NoError(t, r.Set(ctx, "a", []byte("1"), time.Minute))
		v, found, err := r.Get(ctx, "a")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("1"), v)
		require.Equal(t, time.Minute, mr.TTL("a"), "the expiry is set with the value")

		require.NoError(t, r.Delete(ctx, "a"))
		_, found, err = r.Get(ctx, "a")
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("values expire with their TTL", func(t *testing.T) {
		r, mr := newRedis(t)
		require.NoError(t, r.Set(ctx, "a", []byte("1"), 1500*time.Millisecond))
		mr.FastForward(1499 * time.Millisecond)
		_, found, err := r.Get(ctx, "a")
		require.NoError(t, err)
		require.True(t, found)
		mr.FastForward(time.Millisecond)
		_, found, err = r.Get(ctx, "a")
		require.NoError(t, err)
		require.False(t, found)
	})

	t.Run("an outage fails fast, then skips Redis for a while, then recovers", func(t *testing.T) {
		r, mr := newRedis(t)
		c := newClock()
		r.now = c.now
		require.NoError(t, r.Set(ctx, "a", []byte("1"), time.Minute))

		mr.Close()
		start := time.Now()
		_, _, err := r.Get(ctx, "a")
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrUnavailable)
		require.Less(t, time.Since(start), 2*opTimeout, "a dead server costs at most the budget")

		// Marked down: nothing is tried until downFor has passed.
		_, _, err = r.Get(ctx, "a")
		require.ErrorIs(t, err, ErrUnavailable)
		require.ErrorIs(t, r.Set(ctx, "a", []byte("2"), time.Minute), ErrUnavailable)
		require.ErrorIs(t, r.Delete(ctx, "a"), ErrUnavailable)

		require.NoError(t, mr.Restart())
		c.advance(downFor)
		v, found, err := r.Get(ctx, "a")
		require.NoError(t, err)
		require.True(t, found, "the restarted server kept its data")
		require.Equal(t, []byte("1"), v)
	})

	t.Run("a caller's cancelled context does not mark Redis down", func(t *testing.T) {
		r, _ := newRedis(t)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err := r.Get(cancelled, "a")
		require.Error(t, err)
		_, _, err = r.Get(ctx, "a")
		require.NoError(t, err)
	})

	t.Run("a malformed URL is refused", func(t *testing.T) {
		_, err := NewRedis("http://example.com")
		require.Error(t, err)
	})
}

// failing is a cache whose every operation fails.
type failing struct{}

var errBroken = errors.New("broken")

func (failing) Get(context.Context, string) ([]byte, bool, error)        { return nil, false, errBroken }
func (failing) Set(context.Context, string, []byte, time.Duration) error { return errBroken }
func (failing) Delete(context.Context, string) error                     { return errBroken }

func TestReadThrough(t *testing.T) {
	ctx := context.Background()
	loads := 0
	load := func(v string, ttl time.Duration) Loader {
		return func(context.Context) ([]byte, time.Duration, error) {
			loads++
			return []byte(v), ttl, nil
		}
	}

	t.Run("a miss loads and stores, a hit does not load", func(t *testing.T) {
		loads = 0
		m := NewMemory(10)
		v, err := ReadThrough(ctx, m, "k", load("1", time.Minute))
		require.NoError(t, err)
		require.Equal(t, []byte("1"), v)
		v, err = ReadThrough(ctx, m, "k", load("2", time.Minute))
		require.NoError(t, err)
		require.Equal(t, []byte("1"), v)
		require.Equal(t, 1, loads)
	})

	t.Run("a zero TTL is not stored", func(t *testing.T) {
		loads = 0
		m := NewMemory(10)
		for range 2 {
			_, err := ReadThrough(ctx, m, "k", load("1", 0))
			require.NoError(t, err)
		}
		require.Equal(t, 2, loads)
		require.Zero(t, m.Len())
	})

	t.Run("a failing or missing cache reads the source", func(t *testing.T) {
		for name, c := range map[string]Cache{"failing": failing{}, "nil": nil} {
			loads = 0
			v, err := ReadThrough(ctx, c, "k", load("1", time.Minute))
			require.NoError(t, err, name)
			require.Equal(t, []byte("1"), v, name)
			require.Equal(t, 1, loads, name)
			Put(ctx, c, "k", []byte("1"), time.Minute)
			Forget(ctx, c, "k")
		}
	})

	t.Run("the source's error is returned", func(t *testing.T) {
		_, err := ReadThrough(ctx, NewMemory(1), "k", func(context.Context) ([]byte, time.Duration, error) {
			return nil, 0, errBroken
		})
		require.ErrorIs(t, err, errBroken)
	})
}
