package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
// The timestamp is signed with the body, so a receiver that bounds its age refuses a
// captured request replayed later.
const SignatureHeader = "Ledgerline-Signature"

// secretPrefix marks the string as a webhook secret, so a leaked one is recognisable.
const secretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: the prefix and 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the signature header value for body sent at t. The key is the whole
// secret string as shown to the tenant, so a receiver uses it exactly as stored.
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrInvalidSignatureHeader = errors.New("webhooks: signature header is malformed")
	ErrSignatureMismatch      = errors.New("webhooks: no signature matches the body")
	ErrTimestampTolerance     = errors.New("webhooks: signature timestamp is outside the tolerance")
)

// Verify is what a receiver does with a delivery: it checks that header (the
// Ledgerline-Signature value) signs body with secret, and that its timestamp lies
// within tolerance of now, which refuses replays of old deliveries. Several v1 values
// are accepted, any one matching, so a sender may sign with two secrets during a
// rotation.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrInvalidSignatureHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrInvalidSignatureHeader
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrInvalidSignatureHeader
	}
	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	// The timestamp is trustworthy only once the signature covering it matched.
	age := now.Sub(time.Unix(unix, 0))
	if age > tolerance || age < -tolerance {
		return ErrTimestampTolerance
	}
	return nil
}
