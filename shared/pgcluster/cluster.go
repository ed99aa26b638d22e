package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// readyTimeout bounds the wait for a new server to accept connections.
	// Startup normally takes well under a second, but the machines this runs
	// on are small and shared, so leave plenty of slack.
	readyTimeout = 30 * time.Second
	// shutdownGrace is how long a fast shutdown may take before Stop kills.
	shutdownGrace = 10 * time.Second
	// maxStartAttempts bounds retries when a picked port was taken between
	// picking it and postgres binding it.
	maxStartAttempts = 3
	// logTailBytes is how much server output is kept for error messages.
	logTailBytes = 4 << 10
	// maxSocketPath is the Unix socket path limit (sun_path minus the NUL).
	maxSocketPath = 107
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb and postgres. Empty means BinDir(): $PG_BINDIR,
	// else the highest /usr/lib/postgresql/*/bin containing initdb, else
	// initdb's directory on PATH.
	BinDir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free one (and retries
	// with another if it gets taken before postgres binds it).
	Port int
	// Log receives the server's output (initdb's too). nil writes it to
	// postgres.log in the cluster's temp dir, which Stop deletes. Write
	// errors are ignored so a broken writer cannot stall the server.
	Log io.Writer
	// Settings are extra postgresql.conf settings passed as -c name=value;
	// they override the defaults (fsync=off, synchronous_commit=off,
	// full_page_writes=off, max_connections=200, shared_buffers=256MB,
	// unix_socket_permissions=0777, listen_addresses=127.0.0.1), e.g. a
	// benchmark sets fsync=on. Names are case-insensitive; values are
	// unquoted (surrounding single quotes are stripped). port and
	// unix_socket_directories are managed by pgcluster and rejected.
	Settings map[string]string
}

// defaultSettings suit a throwaway cluster on a small machine: durability
// is pointless for data deleted at Stop, and turning it off makes schema
// setup and test writes far cheaper. max_connections is raised because
// parallel tests each open pools.
var defaultSettings = map[string]string{
	"fsync":                   "off",
	"synchronous_commit":      "off",
	"full_page_writes":        "off",
	"max_connections":         "200",
	"shared_buffers":          "256MB",
	"unix_socket_permissions": "0777",
	"listen_addresses":        "127.0.0.1",
}

// Cluster is a running throwaway PostgreSQL server. Its methods are safe for
// concurrent use.
type Cluster struct {
	dir     string // temp dir holding everything below
	dataDir string // <dir>/data
	sockDir string // <dir>/sock
	port    int

	srv     *server
	logFile *os.File // nil when the caller supplied Options.Log

	stopOnce sync.Once
	stopErr  error
}

// DSN returns a URL connecting to database as the superuser "postgres" over
// TCP. No password is needed: the cluster trusts local connections.
func (c *Cluster) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir returns the cluster's temp dir (data/, sock/ and, by default,
// postgres.log live in it). Stop removes it.
func (c *Cluster) Dir() string { return c.dir }

// Start creates a temp dir, runs initdb in it and starts postgres as a child
// process, returning once the server accepts connections. ctx bounds only
// the startup; the server runs until Stop. On failure nothing is left
// behind, and the error includes the tail of the server's output.
//
// When running as root, initdb and postgres run as the "postgres" OS user
// (both refuse to run as root), which must exist and be able to reach the
// temp dir ($TMPDIR).
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	settings, err := mergeSettings(opts.Settings)
	if err != nil {
		return nil, err
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = BinDir(); err != nil {
			return nil, err
		}
	} else {
		// Absolute, because the programs run with the temp dir as cwd and
		// exec resolves a relative program path against that.
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, fmt.Errorf("pgcluster: Options.BinDir: %w", err)
		}
		if err := checkBinDir(bin); err != nil {
			return nil, fmt.Errorf("pgcluster: Options.BinDir: %w", err)
		}
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{dir: dir}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if c.dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c.dataDir = filepath.Join(c.dir, "data")
	c.sockDir = filepath.Join(c.dir, "sock")
	if n := len(c.sockDir) + len("/.s.PGSQL.65535.lock"); n > maxSocketPath {
		return nil, fmt.Errorf("pgcluster: temp dir %s is too long to hold a Unix socket path (%d > %d bytes); set TMPDIR to a shorter directory", c.dir, n, maxSocketPath)
	}
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if cred != nil {
		// initdb creates data/ itself, so the server user needs to own the
		// parent; it also creates its socket and lock files in sock/.
		for _, d := range []string{c.dir, c.sockDir} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("pgcluster: %w", err)
			}
		}
	}

	logDest := opts.Log
	if logDest == nil {
		f, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		c.logFile = f
		logDest = f
	}

	if err := c.initdb(ctx, bin, cred, logDest); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = pickPort(); err != nil {
				return nil, fmt.Errorf("pgcluster: picking a port: %w", err)
			}
		}
		srv, err := c.launch(ctx, bin, cred, port, settings, logDest)
		if err == nil {
			c.srv, c.port = srv, port
			return c, nil
		}
		if opts.Port == 0 && attempt < maxStartAttempts && errors.Is(err, errPortInUse) {
			continue
		}
		return nil, err
	}
}

// Stop shuts the server down (fast shutdown: SIGINT, escalating to SIGKILL
// of its whole process group after 10 s) and removes the temp dir. It is
// idempotent and safe to call concurrently, e.g. from a signal-handling
// goroutine and a deferred call at once: later calls wait for the first and
// return its result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.srv != nil {
			errs = append(errs, c.srv.stop(shutdownGrace))
		}
		// Only now is the server's output drained, so closing is safe.
		if c.logFile != nil {
			errs = append(errs, c.logFile.Close())
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgcluster: removing %s: %w", c.dir, err))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// initdb creates the data directory. C.UTF-8 gives UTF-8 aware collation
// without depending on generated locales; it is not built into every libc,
// so fall back to plain C.
func (c *Cluster) initdb(ctx context.Context, bin string, cred *syscall.Credential, logDest io.Writer) error {
	var firstErr error
	for _, locale := range []string{"C.UTF-8", "C"} {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
			"-D", c.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale="+locale)
		// The server user may not be able to enter the caller's cwd (e.g.
		// /root), which makes initdb complain.
		cmd.Dir = c.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		_, _ = logDest.Write(out)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		err = fmt.Errorf("pgcluster: initdb --locale=%s: %w\n%s", locale, err, tail(out))
		if cred != nil && strings.Contains(string(out), "ermission denied") {
			err = fmt.Errorf("%w\n(hint: initdb runs as the postgres user, which must be able to reach %s; check TMPDIR)", err, c.dir)
		}
		if firstErr != nil {
			return errors.Join(firstErr, err)
		}
		firstErr = err
		// initdb removes the data dir it created on failure, but make sure.
		_ = os.RemoveAll(c.dataDir)
	}
	return firstErr
}

var errPortInUse = errors.New("port already in use")

// launch starts postgres on port and waits until it accepts connections.
// On failure the process is gone before it returns.
func (c *Cluster) launch(ctx context.Context, bin string, cred *syscall.Credential, port int, settings map[string]string, logDest io.Writer) (*server, error) {
	args := []string{"-D", c.dataDir, "-k", c.sockDir, "-h", "127.0.0.1", "-p", strconv.Itoa(port)}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", name+"="+settings[name])
	}
	srv, err := startServer(filepath.Join(bin, "postgres"), args, c.dir, cred, logDest)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: starting postgres: %w", err)
	}
	if err := srv.waitReady(ctx, c.sockDir, port); err != nil {
		_ = srv.stop(0)
		return nil, err
	}
	return srv, nil
}

// server is one postgres process.
type server struct {
	cmd     *exec.Cmd
	tail    *tailBuffer
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed
}

func startServer(path string, args []string, dir string, cred *syscall.Credential, logDest io.Writer) (*server, error) {
	s := &server{tail: &tailBuffer{max: logTailBytes}, done: make(chan struct{})}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out := &teeWriter{dest: logDest, tail: s.tail}
	cmd.Stdout, cmd.Stderr = out, out // same writer: one pipe, ordered output
	// If a crashed postmaster leaves backends holding the pipe, don't let
	// Wait block on them forever.
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: a Ctrl-C at the terminal goes to the
		// foreground group only, so postgres survives until the parent's
		// cleanup runs Stop instead of dying mid-flight on its own.
		Setpgid: true,
		// If the parent dies without calling Stop (SIGKILL, go test
		// timeout), take postgres down with it instead of leaking a server
		// with 256MB of shared buffers. SIGQUIT is postgres' immediate
		// shutdown, which also stops the backends.
		Pdeathsig:  syscall.SIGQUIT,
		Credential: cred,
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the creating OS thread exits, not the
		// process (go.dev/issue/27505), so start and wait on a thread that
		// stays locked, and therefore alive, until postgres has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	s.cmd = cmd
	return s, nil
}

// waitReady polls until the server accepts a connection. It connects over
// the Unix socket in the cluster's private socket dir, so a success proves
// it is our server (not some other process that grabbed the port); postgres
// binds its TCP listeners before its Unix sockets and exits if it cannot
// bind any, so TCP is ready too.
func (s *server) waitReady(ctx context.Context, sockDir string, port int) error {
	q := url.Values{
		"host":            {sockDir},
		"port":            {strconv.Itoa(port)},
		"sslmode":         {"disable"},
		"connect_timeout": {"2"},
	}
	cfg, err := pgx.ParseConfig("postgres://postgres@/postgres?" + q.Encode())
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	cfg.Fallbacks = nil // never wander off to a default socket or host

	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.ConnectConfig(attemptCtx, cfg)
		cancel()
		if err == nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: postgres did not accept connections within %s (last error: %v); server log tail:\n%s", readyTimeout, err, s.tail)
		}
		select {
		case <-s.done:
			log := s.tail.String()
			exitErr := fmt.Errorf("pgcluster: postgres exited during startup (%v); server log tail:\n%s", s.waitErr, log)
			if strings.Contains(log, "already in use") || strings.Contains(log, "could not create any TCP/IP sockets") {
				return fmt.Errorf("%w: %w", errPortInUse, exitErr)
			}
			return exitErr
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop asks for a fast shutdown and waits up to grace before killing the
// process group. Being forced is not an error: the goal, no server, is met.
func (s *server) stop(grace time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	if grace > 0 {
		// Signal only the postmaster: it shuts its backends down in order.
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-s.done:
			return nil
		case <-t.C:
		}
	}
	// The whole group, so backends do not linger after the postmaster.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("pgcluster: postgres (pid %d) still running after SIGKILL", pid)
	}
}

// pickPort returns a TCP port that was free on 127.0.0.1 a moment ago. It is
// a variable so tests can force a collision.
var pickPort = func() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverCredential returns the identity to run initdb/postgres as: nil (the
// current user) unless we are root, which both programs refuse.
func serverCredential() (*syscall.Credential, error) {
	if geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, so initdb and postgres must run as the \"postgres\" OS user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// mergeSettings lays opts over the defaults. Names are lowercased because
// postgres treats them case-insensitively; otherwise "FSYNC" and "fsync"
// would both be passed and the order of -c flags would decide the winner.
func mergeSettings(opts map[string]string) (map[string]string, error) {
	merged := maps.Clone(defaultSettings)
	for name, value := range opts {
		key := strings.ToLower(strings.TrimSpace(name))
		switch {
		case key == "" || strings.ContainsAny(key, "= \t\n"):
			return nil, fmt.Errorf("pgcluster: invalid setting name %q", name)
		case key == "port" || key == "unix_socket_directories":
			// DSN and the readiness check depend on these.
			return nil, fmt.Errorf("pgcluster: setting %q is managed by pgcluster (use Options.Port for the port)", name)
		}
		// -c takes the raw value; postgresql.conf-style quotes would become
		// part of it (listen_addresses='127.0.0.1' would not parse).
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = strings.ReplaceAll(value[1:len(value)-1], "''", "'")
		}
		merged[key] = value
	}
	return merged, nil
}

// teeWriter copies server output to the log destination and the in-memory
// tail. It never fails: an error from the pipe reader would stop exec's copy
// goroutine, the pipe would fill, and postgres would block writing its log.
type teeWriter struct {
	dest io.Writer
	tail *tailBuffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	_, _ = w.tail.Write(p)
	_, _ = w.dest.Write(p)
	return len(p), nil
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	max       int
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if t.truncated {
		// Drop the partial first line.
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return strings.TrimRight(s, "\n")
}

// tail returns the last logTailBytes of b as a string.
func tail(b []byte) string {
	t := &tailBuffer{max: logTailBytes}
	_, _ = t.Write(b)
	return t.String()
}
