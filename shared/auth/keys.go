package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// minRSABits refuses RSA keys too short to sign tokens (NIST SP 800-131A).
const minRSABits = 2048

// KeySet is Ledgerline's own token signing keys. The first key signs every new token;
// the others are still accepted and published, so that rotating keys never breaks a
// token that is still valid: a previous key stays in the set until the tokens it
// signed have expired, and a next key can be published before it starts signing.
type KeySet struct {
	keys  []signingKey
	byKID map[string]*signingKey
	jwks  []byte
}

// signingKey is one private key with what a token names it by.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	signer crypto.Signer
	jwk    JWK
}

// ParseKeySet reads a PEM bundle of private keys, the current signing key first:
// ECDSA P-256 (ES256) or RSA of 2048 bits or more (RS256), as SEC 1 ("EC PRIVATE
// KEY"), PKCS #1 ("RSA PRIVATE KEY") or PKCS #8 ("PRIVATE KEY") blocks.
func ParseKeySet(bundle []byte) (*KeySet, error) {
	var signers []crypto.Signer
	for n := 1; ; n++ {
		var block *pem.Block
		block, bundle = pem.Decode(bundle)
		if block == nil {
			break
		}
		key, err := parsePrivateKey(block)
		if err != nil {
			return nil, fmt.Errorf("signing keys: block %d: %w", n, err)
		}
		signers = append(signers, key)
	}
	if len(signers) == 0 {
		return nil, errors.New("signing keys: no PEM block")
	}
	return NewKeySet(signers...)
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%q is not a private key block", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}

// NewKeySet makes a key set of signers, the current signing key first.
func NewKeySet(signers ...crypto.Signer) (*KeySet, error) {
	if len(signers) == 0 {
		return nil, errors.New("signing keys: none")
	}
	ks := &KeySet{byKID: map[string]*signingKey{}}
	seen := map[string]bool{}
	for i, s := range signers {
		method, err := methodFor(s)
		if err != nil {
			return nil, fmt.Errorf("signing keys: key %d: %w", i+1, err)
		}
		kid, err := keyID(s.Public())
		if err != nil {
			return nil, fmt.Errorf("signing keys: key %d: %w", i+1, err)
		}
		if seen[kid] {
			return nil, fmt.Errorf("signing keys: key %d appears twice", i+1)
		}
		seen[kid] = true
		jwk, err := publicJWK(kid, method, s)
		if err != nil {
			return nil, fmt.Errorf("signing keys: key %d: %w", i+1, err)
		}
		ks.keys = append(ks.keys, signingKey{kid: kid, method: method, signer: s, jwk: jwk})
	}
	// The map points into the slice, which is complete now and never changes.
	for i := range ks.keys {
		ks.byKID[ks.keys[i].kid] = &ks.keys[i]
	}
	jwks, err := json.Marshal(ks.JWKS())
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	ks.jwks = jwks
	return ks, nil
}

// methodFor pins each key to one algorithm, so a token cannot make the verifier use a
// key with another (RS/HS or ES/RS confusion).
func methodFor(s crypto.Signer) (jwt.SigningMethod, error) {
	switch k := s.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA keys must be on P-256 (ES256), not %s", k.Curve.Params().Name)
		}
		return jwt.SigningMethodES256, nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA keys must have at least %d bits, not %d", minRSABits, k.N.BitLen())
		}
		return jwt.SigningMethodRS256, nil
	default:
		return nil, fmt.Errorf("%T keys are not supported; use ECDSA P-256 or RSA", s)
	}
}

// keyID names a key by a digest of its public half, as the development issuer does, so
// the same key has the same kid wherever it is loaded and no kid needs configuring.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12]), nil
}

// CurrentKID is the kid of the key that signs new tokens.
func (ks *KeySet) CurrentKID() string { return ks.keys[0].kid }

// Sign signs claims with the current key, naming it in the kid header.
func (ks *KeySet) Sign(claims jwt.Claims) (string, error) {
	k := ks.keys[0]
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.signer)
}

// Algorithms are the algorithms of the set's keys, for the verifier to pin.
func (ks *KeySet) Algorithms() []string {
	var algs []string
	seen := map[string]bool{}
	for _, k := range ks.keys {
		if alg := k.method.Alg(); !seen[alg] {
			seen[alg] = true
			algs = append(algs, alg)
		}
	}
	return algs
}

// Keyfunc finds the verification key a token names by kid, among the set's keys only,
// and refuses a token whose algorithm is not that key's.
func (ks *KeySet) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	k, ok := ks.byKID[kid]
	if !ok {
		return nil, errors.New("unknown key id")
	}
	if t.Method.Alg() != k.method.Alg() {
		return nil, fmt.Errorf("key %s signs with %s, not %s", kid, k.method.Alg(), t.Method.Alg())
	}
	return k.signer.Public(), nil
}

// JWKSet is a JSON Web Key Set (RFC 7517 §5).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWK is the public half of one signing key (RFC 7517, RFC 7518 §6).
type JWK struct {
	KeyType   string `json:"kty"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
	// EC keys.
	Curve string `json:"crv,omitempty"`
	X     string `json:"x,omitempty"`
	Y     string `json:"y,omitempty"`
	// RSA keys.
	Modulus  string `json:"n,omitempty"`
	Exponent string `json:"e,omitempty"`
}

// JWKS is the public keys of the set, the current one first.
func (ks *KeySet) JWKS() JWKSet {
	set := JWKSet{Keys: make([]JWK, len(ks.keys))}
	for i, k := range ks.keys {
		set.Keys[i] = k.jwk
	}
	return set
}

// publicJWK is the JWK of the public half of s.
func publicJWK(kid string, method jwt.SigningMethod, s crypto.Signer) (JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	j := JWK{KeyID: kid, Use: "sig", Algorithm: method.Alg()}
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		// The uncompressed point is 0x04 || X || Y, each coordinate 32 bytes on P-256:
		// exactly the fixed-length encoding RFC 7518 §6.2.1 asks for.
		point, err := pub.Bytes()
		if err != nil {
			return JWK{}, err
		}
		j.KeyType, j.Curve, j.X, j.Y = "EC", "P-256", b64(point[1:33]), b64(point[33:])
	case *rsa.PublicKey:
		j.KeyType, j.Modulus, j.Exponent = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	default:
		return JWK{}, fmt.Errorf("%T keys are not supported", pub)
	}
	return j, nil
}

// JWKSJSON is JWKS encoded once, as /.well-known/jwks.json serves it.
func (ks *KeySet) JWKSJSON() []byte { return ks.jwks }

// KeySet is the development issuer's key as a key set: locally it signs the tokens of
// the token endpoint too, so `ledgerline token` and API clients share one issuer.
func (d *DevIssuer) KeySet() *KeySet {
	ks, err := NewKeySet(d.key)
	if err != nil {
		// The development key is always a P-256 key this package made or parsed.
		panic(err)
	}
	return ks
}
