package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// DevIssuer is the local development issuer: an ES256 key kept in a file so the dev
// server and `ledgerline token` (separate processes) agree on it. Production never
// configures it (AUTH_DEV_KEY_FILE is unset there).
type DevIssuer struct {
	Issuer   string
	Audience string
	key      *ecdsa.PrivateKey
	kid      string
}

// DevIssuerName is the iss of development tokens.
const DevIssuerName = "https://ledgerline.local/dev"

// DefaultDevKeyFile is where the development key lives unless configured otherwise.
func DefaultDevKeyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "ledgerline", "dev-signing-key.pem")
}

// LoadOrCreateDevIssuer reads the key at path, creating it (0600) if it does not exist.
func LoadOrCreateDevIssuer(path, issuer, audience string) (*DevIssuer, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	sum := sha256.Sum256(der)
	return &DevIssuer{Issuer: issuer, Audience: audience, key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

func createKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Write to a temp file and rename so two processes starting together never read a
	// half-written key; if another process won the race, use its key.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return nil, err
	}
	return key, nil
}

// Issue signs a token for tenantID with roles, valid for ttl.
func (d *DevIssuer) Issue(tenantID uuid.UUID, subject string, roles []Role, ttl time.Duration) (string, error) {
	return d.issue(tenantID, subject, roles, false, ttl)
}

// IssuePlatformAdmin signs an operator's token: the platform_admin claim on top of roles.
func (d *DevIssuer) IssuePlatformAdmin(tenantID uuid.UUID, subject string, roles []Role, ttl time.Duration) (string, error) {
	return d.issue(tenantID, subject, roles, true, ttl)
}

func (d *DevIssuer) issue(tenantID uuid.UUID, subject string, roles []Role, platformAdmin bool, ttl time.Duration) (string, error) {
	now := time.Now()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    d.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{d.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        uuid.NewString(),
		},
		TenantID:      tenantID.String(),
		Roles:         names,
		PlatformAdmin: platformAdmin,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = d.kid
	return t.SignedString(d.key)
}

// Keyfunc returns the verification key for tokens this issuer signed; any other kid is
// refused, so a token cannot pick its own key.
func (d *DevIssuer) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != d.kid {
			return nil, errors.New("unknown key id")
		}
		return &d.key.PublicKey, nil
	}
}

// Verifier returns a verifier for this issuer's tokens.
func (d *DevIssuer) Verifier() *Verifier {
	return NewVerifier(d.Issuer, d.Audience, []string{jwt.SigningMethodES256.Alg()}, d.Keyfunc(), nil)
}
