package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Sealer encrypts endpoint secrets at rest with AES-256-GCM. The database alone (a
// backup, a read replica, a leaked dump) then cannot sign deliveries: that also takes
// the key, which lives in the functions' configuration.
type Sealer struct {
	aead cipher.AEAD
	err  error
}

// NewSealer uses key, WEBHOOK_SECRET_KEY as configured (32 bytes, standard base64). A
// missing or bad key is reported when a secret is sealed or opened, not here: building
// a function's handlers must not fail on a variable only some of them use.
func NewSealer(key string) *Sealer {
	if key == "" {
		return &Sealer{err: errors.New("webhooks: WEBHOOK_SECRET_KEY is not set; endpoint secrets cannot be sealed or opened")}
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		return &Sealer{err: errors.New("webhooks: WEBHOOK_SECRET_KEY must be 32 bytes in standard base64")}
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return &Sealer{err: fmt.Errorf("webhooks: %w", err)}
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return &Sealer{err: fmt.Errorf("webhooks: %w", err)}
	}
	return &Sealer{aead: aead}
}

// boundTo is the additional data of a sealed secret: the row it belongs to, so a
// ciphertext copied onto another endpoint or tenant does not open.
func boundTo(tenantID, endpointID uuid.UUID) []byte {
	return append(tenantID[:], endpointID[:]...)
}

// Seal encrypts the secret of endpointID: a random nonce followed by the ciphertext.
func (s *Sealer) Seal(tenantID, endpointID uuid.UUID, secret string) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(secret), boundTo(tenantID, endpointID)), nil
}

// Open decrypts what Seal returned for the same tenant and endpoint.
func (s *Sealer) Open(tenantID, endpointID uuid.UUID, sealed []byte) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("webhooks: sealed secret is truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], boundTo(tenantID, endpointID))
	if err != nil {
		return "", fmt.Errorf("webhooks: secret of endpoint %s does not open with WEBHOOK_SECRET_KEY: %w", endpointID, err)
	}
	return string(plain), nil
}
