package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func newRSAKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	return k
}

// pemOf encodes key as a PEM block of type blockType.
func pemOf(t *testing.T, blockType string, key any) string {
	t.Helper()
	var der []byte
	var err error
	switch blockType {
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case "PUBLIC KEY":
		der, err = x509.MarshalPKIXPublicKey(key)
	}
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

func mustKeySet(t *testing.T, signers ...crypto.Signer) *KeySet {
	t.Helper()
	ks, err := NewKeySet(signers...)
	require.NoError(t, err)
	return ks
}

func testIssuerOf(t *testing.T, ks *KeySet) *Issuer {
	t.Helper()
	iss, err := NewIssuer(testIssuer, testAudience, ks, 15*time.Minute)
	require.NoError(t, err)
	return iss
}

func TestParseKeySet(t *testing.T) {
	ec, rsaKey := newECKey(t), newRSAKey(t, 2048)
	ecPKCS8 := pemOf(t, "PRIVATE KEY", ec)
	bundle := pemOf(t, "EC PRIVATE KEY", ec) + pemOf(t, "RSA PRIVATE KEY", rsaKey)

	ks, err := ParseKeySet([]byte(bundle))
	require.NoError(t, err)
	ecKID, err := keyID(&ec.PublicKey)
	require.NoError(t, err)
	require.Equal(t, ecKID, ks.CurrentKID(), "the first block signs")
	require.Equal(t, []string{"ES256", "RS256"}, ks.Algorithms())
	require.Len(t, ks.JWKS().Keys, 2)

	ks, err = ParseKeySet([]byte(pemOf(t, "PRIVATE KEY", rsaKey) + ecPKCS8))
	require.NoError(t, err, "PKCS #8 blocks of either kind")
	require.Equal(t, []string{"RS256", "ES256"}, ks.Algorithms())

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	cases := []struct {
		name, bundle, wantErr string
	}{
		{"empty", "", "no PEM block"},
		{"not PEM", "TOKEN_SIGNING_KEYS", "no PEM block"},
		{"a public key", pemOf(t, "PUBLIC KEY", &ec.PublicKey), `block 1: "PUBLIC KEY" is not a private key block`},
		{"a certificate", ecPKCS8 + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `block 2: "CERTIFICATE" is not a private key block`},
		{"damaged", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "block 1:"},
		{"P-384", pemOf(t, "EC PRIVATE KEY", p384), "ECDSA keys must be on P-256"},
		{"short RSA", pemOf(t, "RSA PRIVATE KEY", newRSAKey(t, 1024)), "RSA keys must have at least 2048 bits"},
		{"the same key twice", ecPKCS8 + pemOf(t, "EC PRIVATE KEY", ec), "key 2 appears twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeySet([]byte(tc.bundle))
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err = NewKeySet()
	require.Error(t, err)
}

func TestIssuerTokens(t *testing.T) {
	ks := mustKeySet(t, newECKey(t))
	iss := testIssuerOf(t, ks)
	now := time.Unix(1_750_000_000, 0)
	iss.Now = func() time.Time { return now }
	tenant := uuid.New()
	client := uuid.NewString()

	tok, err := iss.IssueClientToken(tenant, client, []Role{RoleAccountant, RoleViewer})
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, tok.ExpiresIn)
	require.NotEmpty(t, tok.ID)

	// The claims, read without trusting them, are exactly Ledgerline's.
	var c jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(tok.Token, &c)
	require.NoError(t, err)
	require.Equal(t, "ES256", parsed.Method.Alg())
	require.Equal(t, ks.CurrentKID(), parsed.Header["kid"])
	require.Equal(t, jwt.MapClaims{
		"iss": testIssuer, "sub": client, "aud": []any{testAudience},
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(15 * time.Minute).Unix()),
		"jti": tok.ID, "tenant_id": tenant.String(), "roles": []any{"accountant", "viewer"}, "actor_type": "api_client",
	}, c)

	p, err := iss.Verifier().Verify(context.Background(), tok.Token)
	require.NoError(t, err)
	require.Equal(t, Principal{TenantID: tenant, Subject: client, Roles: []Role{RoleAccountant, RoleViewer},
		ActorType: ActorAPIClient, TokenID: tok.ID, Issuer: testIssuer}, p)

	// Past its lifetime (and the leeway) the token is refused.
	now = now.Add(15*time.Minute + leeway + time.Second)
	_, err = iss.Verifier().Verify(context.Background(), tok.Token)
	requireUnauthenticated(t, err)

	for name, build := range map[string]func() (*Issuer, error){
		"no name":     func() (*Issuer, error) { return NewIssuer("", testAudience, ks, time.Minute) },
		"no audience": func() (*Issuer, error) { return NewIssuer(testIssuer, "", ks, time.Minute) },
		"no keys":     func() (*Issuer, error) { return NewIssuer(testIssuer, testAudience, nil, time.Minute) },
		"no lifetime": func() (*Issuer, error) { return NewIssuer(testIssuer, testAudience, ks, 0) },
	} {
		_, err := build()
		require.Error(t, err, name)
	}
}

// TestKeyRotation walks a rotation: a token signed by the previous key verifies while
// that key is in the set, and stops verifying once the key is removed.
func TestKeyRotation(t *testing.T) {
	k1, k2 := newECKey(t), newRSAKey(t, 2048)
	tenant := uuid.New()
	verify := func(ks *KeySet, tok string) error {
		_, err := testIssuerOf(t, ks).Verifier().Verify(context.Background(), tok)
		return err
	}

	before := mustKeySet(t, k1)
	old, err := testIssuerOf(t, before).IssueClientToken(tenant, "c1", []Role{RoleViewer})
	require.NoError(t, err)

	// Step 1: the next key is published, the current one still signs.
	published := mustKeySet(t, k1, k2)
	require.Equal(t, before.CurrentKID(), published.CurrentKID())
	require.NoError(t, verify(published, old.Token))

	// Step 2: the new key signs; the previous one is still accepted.
	during := mustKeySet(t, k2, k1)
	fresh, err := testIssuerOf(t, during).IssueClientToken(tenant, "c1", []Role{RoleViewer})
	require.NoError(t, err)
	require.NoError(t, verify(during, old.Token), "a token of the previous key verifies while it is published")
	require.NoError(t, verify(during, fresh.Token))
	require.NoError(t, verify(published, fresh.Token), "instances still on step 1 accept the new key's tokens")

	// Step 3: the previous key is removed.
	after := mustKeySet(t, k2)
	requireUnauthenticated(t, verify(after, old.Token))
	require.NoError(t, verify(after, fresh.Token))
	require.Equal(t, []string{"RS256"}, after.Algorithms())
}

func TestKeyfuncPinsKeyAndAlgorithm(t *testing.T) {
	ec, other := newECKey(t), newECKey(t)
	rsaKey := newRSAKey(t, 2048)
	ks := mustKeySet(t, ec, rsaKey)
	v := testIssuerOf(t, ks).Verifier()
	f := fixture{tenant: uuid.New()}
	claims := f.claims(time.Now(), nil)
	ecKID, err := keyID(&ec.PublicKey)
	require.NoError(t, err)
	rsaKID, err := keyID(&rsaKey.PublicKey)
	require.NoError(t, err)

	cases := map[string]string{
		"no kid":      signToken(t, jwt.SigningMethodES256, ec, nil, claims),
		"unknown kid": signToken(t, jwt.SigningMethodES256, ec, map[string]any{"kid": "nope"}, claims),
		"kid path":    signToken(t, jwt.SigningMethodES256, ec, map[string]any{"kid": "../../" + ecKID}, claims),
		"kid of a set key, signed by another key": signToken(t, jwt.SigningMethodES256, other, map[string]any{"kid": ecKID}, claims),
		"EC kid, RS256 by the RSA key":            signToken(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": ecKID}, claims),
		"RSA kid, HS256 keyed with its modulus":   signToken(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), map[string]any{"kid": rsaKID}, claims),
		"RSA kid, PS256 by the RSA key":           signToken(t, jwt.SigningMethodPS256, rsaKey, map[string]any{"kid": rsaKID}, claims),
		"alg none": signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			map[string]any{"kid": ecKID}, claims),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			requireUnauthenticated(t, err)
		})
	}
	// Control: each key verifies its own tokens under its own kid and algorithm.
	for kid, signed := range map[string]string{
		ecKID:  signToken(t, jwt.SigningMethodES256, ec, map[string]any{"kid": ecKID}, claims),
		rsaKID: signToken(t, jwt.SigningMethodRS256, rsaKey, map[string]any{"kid": rsaKID}, claims),
	} {
		_, err := v.Verify(context.Background(), signed)
		require.NoError(t, err, kid)
	}
}

func TestJWKS(t *testing.T) {
	ec, rsaKey := newECKey(t), newRSAKey(t, 2048)
	ks := mustKeySet(t, ec, rsaKey)
	set := ks.JWKS()
	require.Len(t, set.Keys, 2)
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		return b
	}

	e := set.Keys[0]
	require.Equal(t, ks.CurrentKID(), e.KeyID)
	require.Equal(t, JWK{KeyType: "EC", KeyID: e.KeyID, Use: "sig", Algorithm: "ES256", Curve: "P-256", X: e.X, Y: e.Y}, e)
	require.Len(t, b64(e.X), 32, "coordinates are fixed-length")
	require.Len(t, b64(e.Y), 32)
	require.Zero(t, new(big.Int).SetBytes(b64(e.X)).Cmp(ec.X))
	require.Zero(t, new(big.Int).SetBytes(b64(e.Y)).Cmp(ec.Y))

	r := set.Keys[1]
	require.Equal(t, JWK{KeyType: "RSA", KeyID: r.KeyID, Use: "sig", Algorithm: "RS256", Modulus: r.Modulus, Exponent: "AQAB"}, r)
	require.Zero(t, new(big.Int).SetBytes(b64(r.Modulus)).Cmp(rsaKey.N))

	var fromJSON JWKSet
	require.NoError(t, json.Unmarshal(ks.JWKSJSON(), &fromJSON))
	require.Equal(t, set, fromJSON)
	require.NotContains(t, string(ks.JWKSJSON()), `"d"`, "no private part is published")

	// A standard JWKS client, given only the published set, verifies the issuer's tokens.
	kf, err := keyfunc.NewJWKSetJSON(ks.JWKSJSON())
	require.NoError(t, err)
	tok, err := testIssuerOf(t, ks).IssueClientToken(uuid.New(), "c1", []Role{RoleViewer})
	require.NoError(t, err)
	parsed, err := jwt.Parse(tok.Token, kf.Keyfunc, jwt.WithValidMethods([]string{"ES256"}))
	require.NoError(t, err)
	require.True(t, parsed.Valid)
}

// The development key as a key set keeps the development issuer's kid, so tokens of
// `ledgerline token` and of the token endpoint verify alike.
func TestDevIssuerKeySet(t *testing.T) {
	dev, err := LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "k.pem"), testIssuer, testAudience)
	require.NoError(t, err)
	ks := dev.KeySet()
	require.Equal(t, dev.kid, ks.CurrentKID())

	tenant := uuid.New()
	devToken, err := dev.Issue(tenant, "dev-user", []Role{RoleAdmin}, time.Hour)
	require.NoError(t, err)
	p, err := testIssuerOf(t, ks).Verifier().Verify(context.Background(), devToken)
	require.NoError(t, err)
	require.Equal(t, ActorUser, p.ActorType)

	clientToken, err := testIssuerOf(t, ks).IssueClientToken(tenant, "c1", []Role{RoleViewer})
	require.NoError(t, err)
	p, err = dev.Verifier().Verify(context.Background(), clientToken.Token)
	require.NoError(t, err)
	require.Equal(t, ActorAPIClient, p.ActorType)
}
