package webhooks

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

const testKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func TestSealerRoundTrip(t *testing.T) {
	s := NewSealer(testKey)
	tenant, endpoint := uuid.New(), uuid.New()
	secret := NewSecret()

	sealed, err := s.Seal(tenant, endpoint, secret)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), strings.TrimPrefix(secret, "whsec_"), "not stored in clear")
	again, err := s.Seal(tenant, endpoint, secret)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce each time")

	got, err := s.Open(tenant, endpoint, sealed)
	require.NoError(t, err)
	require.Equal(t, secret, got)
}

func TestSealerBindsTheSecretToItsRow(t *testing.T) {
	s := NewSealer(testKey)
	tenant, endpoint := uuid.New(), uuid.New()
	sealed, err := s.Seal(tenant, endpoint, NewSecret())
	require.NoError(t, err)

	_, err = s.Open(tenant, uuid.New(), sealed)
	require.Error(t, err, "copied onto another endpoint")
	_, err = s.Open(uuid.New(), endpoint, sealed)
	require.Error(t, err, "copied into another tenant")
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-1] ^= 1
	_, err = s.Open(tenant, endpoint, tampered)
	require.Error(t, err)
	_, err = s.Open(tenant, endpoint, sealed[:5])
	require.ErrorContains(t, err, "truncated")

	other := NewSealer(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	_, err = other.Open(tenant, endpoint, sealed)
	require.ErrorContains(t, err, "does not open with WEBHOOK_SECRET_KEY")
}

func TestSealerReportsAMissingOrBadKeyWhenUsed(t *testing.T) {
	for key, want := range map[string]string{
		"":                           "WEBHOOK_SECRET_KEY is not set",
		"c2hvcnQ=":                   "WEBHOOK_SECRET_KEY must be 32 bytes",
		"not base64 at all!!!!!!!!!": "WEBHOOK_SECRET_KEY must be 32 bytes",
	} {
		s := NewSealer(key)
		_, err := s.Seal(uuid.New(), uuid.New(), "x")
		require.ErrorContains(t, err, want)
		_, err = s.Open(uuid.New(), uuid.New(), []byte("x"))
		require.ErrorContains(t, err, want)
	}
}
