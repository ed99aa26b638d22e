// Package jwks is the JWKS function: GET /.well-known/jwks.json, the public keys that
// verify Ledgerline's own access tokens (RFC 7517), for anyone who verifies them
// outside Ledgerline. It is public: the keys are.
package jwks

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("JWKS", New) }

// New builds the handler over the instance's dependencies. The key set is fixed for the
// instance's life, so the document is encoded once.
func New(d *platform.Deps) http.Handler {
	var body []byte
	if d.Issuer != nil {
		body = slices.Concat(d.Issuer.Keys.JWKSJSON(), []byte("\n"))
	}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if body == nil {
			return apperr.New(apperr.Unavailable, "token_issuer_unavailable", "no signing key is configured")
		}
		// Verifiers may cache the set for five minutes: a new key is published (as a
		// key after the current one) at least that long before it starts signing.
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil
	})
}
