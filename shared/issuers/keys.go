package issuers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

// MaxDocumentBytes bounds a discovery document or key set. Real ones are a few
// kilobytes; the bound keeps a hostile or broken issuer from filling an instance's
// memory.
const MaxDocumentBytes = 256 << 10

// FetchTimeout bounds one fetch of a discovery document or key set, from dialling to
// the end of the body.
const FetchTimeout = 10 * time.Second

// errDocumentTooLarge is a body over MaxDocumentBytes.
var errDocumentTooLarge = errors.New("issuers: document larger than allowed")

// errAddressNotAllowed refuses a connection to an internal address.
var errAddressNotAllowed = errors.New("issuers: address not allowed")

// NewClient is the HTTP client that fetches issuers' documents: FetchTimeout per
// request, no proxy, no redirects (a discovery document or key set that moved is an
// issuer to reconfigure, not to chase), bodies cut at MaxDocumentBytes. Every
// connection's address is checked after DNS resolution, so a name that resolves (or is
// rebound) to an internal address is refused; allowLoopback admits loopback addresses
// for development and tests.
func NewClient(allowLoopback bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error { return checkDial(address, allowLoopback) }}
	return &http.Client{
		Timeout: FetchTimeout,
		Transport: limitBodies{next: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: FetchTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkDial is a net.Dialer Control: address is the resolved ip:port about to be
// connected.
func checkDial(address string, allowLoopback bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errAddressNotAllowed, address)
	}
	a := ap.Addr().Unmap()
	if allowLoopback && a.IsLoopback() {
		return nil
	}
	if internalAddr(a) {
		return fmt.Errorf("%w: %s is internal", errAddressNotAllowed, a)
	}
	return nil
}

// limitBodies cuts every response body at MaxDocumentBytes. keyfunc decodes key sets
// straight from the body, so the bound has to be in the transport; a body over it
// fails the decode instead of being silently truncated into something valid.
type limitBodies struct{ next http.RoundTripper }

func (l limitBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxDocumentBytes {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes", errDocumentTooLarge, resp.ContentLength)
	}
	resp.Body = &limitedBody{r: resp.Body, left: MaxDocumentBytes}
	return resp, nil
}

type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte past the limit tells a body that ends exactly at it from a longer one.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errDocumentTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// keys fetches and keeps issuers' signing keys: one keyfunc per key set URL per
// instance, created on first use, refreshed every refreshInterval in the background
// and on a token whose kid it does not know, at most once per unknownKIDEvery per key
// set: a flood of tokens with made-up kids costs the issuer one fetch per interval,
// and a request waits for such a refresh only when one is due within FetchTimeout.
// Discovered key set URLs are kept for refreshInterval.
type keys struct {
	client          *http.Client
	allowLoopback   bool
	refreshInterval time.Duration
	unknownKIDEvery time.Duration
	logger          logger

	sets      *lazyCache[keySet]
	discovery *lazyCache[string]
}

// maxKeySets bounds the key sets one instance keeps (each with a refresh goroutine):
// far more issuers than one instance serves tokens of in practice.
const maxKeySets = 256

// retryAfterFailure is how long a failed fetch is remembered: requests meanwhile are
// refused without asking the issuer again.
const retryAfterFailure = 10 * time.Second

func newKeys(client *http.Client, allowLoopback bool, refreshInterval, unknownKIDEvery time.Duration, now func() time.Time, logger logger) *keys {
	k := &keys{client: client, allowLoopback: allowLoopback, refreshInterval: refreshInterval,
		unknownKIDEvery: unknownKIDEvery, logger: logger}
	k.sets = newLazyCache(0, retryAfterFailure, maxKeySets, now, func(s keySet) { s.stop() })
	k.discovery = newLazyCache[string](refreshInterval, retryAfterFailure, maxKeySets, now, nil)
	return k
}

// keySet is a keyfunc with the cancel of its refresh goroutine.
type keySet struct {
	kf   keyfunc.Keyfunc
	stop context.CancelFunc
}

// keyfunc returns the keyfunc of the issuer's key set: jwksURL, or the one its
// discovery document names when jwksURL is empty.
func (k *keys) keyfunc(ctx context.Context, issuer, jwksURL string) (keyfunc.Keyfunc, error) {
	if jwksURL == "" {
		var err error
		if jwksURL, err = k.discovery.get(ctx, issuer, func() (string, error) { return k.discover(issuer) }); err != nil {
			return nil, err
		}
	}
	s, err := k.sets.get(ctx, jwksURL, func() (keySet, error) { return k.newKeySet(jwksURL) })
	return s.kf, err
}

// newKeySet fetches the key set at url, failing when that first fetch fails (so the
// failure is remembered for retryAfterFailure, not turned into an empty key set).
func (k *keys) newKeySet(url string) (keySet, error) {
	// The refresh goroutine lives as long as the key set stays cached, not as long as
	// the request that happened to create it.
	ctx, stop := context.WithCancel(context.Background())
	fail := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:                    k.client,
		HTTPTimeout:               FetchTimeout,
		NoErrorReturnFirstHTTPReq: &fail,
		RefreshInterval:           k.refreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(k.unknownKIDEvery), 1),
		// A request waits for an unknown-kid refresh only when the limiter allows one
		// within this time, and is refused at once otherwise. It also bounds that
		// refresh's fetch.
		RateLimitWaitMax: FetchTimeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				k.logger.get().WarnContext(ctx, "issuer key set refresh failed", "url", u, "error", err.Error())
			}
		},
	})
	if err != nil {
		stop()
		k.logger.get().Warn("issuer key set unavailable", "url", url, "error", err.Error())
		return keySet{}, err
	}
	return keySet{kf: kf, stop: stop}, nil
}

// discoveryDocument is the part of OpenID Provider Metadata verification needs.
type discoveryDocument struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discover reads the issuer's key set URL from its discovery document (OIDC Discovery
// §4): the document must name the same issuer, and its jwks_uri must pass the same
// rules as a configured one.
func (k *keys) discover(issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
	defer cancel()
	url := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	jwksURL, err := k.fetchDiscovery(ctx, url, issuer)
	if err != nil {
		k.logger.get().WarnContext(ctx, "issuer discovery failed", "url", url, "error", err.Error())
	}
	return jwksURL, err
}

func (k *keys) fetchDiscovery(ctx context.Context, url, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("issuers: discovery answered %d", resp.StatusCode)
	}
	var doc discoveryDocument
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("issuers: discovery document: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("issuers: discovery document names issuer %q", doc.Issuer)
	}
	if msg := checkURL(doc.JWKSURI, k.allowLoopback, true); msg != "" {
		return "", fmt.Errorf("issuers: discovery jwks_uri %q %s", doc.JWKSURI, msg)
	}
	return doc.JWKSURI, nil
}

func (k *keys) close() {
	k.sets.close()
	k.discovery.close()
}
