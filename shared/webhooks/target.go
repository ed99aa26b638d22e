package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// MaxURLLength bounds an endpoint URL.
const MaxURLLength = 2048

// DeliveryTimeout bounds one delivery attempt, from dialling to the response headers;
// a receiver that needs longer should acknowledge first and work afterwards.
const DeliveryTimeout = 10 * time.Second

// ErrTargetNotAllowed refuses a delivery whose address is loopback, private,
// link-local or otherwise internal.
var ErrTargetNotAllowed = errors.New("webhooks: the target address is not allowed")

// cgnat is the shared address space of RFC 6598: not public, so refused like the
// private ranges netip knows.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internalAddr reports whether a is an address a tenant's webhook must not reach: the
// instance itself, the VPC and the metadata server (169.254.169.254, link-local).
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}

// checkURL records in f what is wrong with raw as an endpoint URL and reports whether
// its host is an internal address that allowPrivate does not admit. Names are checked
// again after resolution when delivering (see NewClient); here only literals and
// localhost can be refused, but refusing them early gives the tenant a clear answer.
func checkURL(raw string, allowPrivate bool, f apperr.Fields) (refused bool) {
	add := func(msg string) { f.Add("url", msg) }
	if len(raw) > MaxURLLength {
		add(fmt.Sprintf("must be at most %d characters", MaxURLLength))
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		add("must be an absolute http or https URL")
		return false
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		add("must be an absolute http or https URL")
		return false
	}
	if u.User != nil {
		add("must not contain user information")
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		add("must name a host")
		return false
	}
	if allowPrivate {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil && internalAddr(a) {
		return true
	}
	return false
}

// NewClient is the HTTP client deliveries use: no proxy, no redirects (a 3xx is the
// receiver's answer, and a failure), DeliveryTimeout per attempt. Unless allowPrivate,
// every connection's address is checked after DNS resolution, right before the
// connect, so a name that resolves (or is rebound) to an internal address is refused.
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refuseInternal
	}
	return &http.Client{
		Timeout: DeliveryTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: DeliveryTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refuseInternal is a net.Dialer Control: address is the resolved ip:port about to be
// connected.
func refuseInternal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrTargetNotAllowed, address)
	}
	if internalAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is internal", ErrTargetNotAllowed, ap.Addr())
	}
	return nil
}
