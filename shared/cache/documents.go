package cache

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"
)

// DocumentTTL is how long a fetched key set is shared. Issuers publish a new key before
// they sign with it, so a key set a minute old already holds every key in use; a token
// naming a key published within that minute is refused until the entry expires.
const DocumentTTL = time.Minute

// Documents is an http.RoundTripper that shares successful GET responses (the JSON
// Web Key Sets that tokens are verified against) across instances through Cache, so a
// fleet of instances asks an identity provider for its keys about once a TTL rather
// than once per instance and refresh. Only a 200's body is cached; anything else, and
// every other method, goes to Next unchanged. A cache failure is a miss.
type Documents struct {
	Cache Cache
	TTL   time.Duration
	Next  http.RoundTripper
}

// RoundTrip serves r from the cache when it can.
func (d Documents) RoundTrip(r *http.Request) (*http.Response, error) {
	next := d.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if d.Cache == nil || r.Method != http.MethodGet {
		return next.RoundTrip(r)
	}
	ctx := r.Context()
	key := "document:" + r.URL.String()
	v, found, err := d.Cache.Get(ctx, key)
	if err != nil {
		logFailure(ctx, "get", key, err)
	}
	if found {
		return cachedResponse(r, v), nil
	}
	resp, err := next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ttl := d.TTL
	if ttl <= 0 {
		ttl = DocumentTTL
	}
	Put(ctx, d.Cache, key, body, ttl)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

func cachedResponse(r *http.Request, body []byte) *http.Response {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}},
		Body:   io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}
}
