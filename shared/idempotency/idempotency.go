// Package idempotency gives every POST Stripe's Idempotency-Key semantics: the same key
// with the same request replays the stored response; with a different request it is
// refused (422); while the first request is still running it is refused (409). Keys
// are per tenant and kept 24 hours.
//
// The stored response commits in the same transaction as the business change (the
// services join the transaction through db.WithTx), so a crash can never leave a
// change without its key or a key without its change. Only successful (2xx) responses
// are stored: a refused request changed nothing, so running it again is safe.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/db"
)

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Header names.
const (
	KeyHeader      = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// keptHeaders are the response headers replayed with the body.
var keptHeaders = []string{"Content-Type", "Location", "ETag"}

// Response is a recorded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Refused carries a non-2xx response out of Run: the transaction is rolled back and
// nothing is stored, but the caller still sends the response.
type Refused struct{ Response Response }

func (r *Refused) Error() string { return http.StatusText(r.Response.Status) }

// Store runs keyed requests.
type Store struct {
	DB *db.DB
}

// ValidateKey refuses keys that are empty, too long or not printable ASCII.
func ValidateKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return apperr.New(apperr.Invalid, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return apperr.New(apperr.Invalid, "invalid_idempotency_key", "Idempotency-Key must be printable ASCII")
		}
	}
	return nil
}

// NotSupported is the refusal of an Idempotency-Key on an operation whose response
// carries a secret shown once (manifest secret_response): storing the response to
// replay it would keep the secret for TTL, readable by any caller of the tenant who
// sends the same key and body. Refusing, rather than running the request unkeyed,
// keeps a client from believing a retry is safe when it would create a second object.
func NotSupported() error {
	return apperr.New(apperr.Invalid, "idempotency_not_supported",
		"this operation's response carries a secret that is never stored, so it takes no Idempotency-Key; send the request without one")
}

// Fingerprint identifies a request: the operation, its path (ids included) and its
// body in canonical JSON form, so whitespace or key order does not make a retry look
// like a different request.
func Fingerprint(operation, path string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(operation))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		canon, _ := json.Marshal(v)
		h.Write(canon)
	} else {
		h.Write(body)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Run executes handle once per (tenant, key): handle runs inside a tenant transaction
// carried by its context, and its 2xx response is stored in that same transaction.
// replayed reports a stored response returned without running handle.
func (s *Store) Run(ctx context.Context, tenantID uuid.UUID, key, operation string, fingerprint [32]byte,
	handle func(ctx context.Context) Response) (resp Response, replayed bool, err error) {
	tx, err := s.DB.Begin(ctx, tenantID, db.ReadCommitted)
	if err != nil {
		return Response{}, false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// The advisory lock makes "in flight" observable: a second request with the key
	// fails to take it while the first transaction is open. The lookup is a separate
	// statement so its snapshot is taken after the lock is held: it therefore sees the
	// row of a first request that committed just before.
	b := &pgx.Batch{}
	var locked bool
	b.Queue(`SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0))`, tenantID, key).
		QueryRow(func(row pgx.Row) error { return row.Scan(&locked) })
	var found bool
	var storedOp string
	var storedFP []byte
	var stored Response
	var header map[string]string
	b.Queue(`SELECT operation, fingerprint, response_status, response_header, response_body
  FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at > now()`, tenantID, key).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				found = true
				if err := rows.Scan(&storedOp, &storedFP, &stored.Status, &header, &stored.Body); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Response{}, false, db.Map(err)
	}
	if !locked {
		return Response{}, false, apperr.New(apperr.Conflict, "idempotency_key_in_use",
			"a request with this Idempotency-Key is still in progress; retry later")
	}
	if found {
		if storedOp != operation || !bytes.Equal(storedFP, fingerprint[:]) {
			return Response{}, false, apperr.New(apperr.Unprocessable, "idempotency_key_reused",
				"this Idempotency-Key was used with a different request")
		}
		stored.Header = http.Header{}
		for k, v := range header {
			stored.Header.Set(k, v)
		}
		return stored, true, nil
	}

	resp = handle(db.WithTx(ctx, tenantID, tx))
	if resp.Status < 200 || resp.Status > 299 {
		return Response{}, false, &Refused{Response: resp}
	}
	// A 2xx without a body (204, or a handler that wrote nothing) is stored as an empty
	// body: a nil slice would be NULL and fail the NOT NULL column, rolling back the change.
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	kept := map[string]string{}
	for _, k := range keptHeaders {
		if v := resp.Header.Get(k); v != "" {
			kept[k] = v
		}
	}
	if _, err := tx.Exec(ctx, `
INSERT INTO idempotency_keys (tenant_id, key, operation, fingerprint, response_status, response_header, response_body, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
ON CONFLICT (tenant_id, key) DO UPDATE
   SET operation = EXCLUDED.operation, fingerprint = EXCLUDED.fingerprint,
       response_status = EXCLUDED.response_status, response_header = EXCLUDED.response_header,
       response_body = EXCLUDED.response_body, created_at = now(), expires_at = EXCLUDED.expires_at
 WHERE idempotency_keys.expires_at <= now()`,
		tenantID, key, operation, fingerprint[:], resp.Status, kept, resp.Body, TTL.Seconds()); err != nil {
		return Response{}, false, db.Map(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Response{}, false, db.Map(err)
	}
	return resp, false, nil
}

// IsRefused extracts the response of a refused (not stored) request.
func IsRefused(err error) (Response, bool) {
	var r *Refused
	if errors.As(err, &r) {
		return r.Response, true
	}
	return Response{}, false
}
