package agents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/cache"
)

// The response cache. An agent's validated output is kept per tenant under a hash of
// what determines it: the agent, the provider and model that produced it, the prompt
// version, and the input in canonical form (object keys sorted, insignificant space
// dropped), so the same request in another key order or indentation is a hit, and a
// new prompt or model is a miss. Only outputs that passed validation are stored, and
// a hit is validated again (it costs microseconds), so an entry from an older release
// is a miss rather than an error. A hit calls no provider and costs nothing; it is
// recorded as a run with cache_hit.

// DefaultCacheTTL is AGENT_CACHE_TTL's default: a day, long enough for a person to
// look at a draft twice, short enough that a tenant's changed vendors or history are
// soon seen by the agent.
const DefaultCacheTTL = 24 * time.Hour

// canonicalJSON marshals v with object keys in sorted order and numbers as written.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	// encoding/json writes map keys sorted, at every depth.
	return json.Marshal(generic)
}

// cacheKey names one tenant's cached output of one request.
func cacheKey(tenantID uuid.UUID, agent Name, provider, model, promptVersion string, input []byte) string {
	h := sha256.New()
	for _, part := range []string{string(agent), provider, model, promptVersion} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(input)
	return "ledgerline:agents:1:" + tenantID.String() + ":" + hex.EncodeToString(h.Sum(nil))
}

// cached returns the output cached under key, or nil.
func (s *Service) cached(ctx context.Context, key string) []byte {
	if s.Cache == nil || s.CacheTTL <= 0 {
		return nil
	}
	v, found, err := s.Cache.Get(ctx, key)
	if err != nil || !found {
		// A cache that fails is a miss, never a failure of the run.
		return nil
	}
	return v
}

// keep caches a validated output.
func (s *Service) keep(ctx context.Context, key string, output []byte) {
	if s.Cache == nil || s.CacheTTL <= 0 {
		return
	}
	cache.Put(ctx, s.Cache, key, output, s.CacheTTL)
}
