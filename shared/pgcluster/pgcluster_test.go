package pgcluster

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

const debianPG15 = "/usr/lib/postgresql/15/bin"

// requireServer skips when the machine has no server binaries, so the pure
// unit tests still run elsewhere.
func requireServer(t *testing.T) {
	t.Helper()
	if _, err := BinDir(); err != nil {
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
}

func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	requireServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func connect(t *testing.T, c *Cluster) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func setting(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v))
	return v
}

// The two happy-path cluster tests run in parallel to keep the suite
// short; they touch no package globals or environment. Tests that do
// (pickPort, TMPDIR) stay serial, and Go runs those first.

func TestStartStop(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	require.NotZero(t, c.Port())
	require.DirExists(t, filepath.Join(c.Dir(), "data"))

	conn := connect(t, c)
	ctx := context.Background()
	require.Equal(t, "off", setting(t, conn, "fsync"))
	require.Equal(t, "200", setting(t, conn, "max_connections"))
	require.Equal(t, "UTF8", setting(t, conn, "server_encoding"))

	_, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, name text)")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO t VALUES (1, 'é')")
	require.NoError(t, err)
	var name string
	require.NoError(t, conn.QueryRow(ctx, "SELECT name FROM t WHERE id = 1").Scan(&name))
	require.Equal(t, "é", name)

	// Stop while a client is still connected, from two goroutines at once,
	// as a signal handler and a deferred Stop would.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Stop() })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NoDirExists(t, c.Dir())
	require.NoError(t, c.Stop(), "third Stop")

	// The server is really gone, not just its directory.
	dialer := net.Dialer{Timeout: time.Second}
	_, err = dialer.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())))
	require.Error(t, err)
}

func TestSettingsOverrideAndLog(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	c := startCluster(t, Options{
		Settings: map[string]string{"work_mem": "8MB", "FSYNC": "on", "application_name": "'it''s'"},
		Log:      &log,
	})
	conn := connect(t, c)
	require.Equal(t, "8MB", setting(t, conn, "work_mem"))
	require.Equal(t, "on", setting(t, conn, "fsync"), "caller settings beat defaults, whatever their case")
	require.Equal(t, "off", setting(t, conn, "synchronous_commit"), "untouched defaults stay")

	require.NoError(t, c.Stop())
	require.Contains(t, log.String(), "ready to accept connections")
	require.Contains(t, log.String(), "Success.", "initdb output goes to the log too")
}

func TestPortCollisionRetries(t *testing.T) {
	requireServer(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	// First pick collides; the retry must move on to a free port.
	orig := pickPort
	t.Cleanup(func() { pickPort = orig })
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return busyPort, nil
		}
		return orig()
	}
	c := startCluster(t, Options{})
	require.Equal(t, 2, calls)
	require.NotEqual(t, busyPort, c.Port())
	connect(t, c)
}

func TestFixedBusyPortFailsAndCleansUp(t *testing.T) {
	requireServer(t)
	t.Setenv("TMPDIR", shortTempDir(t))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	_, err = Start(context.Background(), Options{Port: busy.Addr().(*net.TCPAddr).Port})
	require.ErrorIs(t, err, errPortInUse)
	require.ErrorContains(t, err, "server log tail")
	requireEmptyDir(t, os.Getenv("TMPDIR"))
}

func TestStartCanceledLeavesNothing(t *testing.T) {
	requireServer(t)
	t.Setenv("TMPDIR", shortTempDir(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Start(ctx, Options{})
	require.ErrorIs(t, err, context.Canceled)
	requireEmptyDir(t, os.Getenv("TMPDIR"))

	// Cancelled midway (initdb alone takes most of a second): the partly
	// built cluster must be torn down.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Start(ctx, Options{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	requireEmptyDir(t, os.Getenv("TMPDIR"))
}

func TestStartRejectsManagedSettings(t *testing.T) {
	_, err := Start(context.Background(), Options{Settings: map[string]string{"Port": "1"}})
	require.ErrorContains(t, err, "managed by pgcluster")
	_, err = Start(context.Background(), Options{Settings: map[string]string{"a=b": "1"}})
	require.ErrorContains(t, err, "invalid setting name")
}

func TestDSN(t *testing.T) {
	c := &Cluster{port: 54321}
	require.Equal(t, "postgres://postgres@127.0.0.1:54321/ledger?sslmode=disable", c.DSN("ledger"))
	require.Equal(t, 54321, c.Port())
}

func TestBinDir(t *testing.T) {
	if _, err := os.Stat(filepath.Join(debianPG15, "initdb")); err != nil {
		t.Skip("no PostgreSQL 15 from Debian packages here")
	}
	t.Setenv("PG_BINDIR", "")
	dir, err := BinDir()
	require.NoError(t, err)
	require.Equal(t, debianPG15, dir)

	t.Setenv("PG_BINDIR", debianPG15)
	dir, err = BinDir()
	require.NoError(t, err)
	require.Equal(t, debianPG15, dir)

	// An explicit but wrong PG_BINDIR is an error, not a silent fallback,
	// and not something EnsureInstalled should try to fix by installing.
	t.Setenv("PG_BINDIR", t.TempDir())
	_, err = BinDir()
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotInstalled)
	require.Error(t, EnsureInstalled(context.Background()))
}

func TestNewestVersionedBinDir(t *testing.T) {
	root := t.TempDir()
	fakeBin := func(version string, progs ...string) {
		dir := filepath.Join(root, version, "bin")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, p := range progs {
			require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755))
		}
	}
	fakeBin("9.6", "initdb", "postgres")
	fakeBin("13", "initdb", "postgres")
	fakeBin("17", "psql") // client-only: not usable
	fakeBin("notaversion", "initdb", "postgres")
	require.Equal(t, filepath.Join(root, "13", "bin"), newestVersionedBinDir(root))
	require.Empty(t, newestVersionedBinDir(filepath.Join(root, "missing")))
}

func TestEnsureInstalled(t *testing.T) {
	requireServer(t)
	require.NoError(t, EnsureInstalled(context.Background()), "binaries present: nothing to do")

	// Without binaries and without root it must explain, not install.
	t.Setenv("PG_BINDIR", "")
	t.Setenv("PATH", t.TempDir())
	origRoot, origEuid := debianRoot, geteuid
	t.Cleanup(func() { debianRoot, geteuid = origRoot, origEuid })
	debianRoot = t.TempDir()
	geteuid = func() int { return 1000 }
	err := EnsureInstalled(context.Background())
	require.ErrorIs(t, err, ErrNotInstalled)
	require.ErrorContains(t, err, "apt-get install postgresql")
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 10}
	_, _ = tb.Write([]byte("line one\nline two\n"))
	require.Equal(t, "line two", tb.String(), "partial first line dropped")
	tb = &tailBuffer{max: 100}
	_, _ = tb.Write([]byte("a\nb\n"))
	require.Equal(t, "a\nb", tb.String())
}

// shortTempDir is a temp dir the postgres OS user can enter (t.TempDir's
// parent is 0700 and root-owned), with a path short enough for sockets.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "Start left files behind in %s", dir)
}

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
