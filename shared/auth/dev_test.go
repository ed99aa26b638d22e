package auth

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestDevKeyFileCreated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nested", "deeper", "k.pem")
	iss, err := LoadOrCreateDevIssuer(path, testIssuer, testAudience)
	require.NoError(t, err)
	require.Equal(t, testIssuer, iss.Issuer)
	require.Equal(t, testAudience, iss.Audience)
	require.NotEmpty(t, iss.kid)

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the private key is readable by its owner only")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	require.Equal(t, "EC PRIVATE KEY", block.Type)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	require.Equal(t, "k.pem", entries[0].Name())
}

func TestDevKeyFileReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	a, err := LoadOrCreateDevIssuer(path, testIssuer, testAudience)
	require.NoError(t, err)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	b, err := LoadOrCreateDevIssuer(path, testIssuer, testAudience)
	require.NoError(t, err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "the second load does not rewrite the key")
	require.Equal(t, a.kid, b.kid)
	require.True(t, a.key.Equal(b.key))

	tenant := uuid.New()
	tok, err := a.Issue(tenant, "user-1", []Role{RoleOwner}, time.Hour)
	require.NoError(t, err)
	p, err := b.Verifier().Verify(context.Background(), tok)
	require.NoError(t, err, "a token from issuer A verifies with issuer B loaded from the same file")
	require.Equal(t, tenant, p.TenantID)

	other, err := LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "k.pem"), testIssuer, testAudience)
	require.NoError(t, err)
	require.NotEqual(t, a.kid, other.kid, "a different file is a different key")
	_, err = other.Verifier().Verify(context.Background(), tok)
	requireUnauthenticated(t, err)
}

func TestDevKeyFileConcurrentCreate(t *testing.T) {
	for i := range 20 {
		path := filepath.Join(t.TempDir(), "k.pem")
		const n = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   = make([]*DevIssuer, n)
			errs  = make([]error, n)
		)
		for g := range n {
			wg.Go(func() {
				<-start
				got[g], errs[g] = LoadOrCreateDevIssuer(path, testIssuer, testAudience)
			})
		}
		close(start)
		wg.Wait()
		for g := range n {
			require.NoError(t, errs[g], "round %d goroutine %d", i, g)
			require.Equal(t, got[0].kid, got[g].kid, "round %d goroutine %d", i, g)
			require.True(t, got[0].key.Equal(got[g].key))
		}
		final, err := LoadOrCreateDevIssuer(path, testIssuer, testAudience)
		require.NoError(t, err)
		require.Equal(t, got[0].kid, final.kid, "the key on disk is the one every creator uses")
	}
}

func TestDevKeyFileErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) string
	}{
		{"not PEM", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "k.pem")
			require.NoError(t, os.WriteFile(p, []byte("hello"), 0o600))
			return p
		}},
		{"PEM with garbage key", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "k.pem")
			require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("nope")}), 0o600))
			return p
		}},
		{"path is a directory", func(t *testing.T) string {
			return t.TempDir()
		}},
		{"parent is a file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			return filepath.Join(f, "k.pem")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t)
			iss, err := LoadOrCreateDevIssuer(path, testIssuer, testAudience)
			require.Error(t, err)
			require.Nil(t, iss)
		})
	}
}

func TestDevKeyFileUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err := LoadOrCreateDevIssuer(filepath.Join(dir, "k.pem"), testIssuer, testAudience)
	require.Error(t, err)
}

func TestDefaultDevKeyFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the config dir environment variables below are the Linux ones")
	}
	t.Run("user config dir", func(t *testing.T) {
		cfg := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", cfg)
		require.Equal(t, filepath.Join(cfg, "ledgerline", "dev-signing-key.pem"), DefaultDevKeyFile())
	})
	t.Run("falls back to the temp dir", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", "")
		t.Setenv("HOME", "")
		t.Setenv("TMPDIR", tmp)
		require.Equal(t, filepath.Join(tmp, "ledgerline", "dev-signing-key.pem"), DefaultDevKeyFile())
	})
}
