package config

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"
)

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
		{"no keys", with("AUTH_DEV_KEY_FILE", ""), "one of AUTH_JWKS_URL or AUTH_DEV_KEY_FILE"},
		{"both keys", with("AUTH_JWKS_URL", "https://issuer.example/jwks"), "AUTH_JWKS_URL and AUTH_DEV_KEY_FILE are exclusive"},
		{"tiny body limit", with("MAX_BODY_BYTES", "10"), "MAX_BODY_BYTES must be at least 1024"},
		{"bad number", with("DB_MAX_CONNS", "many"), "DBMaxConns"},
		{"webhook key", with("WEBHOOK_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), ""},
		{"short webhook key", with("WEBHOOK_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODw=="), "WEBHOOK_SECRET_KEY must be 32 bytes"},
		{"webhook key not base64", with("WEBHOOK_SECRET_KEY", "not base64!"), "WEBHOOK_SECRET_KEY must be 32 bytes"},
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
			require.False(t, c.WebhookAllowPrivateTargets, "production refuses private webhook targets by default")
		})
	}
}
