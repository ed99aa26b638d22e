package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/db/dbsetup"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/pgcluster"
)

const (
	database = "ledgerline"
	audience = "ledgerline"
	// logLevel keeps the functions' per-request log lines out of the measurement: at
	// info every request writes a JSON line to stdout, which at these rates would cost
	// more than some of the operations measured.
	logLevel = "warn"
)

// pgSettings are production's durability settings; the throwaway cluster's defaults
// trade them away for test speed, which would flatter every write measured here.
var pgSettings = map[string]string{
	"fsync":              "on",
	"synchronous_commit": "on",
	"full_page_writes":   "on",
	"shared_buffers":     "512MB",
}

// stack is the system under test: the cluster, the migrated database and the built
// binary each function runs from.
type stack struct {
	cluster *pgcluster.Cluster
	urls    dbsetup.URLs
	bin     string
	keyFile string
	tmp     string
	issuer  *auth.DevIssuer
	pgBin   string
}

func startStack(ctx context.Context, cfg Config, progress io.Writer) (_ *stack, err error) {
	s := &stack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.tmp, err = os.MkdirTemp("", "ledgerline-bench-"); err != nil {
		return nil, err
	}
	if _, err := pgcluster.BinDir(); errors.Is(err, pgcluster.ErrNotInstalled) {
		if err := pgcluster.EnsureInstalled(ctx); err != nil {
			return nil, err
		}
	}
	if s.pgBin, err = pgcluster.BinDir(); err != nil {
		return nil, err
	}
	if cfg.Binary != "" {
		s.bin = cfg.Binary
	} else {
		fmt.Fprintln(progress, "building ledgerline")
		if s.bin, err = build(ctx, s.tmp); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(progress, "starting PostgreSQL (fsync, synchronous_commit and full_page_writes on)")
	if s.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Settings: pgSettings}); err != nil {
		return nil, err
	}
	if s.urls, err = dbsetup.Bootstrap(ctx, s.cluster.DSN("postgres"), database); err != nil {
		return nil, err
	}
	s.keyFile = filepath.Join(s.tmp, "dev-signing-key.pem")
	if s.issuer, err = auth.LoadOrCreateDevIssuer(s.keyFile, auth.DevIssuerName, audience); err != nil {
		return nil, err
	}
	return s, nil
}

// build compiles the command once; every function process and cold start runs it.
func build(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || root == "" {
		return "", errors.New("not inside the ledgerline module: run from its checkout")
	}
	bin := filepath.Join(dir, "ledgerline")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ledgerline")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func (s *stack) close() {
	if s.cluster != nil {
		_ = s.cluster.Stop()
	}
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// postmasterPID reads the server's pid from its lock file, to account its CPU.
func (s *stack) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(s.cluster.Dir(), "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func (s *stack) admin(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, s.urls.Admin) }

// process is one function running as its own process, as Cloud Run runs it.
type process struct {
	name string
	base string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
}

// functionEnv is the environment of a function process: what Terraform sets, with the
// local database, the development issuer and nothing inherited but PATH.
func (s *stack) functionEnv(name, port string, maxConns int) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.tmp,
		"FUNCTION_TARGET=" + name,
		"PORT=" + port,
		"DATABASE_URL=" + s.databaseURL(name),
		"AUTH_ISSUER=" + auth.DevIssuerName,
		"AUTH_DEV_KEY_FILE=" + s.keyFile,
		"DB_MAX_CONNS=" + strconv.Itoa(maxConns),
		"LOG_LEVEL=" + logLevel,
		// The benchmark measures capacity: a per-tenant limit would measure the limit.
		"RATE_LIMIT_PER_SECOND=0",
	}
	// The Go runtime settings a deployed instance of the function gets (Terraform reads
	// the same manifest entry).
	if fn, ok := manifest.Lookup(name); ok {
		for k, v := range fn.RuntimeEnv() {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// databaseURL is the login of the function's database role, as its IAM user is mapped
// in production. Every function's database is reached through one login per role.
func (s *stack) databaseURL(name string) string {
	fn, _ := manifest.Lookup(name)
	switch fn.DBRole() {
	case "readonly":
		return s.urls.Readonly
	case "relay":
		return s.urls.Relay
	case "ops":
		return s.urls.Ops
	}
	return s.urls.App
}

// launch starts the function without waiting for it.
func (s *stack) launch(name string, maxConns int) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &process{name: name, base: "http://127.0.0.1:" + port, out: &tail{}, done: make(chan struct{})}
	p.cmd = exec.Command(s.bin, "serve")
	p.cmd.Env = s.functionEnv(name, port, maxConns)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// start starts the function and waits until it accepts connections.
func (s *stack) start(ctx context.Context, name string, maxConns int) (*process, error) {
	p, err := s.launch(name, maxConns)
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(p.base, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before listening:\n%s", name, p.out)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not listen within 30s:\n%s", name, p.out)
		}
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// tail keeps the last few KiB a process wrote, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 8 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
