package webhooks

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInternalAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1":        true,
		"::1":              true,
		"0.0.0.0":          true,
		"10.0.0.1":         true,
		"172.31.255.255":   true,
		"192.168.0.1":      true,
		"100.127.0.1":      true,
		"169.254.169.254":  true,
		"fe80::1":          true,
		"fc00::1":          true,
		"::ffff:127.0.0.1": true,
		"224.0.0.1":        true,
		"8.8.8.8":          false,
		"172.32.0.1":       false,
		"100.128.0.1":      false,
		"2001:4860::8888":  false,
	} {
		require.Equal(t, want, internalAddr(netip.MustParseAddr(s)), s)
	}
}

func TestClientRefusesInternalAddressesWhenDialling(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)

	// The URL's host is checked after resolution: "localhost" resolves to loopback, the
	// way a public name rebound to an internal address would.
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		_, err := NewClient(false).Post(u, "application/json", nil)
		require.ErrorIs(t, err, ErrTargetNotAllowed, u)
	}

	resp, err := NewClient(true).Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	resp, err := NewClient(true).Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	require.False(t, followed)
}
