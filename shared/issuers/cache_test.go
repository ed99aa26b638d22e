package issuers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

func TestLazyCacheBuildsOncePerKey(t *testing.T) {
	c := newLazyCache[int](time.Minute, 0, 100, time.Now, nil)
	var builds atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			v, err := c.get(context.Background(), "k", func() (int, error) {
				builds.Add(1)
				<-release
				return 7, nil
			})
			assert.NoError(t, err)
			assert.Equal(t, 7, v)
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	require.Equal(t, int32(1), builds.Load())
}

func TestLazyCacheExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	var released []int
	c := newLazyCache(time.Minute, 10*time.Second, 100, clk.now, func(v int) { released = append(released, v) })
	n := 0
	build := func() (int, error) { n++; return n, nil }
	fail := func() (int, error) { n++; return 0, errors.New("down") }

	v, _ := c.get(context.Background(), "ok", build)
	require.Equal(t, 1, v)
	clk.advance(59 * time.Second)
	v, _ = c.get(context.Background(), "ok", build)
	require.Equal(t, 1, v, "fresh")
	clk.advance(time.Second)
	v, _ = c.get(context.Background(), "ok", build)
	require.Equal(t, 2, v, "rebuilt after ttl")
	require.Equal(t, []int{1}, released, "the stale value is released")

	_, err := c.get(context.Background(), "bad", fail)
	require.Error(t, err)
	_, err = c.get(context.Background(), "bad", build)
	require.Error(t, err, "a failure is remembered for failTTL")
	clk.advance(10 * time.Second)
	_, err = c.get(context.Background(), "bad", build)
	require.NoError(t, err)

	forget := newLazyCache[int](time.Minute, 0, 100, clk.now, nil)
	_, err = forget.get(context.Background(), "bad", fail)
	require.Error(t, err)
	_, err = forget.get(context.Background(), "bad", build)
	require.NoError(t, err, "failTTL 0 remembers no failure")
}

func TestLazyCacheIsBounded(t *testing.T) {
	released := 0
	c := newLazyCache(time.Hour, 0, 100, time.Now, func(int) { released++ })
	for i := range 1000 {
		_, err := c.get(context.Background(), fmt.Sprint(i), func() (int, error) { return i, nil })
		require.NoError(t, err)
		require.LessOrEqual(t, len(c.entries), 100)
	}
	require.Equal(t, 1000-len(c.entries), released)
	c.close()
	require.Equal(t, 1000, released)
	require.Empty(t, c.entries)
}

func TestLazyCacheWaiterGivesUp(t *testing.T) {
	c := newLazyCache[int](time.Minute, 0, 10, time.Now, nil)
	started, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = c.get(context.Background(), "k", func() (int, error) { close(started); <-release; return 1, nil })
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.get(ctx, "k", func() (int, error) { return 2, nil })
	require.ErrorIs(t, err, context.Canceled)
	close(release)
}
