package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDocumentsShareKeySetsAcrossInstances(t *testing.T) {
	var fetches atomic.Int32
	status := atomic.Int32{}
	status.Store(http.StatusOK)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, `{"keys":["`+r.URL.Path+`"]}`)
	}))
	defer origin.Close()

	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	shared := newMemory(100, func() time.Time { return now })
	get := func(c Cache, method, path string) (int, string) {
		t.Helper()
		client := &http.Client{Transport: Documents{Cache: c, Next: origin.Client().Transport}}
		req, err := http.NewRequest(method, origin.URL+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	// Two instances sharing the cache fetch the key set once.
	for range 3 {
		code, body := get(shared, http.MethodGet, "/jwks")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, `{"keys":["/jwks"]}`, body)
	}
	require.EqualValues(t, 1, fetches.Load())
	get(shared, http.MethodGet, "/other")
	require.EqualValues(t, 2, fetches.Load(), "each URL is its own entry")

	// After the TTL the next request goes to the origin again.
	now = now.Add(DocumentTTL)
	get(shared, http.MethodGet, "/jwks")
	require.EqualValues(t, 3, fetches.Load())

	// Failures are never cached; other methods pass through.
	status.Store(http.StatusServiceUnavailable)
	code, _ := get(shared, http.MethodGet, "/failing")
	require.Equal(t, http.StatusServiceUnavailable, code)
	get(shared, http.MethodGet, "/failing")
	require.EqualValues(t, 5, fetches.Load())
	status.Store(http.StatusOK)
	get(shared, http.MethodPost, "/jwks")
	require.EqualValues(t, 6, fetches.Load())

	// A cache that is down, or none, costs only the miss.
	for _, c := range []Cache{failing{}, nil} {
		code, body := get(c, http.MethodGet, "/jwks")
		require.Equal(t, http.StatusOK, code)
		require.True(t, strings.HasPrefix(body, `{"keys"`))
	}
	require.EqualValues(t, 8, fetches.Load())
}
