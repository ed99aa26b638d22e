package config

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
)

// signingKeys is a TOKEN_SIGNING_KEYS value: one P-256 key.
const signingKeys = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILddk4ramqOk0HZTjT5Ziokf+PHgwN3MDGmbFlxfrG/4oAoGCCqGSM49
AwEHoUQDQgAE8Jr3iQOzO8vpQEXjFANYeSRNZo11zGcqcP05mzhZVycSY0/46rsA
x3hALPYjhHaGL290c20jw583vm0OTkOyxw==
-----END EC PRIVATE KEY-----
`

func TestLoad(t *testing.T) {
	base := map[string]string{
		"DATABASE_URL":      "postgres://localhost/ledgerline",
		"AUTH_ISSUER":       "https://issuer.example",
		"AUTH_DEV_KEY_FILE": "/tmp/key.pem",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", base, ""},
		{"no database", with("DATABASE_URL", ""), "one of DATABASE_URL or INSTANCE_CONNECTION_NAME"},
		{"both databases", with("INSTANCE_CONNECTION_NAME", "p:r:i", "DB_USER", "u"), "exclusive"},
		{"connector needs user", with("DATABASE_URL", "", "INSTANCE_CONNECTION_NAME", "p:r:i"), "DB_USER is required"},
		{"connector", with("DATABASE_URL", "", "INSTANCE_CONNECTION_NAME", "p:r:i", "DB_USER", "fn@p.iam"), ""},
		{"pool bounds", with("DB_MAX_CONNS", "0"), "DB_MAX_CONNS must be 1..100"},
		{"no issuer", with("AUTH_ISSUER", ""), "AUTH_ISSUER is required"},
		{"no keys", with("AUTH_DEV_KEY_FILE", ""), "one of TOKEN_SIGNING_KEYS, TOKEN_JWKS_URL or AUTH_DEV_KEY_FILE"},
		{"published keys only", with("AUTH_DEV_KEY_FILE", "", "TOKEN_JWKS_URL", "https://fn.example/.well-known/jwks.json"), ""},
		{"signing and published keys", with("AUTH_DEV_KEY_FILE", "", "TOKEN_SIGNING_KEYS", signingKeys, "TOKEN_JWKS_URL", "https://fn.example/.well-known/jwks.json"), ""},
		{"published keys over http", with("AUTH_DEV_KEY_FILE", "", "TOKEN_JWKS_URL", "http://fn.example/jwks.json"), "TOKEN_JWKS_URL must be an https URL"},
		{"signing keys", with("AUTH_DEV_KEY_FILE", "", "TOKEN_SIGNING_KEYS", signingKeys), ""},
		{"both keys", with("TOKEN_SIGNING_KEYS", signingKeys), "TOKEN_SIGNING_KEYS and AUTH_DEV_KEY_FILE are exclusive"},
		{"signing keys not PEM", with("AUTH_DEV_KEY_FILE", "", "TOKEN_SIGNING_KEYS", "secret"), "TOKEN_SIGNING_KEYS: signing keys: no PEM block"},
		{"token ttl", with("TOKEN_TTL", "5m"), ""},
		{"token ttl too short", with("TOKEN_TTL", "30s"), "TOKEN_TTL must be 1m..1h"},
		{"token ttl too long", with("TOKEN_TTL", "2h"), "TOKEN_TTL must be 1m..1h"},
		{"external issuer", with("AUTH_JWKS_URL", "https://idp.example/jwks", "AUTH_JWKS_ISSUER", "https://idp.example/"), ""},
		{"jwks without its issuer", with("AUTH_JWKS_URL", "https://idp.example/jwks"), "AUTH_JWKS_URL and AUTH_JWKS_ISSUER go together"},
		{"jwks issuer without jwks", with("AUTH_JWKS_ISSUER", "https://idp.example/"), "AUTH_JWKS_URL and AUTH_JWKS_ISSUER go together"},
		{"jwks issuer is ours", with("AUTH_JWKS_URL", "https://idp.example/jwks", "AUTH_JWKS_ISSUER", "https://issuer.example"), "AUTH_JWKS_ISSUER must differ from AUTH_ISSUER"},
		{"tiny body limit", with("MAX_BODY_BYTES", "10"), "MAX_BODY_BYTES must be at least 1024"},
		{"rate limit off", with("RATE_LIMIT_PER_SECOND", "0", "RATE_LIMIT_BURST", "0"), ""},
		{"fractional rate limit", with("RATE_LIMIT_PER_SECOND", "0.5", "RATE_LIMIT_BURST", "1"), ""},
		{"negative rate limit", with("RATE_LIMIT_PER_SECOND", "-1"), "RATE_LIMIT_PER_SECOND must be 0 (off) to 1000000"},
		{"rate limit not a number", with("RATE_LIMIT_PER_SECOND", "NaN"), "RATE_LIMIT_PER_SECOND must be 0 (off) to 1000000"},
		{"rate limit without burst", with("RATE_LIMIT_BURST", "0"), "RATE_LIMIT_BURST must be 1..1000000"},
		{"bad number", with("DB_MAX_CONNS", "many"), "DBMaxConns"},
		{"webhook key", with("WEBHOOK_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), ""},
		{"short webhook key", with("WEBHOOK_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODw=="), "WEBHOOK_SECRET_KEY must be 32 bytes"},
		{"webhook key not base64", with("WEBHOOK_SECRET_KEY", "not base64!"), "WEBHOOK_SECRET_KEY must be 32 bytes"},
		{"redis", with("REDIS_URL", "rediss://10.0.0.3:6378"), ""},
		{"redis without host", with("REDIS_URL", "redis://"), "REDIS_URL must be"},
		{"redis as host:port", with("REDIS_URL", "10.0.0.3:6379"), "REDIS_URL must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadFrom(context.Background(), envconfig.MapLookuper(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, int32(4), c.DBMaxConns)
			require.Equal(t, "ledgerline", c.AuthAudience)
			require.Equal(t, int64(1<<20), c.MaxBodyBytes)
			if _, set := tc.env["RATE_LIMIT_PER_SECOND"]; !set {
				require.Equal(t, 100.0, c.RateLimitPerSecond)
				require.Equal(t, 200, c.RateLimitBurst)
			}
			require.False(t, c.WebhookAllowPrivateTargets, "production refuses private webhook targets by default")
			if _, set := tc.env["TOKEN_TTL"]; !set {
				require.Equal(t, DefaultTokenTTL, c.TokenTTL)
			}
		})
	}
}
