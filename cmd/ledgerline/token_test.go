package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbtest"
)

// isolate points every per-user location at a fresh directory, so no real dev key or
// dev server state is read or written, and returns the key file the token command uses.
func isolate(t *testing.T) (configDir, keyFile string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	keyFile = filepath.Join(t.TempDir(), "keys", "dev.pem")
	t.Setenv("AUTH_DEV_KEY_FILE", keyFile)
	return filepath.Join(home, ".config", "ledgerline"), keyFile
}

// runTokenOutput runs the token command and returns what it printed to stdout.
func runTokenOutput(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	runErr := runToken(t.Context(), args)
	os.Stdout = saved
	require.NoError(t, w.Close())
	out := <-done
	require.NoError(t, r.Close())
	return out, runErr
}

func verifyWith(t *testing.T, keyFile, raw string) auth.Principal {
	t.Helper()
	iss, err := auth.LoadOrCreateDevIssuer(keyFile, auth.DevIssuerName, "ledgerline")
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	p, err := iss.Verifier().Authenticate(r)
	require.NoError(t, err)
	return p
}

func singleToken(t *testing.T, out string) string {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "%q", out)
	tok := strings.TrimSuffix(out, "\n")
	require.NotContains(t, tok, "\n", "one line: the token")
	require.Len(t, strings.Split(tok, "."), 3, "a JWT: %q", tok)
	return tok
}

func TestTokenWithFlags(t *testing.T) {
	_, keyFile := isolate(t)
	tenant := uuid.New()
	out, err := runTokenOutput(t, "--tenant", tenant.String(), "--roles", "accountant, viewer", "--subject", "alice", "--ttl", "30m")
	require.NoError(t, err)
	tok := singleToken(t, out)

	info, err := os.Stat(keyFile)
	require.NoError(t, err, "the key file is created on first use")
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	p := verifyWith(t, keyFile, tok)
	require.Equal(t, tenant, p.TenantID)
	require.Equal(t, "alice", p.Subject)
	require.Equal(t, []auth.Role{auth.RoleAccountant, auth.RoleViewer}, p.Roles)

	var c auth.Claims
	_, _, err = jwt.NewParser().ParseUnverified(tok, &c)
	require.NoError(t, err)
	require.Equal(t, jwt.ClaimStrings{"ledgerline"}, c.Audience)
	require.Equal(t, auth.DevIssuerName, c.Issuer)
	require.WithinDuration(t, time.Now().Add(30*time.Minute), c.ExpiresAt.Time, time.Minute)

	// A second token comes from the same key: the file is reused, not replaced.
	out, err = runTokenOutput(t, "--tenant", tenant.String())
	require.NoError(t, err)
	require.Equal(t, tenant, verifyWith(t, keyFile, singleToken(t, out)).TenantID)
}

func TestTokenDefaults(t *testing.T) {
	configDir, _ := isolate(t)
	t.Setenv("AUTH_DEV_KEY_FILE", "") // the default location, under the (isolated) config dir
	out, err := runTokenOutput(t)
	require.NoError(t, err)
	tok := singleToken(t, out)

	defaultKey := filepath.Join(configDir, "dev-signing-key.pem")
	require.Equal(t, defaultKey, devKeyFile())
	require.FileExists(t, defaultKey)
	p := verifyWith(t, defaultKey, tok)
	require.Equal(t, uuid.Version(7), p.TenantID.Version(), "a fresh tenant id")
	require.Equal(t, "dev-user", p.Subject)
	require.Equal(t, []auth.Role{auth.RoleAdmin}, p.Roles)

	out2, err := runTokenOutput(t)
	require.NoError(t, err)
	require.NotEqual(t, p.TenantID, verifyWith(t, defaultKey, singleToken(t, out2)).TenantID, "each run names a new tenant")
}

func TestTokenRefusesBadFlags(t *testing.T) {
	_, keyFile := isolate(t)
	out, err := runTokenOutput(t, "--roles", "admin,superuser")
	require.ErrorContains(t, err, "--roles")
	require.ErrorContains(t, err, "superuser")
	require.Empty(t, out)

	out, err = runTokenOutput(t, "--tenant", "acme")
	require.ErrorContains(t, err, "--tenant")
	require.Empty(t, out)
	require.NoFileExists(t, keyFile, "nothing is created for a refused command")
}

// TestTokenCreatesTheTenantOnTheDevServer: with a dev server's state file present, the
// token's tenant is created in its database, so the token works at once.
func TestTokenCreatesTheTenantOnTheDevServer(t *testing.T) {
	configDir, keyFile := isolate(t)
	db := dbtest.New(t)
	st, err := json.Marshal(devState{AdminURL: db.URLs.Admin, AppURL: db.URLs.App, BaseURL: "http://127.0.0.1:1", PID: 1})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(configDir, 0o700))
	require.Equal(t, filepath.Join(configDir, "dev.json"), statePath())
	require.NoError(t, os.WriteFile(statePath(), st, 0o600))

	tenant := uuid.Must(uuid.NewV7())
	out, err := runTokenOutput(t, "--tenant", tenant.String(), "--roles", "owner")
	require.NoError(t, err)
	require.Equal(t, tenant, verifyWith(t, keyFile, singleToken(t, out)).TenantID)

	var name string
	require.NoError(t, db.Admin.QueryRow(t.Context(), `SELECT name FROM tenants WHERE id = $1`, tenant).Scan(&name))
	require.Equal(t, "Tenant "+tenant.String()[:8], name)

	// Running it again for the same tenant is fine.
	_, err = runTokenOutput(t, "--tenant", tenant.String())
	require.NoError(t, err)

	// An unreachable dev server only warns: the token is still printed.
	st, err = json.Marshal(devState{AdminURL: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(statePath(), st, 0o600))
	out, err = runTokenOutput(t, "--tenant", tenant.String())
	require.NoError(t, err)
	singleToken(t, out)
}
