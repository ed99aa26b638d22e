package webhooks

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	require.Regexp(t, `^whsec_[A-Za-z0-9_-]{43}$`, a)
	require.NotEqual(t, a, b)
}

func TestSignAndVerify(t *testing.T) {
	secret := NewSecret()
	body := []byte(`{"id":"e1","type":"invoice.paid","created":1700000000,"data":{}}`)
	sentAt := time.Unix(1_700_000_000, 0)
	header := Sign(secret, body, sentAt)
	require.Regexp(t, `^t=1700000000,v1=[0-9a-f]{64}$`, header)

	const tolerance = 5 * time.Minute
	require.NoError(t, Verify(secret, header, body, tolerance, sentAt))
	require.NoError(t, Verify(secret, header, body, tolerance, sentAt.Add(tolerance)), "at the edge of the tolerance")
	require.NoError(t, Verify(secret, header, body, tolerance, sentAt.Add(-time.Minute)), "a receiver's clock may lag")

	require.ErrorIs(t, Verify(secret, header, append(body, ' '), tolerance, sentAt), ErrSignatureMismatch, "body changed")
	require.ErrorIs(t, Verify(NewSecret(), header, body, tolerance, sentAt), ErrSignatureMismatch, "other secret")

	// Replay: the same request, signature intact, presented later than the tolerance.
	require.ErrorIs(t, Verify(secret, header, body, tolerance, sentAt.Add(tolerance+time.Second)), ErrTimestampTolerance)
	require.ErrorIs(t, Verify(secret, header, body, tolerance, sentAt.Add(-tolerance-time.Second)), ErrTimestampTolerance)

	// Moving the timestamp forward to pass the tolerance breaks the signature.
	forged := strings.Replace(header, "t=1700000000", "t="+strconv.FormatInt(sentAt.Add(time.Hour).Unix(), 10), 1)
	require.ErrorIs(t, Verify(secret, forged, body, tolerance, sentAt.Add(time.Hour)), ErrSignatureMismatch)
}

func TestVerifyAcceptsAnyMatchingSignature(t *testing.T) {
	secret, old := NewSecret(), NewSecret()
	body := []byte(`{}`)
	now := time.Now()
	current := Sign(secret, body, now)
	previous := Sign(old, body, now)
	_, sig, _ := strings.Cut(previous, ",")
	both := current + "," + sig
	require.NoError(t, Verify(secret, both, body, time.Minute, now))
	require.NoError(t, Verify(old, both, body, time.Minute, now))
	require.NoError(t, Verify(secret, " "+strings.ReplaceAll(both, ",", ", "), body, time.Minute, now), "spaces around parts")
	require.NoError(t, Verify(secret, current+",v0=ignored", body, time.Minute, now), "unknown schemes are ignored")
}

func TestVerifyRefusesMalformedHeaders(t *testing.T) {
	secret := NewSecret()
	body := []byte(`{}`)
	now := time.Now()
	valid := Sign(secret, body, now)
	ts, sig, _ := strings.Cut(valid, ",")
	for _, h := range []string{
		"",
		ts,
		sig,
		"t=abc," + sig,
		ts + ",v1=nothex",
		ts + "," + sig + ",garbage",
	} {
		require.ErrorIs(t, Verify(secret, h, body, time.Minute, now), ErrInvalidSignatureHeader, "%q", h)
	}
}
