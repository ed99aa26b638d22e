// Package issuerstest is an OpenID provider for tests: a discovery document and a key
// set served over HTTP, with RSA and EC keys generated in the test, rotation by
// swapping the published set, counts of the fetches, and tokens signed with any of its
// keys (or with anything else, for attacks).
package issuerstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Paths the provider serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks.json"
)

// Key is one of the provider's signing keys.
type Key struct {
	ID     string
	Method jwt.SigningMethod
	Signer crypto.Signer
}

// Public is the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// Provider is a running OpenID provider. Issuer is the server's URL; tokens name it as
// iss.
type Provider struct {
	Server *httptest.Server
	Issuer string

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64

	mu        sync.Mutex
	keys      map[string]*Key
	published []string
	padding   int
	discovery map[string]any
}

// New starts a provider with two published keys, "rsa-1" (RS256) and "ec-1" (ES256),
// stopped when t ends.
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{keys: map[string]*Key{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Server.Close)
	p.Issuer = p.Server.URL
	p.AddKey(t, "rsa-1", jwt.SigningMethodRS256)
	p.AddKey(t, "ec-1", jwt.SigningMethodES256)
	p.Publish("rsa-1", "ec-1")
	return p
}

// JWKSURL is where the key set is served.
func (p *Provider) JWKSURL() string { return p.Server.URL + JWKSPath }

// AddKey generates a key for method (RS*/PS* as 2048-bit RSA, ES256/ES384 on P-256/
// P-384) under kid, without publishing it.
func (p *Provider) AddKey(t testing.TB, kid string, method jwt.SigningMethod) *Key {
	t.Helper()
	var signer crypto.Signer
	var err error
	switch {
	case strings.HasPrefix(method.Alg(), "RS"), strings.HasPrefix(method.Alg(), "PS"):
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case method.Alg() == "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case method.Alg() == "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("issuerstest: no key for %s", method.Alg())
	}
	if err != nil {
		t.Fatal(err)
	}
	k := &Key{ID: kid, Method: method, Signer: signer}
	p.mu.Lock()
	p.keys[kid] = k
	p.mu.Unlock()
	return k
}

// Key returns the key kid.
func (p *Provider) Key(t testing.TB, kid string) *Key {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.keys[kid]
	if !ok {
		t.Fatalf("issuerstest: no key %q", kid)
	}
	return k
}

// Publish makes the served key set exactly kids: rotation in, rotation out.
func (p *Provider) Publish(kids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append([]string(nil), kids...)
}

// Pad makes the served key set n bytes larger, for size limits.
func (p *Provider) Pad(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.padding = n
}

// ServeDiscovery replaces the discovery document (nil: the provider's own).
func (p *Provider) ServeDiscovery(doc map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discovery = doc
}

// JWKSFetches counts the requests for the key set so far.
func (p *Provider) JWKSFetches() int { return int(p.jwksFetches.Load()) }

// DiscoveryFetches counts the requests for the discovery document so far.
func (p *Provider) DiscoveryFetches() int { return int(p.discoveryFetches.Load()) }

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case DiscoveryPath:
		p.discoveryFetches.Add(1)
		p.mu.Lock()
		doc := p.discovery
		p.mu.Unlock()
		if doc == nil {
			doc = map[string]any{"issuer": p.Issuer, "jwks_uri": p.JWKSURL(),
				"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}}
		}
		writeJSON(w, doc)
	case JWKSPath:
		p.jwksFetches.Add(1)
		writeJSON(w, p.jwks())
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) jwks() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := []map[string]any{}
	for _, kid := range p.published {
		k := p.keys[kid]
		keys = append(keys, JWK(k))
	}
	set := map[string]any{"keys": keys}
	if p.padding > 0 {
		set["padding"] = strings.Repeat("x", p.padding)
	}
	return set
}

// JWK is k's public key as a JSON Web Key.
func JWK(k *Key) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kid": k.ID, "use": "sig", "alg": k.Method.Alg()}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		jwk["kty"] = "RSA"
		jwk["n"] = b64(pub.N.Bytes())
		jwk["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		size := (len(point) - 1) / 2
		jwk["kty"] = "EC"
		jwk["crv"] = pub.Curve.Params().Name
		jwk["x"] = b64(point[1 : 1+size])
		jwk["y"] = b64(point[1+size:])
	}
	return jwk
}

// Claims are a valid token's claims for audience and subject, issued now for an hour,
// with extra on top (a nil value deletes the claim).
func (p *Provider) Claims(audience, subject string, extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": p.Issuer, "aud": audience, "sub": subject, "jti": uuid.NewString(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// Sign signs claims with key kid, naming it in the header.
func (p *Provider) Sign(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	k := p.Key(t, kid)
	return SignWith(t, k.Method, k.Signer, map[string]any{"kid": kid}, claims)
}

// SignWith signs claims with method and key, with header on top of alg and typ; for
// tokens no honest provider makes.
func SignWith(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(fmt.Errorf("issuerstest: sign: %w", err))
	}
	return s
}
