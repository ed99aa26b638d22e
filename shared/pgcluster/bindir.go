package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled reports that no PostgreSQL server binaries could be found.
// Callers can test for it with errors.Is and decide whether to call
// EnsureInstalled; Start never installs anything by itself.
var ErrNotInstalled = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

// Seams for tests: the Debian/Ubuntu layout root and the effective uid.
var (
	debianRoot = "/usr/lib/postgresql"
	geteuid    = os.Geteuid
)

// BinDir returns the directory holding the PostgreSQL server binaries, so
// callers can also find tools such as pgbench or psql next to them.
//
// Lookup order: $PG_BINDIR if set (an explicit choice, so it is an error if
// it is unusable rather than silently falling back); else the highest
// version under /usr/lib/postgresql/*/bin that has initdb (Debian/Ubuntu
// keep server binaries there, off PATH); else the directory of initdb found
// on PATH (Fedora, Homebrew, ...). The error wraps ErrNotInstalled when
// nothing was found.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("pgcluster: PG_BINDIR=%q: %w", d, err)
		}
		if err := checkBinDir(abs); err != nil {
			return "", fmt.Errorf("pgcluster: PG_BINDIR=%q: %w", d, err)
		}
		return abs, nil
	}
	if d := newestVersionedBinDir(debianRoot); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d, err := filepath.Abs(filepath.Dir(p)); err == nil && checkBinDir(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w (looked at $PG_BINDIR, %s/*/bin and PATH)", ErrNotInstalled, debianRoot)
}

// checkBinDir verifies that dir has both programs Start runs; a client-only
// install has neither, and a half-broken one may have just one.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("no %s in %s: %w", name, dir, err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s in %s is not an executable file", name, dir)
		}
	}
	return nil
}

// newestVersionedBinDir returns root/<version>/bin for the highest usable
// version, or "" if there is none. Versions are compared numerically so
// that 10 beats 9.6.
func newestVersionedBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type candidate struct {
		version []int
		dir     string
	}
	var cands []candidate
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !ok {
			continue
		}
		dir := filepath.Join(root, e.Name(), "bin")
		if checkBinDir(dir) != nil {
			continue
		}
		cands = append(cands, candidate{v, dir})
	}
	if len(cands) == 0 {
		return ""
	}
	best := slices.MaxFunc(cands, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses "15" or "9.6" into its numeric components.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// EnsureInstalled makes sure PostgreSQL server binaries are available.
//
// If they are already found (see BinDir) it does nothing. Otherwise, when
// running as root it installs the Debian "postgresql" package with apt-get
// (DEBIAN_FRONTEND=noninteractive, output to stderr), running apt-get update
// and retrying once if the first install fails, since fresh containers
// usually ship with empty package lists. Note that on a machine with a
// working init system the package also creates and starts a system-wide
// "main" cluster on port 5432; pgcluster does not use it. When not root it
// returns an error saying what to install instead of trying sudo.
//
// Start never calls this; installing software is the caller's decision.
func EnsureInstalled(ctx context.Context) error {
	_, err := BinDir()
	if err == nil || !errors.Is(err, ErrNotInstalled) {
		// Found, or a misconfigured $PG_BINDIR that installing cannot fix.
		return err
	}
	if geteuid() != 0 {
		return fmt.Errorf("%w; install the PostgreSQL server package "+
			"(Debian/Ubuntu: sudo apt-get install postgresql; Fedora: sudo dnf install postgresql-server; "+
			"macOS: brew install postgresql) or set PG_BINDIR to the directory containing initdb and postgres", err)
	}
	if _, lerr := exec.LookPath("apt-get"); lerr != nil {
		return fmt.Errorf("%w; running as root but apt-get is not available, so install the PostgreSQL server package by hand or set PG_BINDIR", err)
	}
	if ierr := aptGet(ctx, "install", "-y", "postgresql"); ierr != nil {
		if uerr := aptGet(ctx, "update"); uerr != nil {
			return fmt.Errorf("pgcluster: apt-get install postgresql failed (%v) and apt-get update failed: %w", ierr, uerr)
		}
		if ierr := aptGet(ctx, "install", "-y", "postgresql"); ierr != nil {
			return fmt.Errorf("pgcluster: apt-get install postgresql failed: %w", ierr)
		}
	}
	if _, err := BinDir(); err != nil {
		return fmt.Errorf("pgcluster: installed postgresql but still cannot find the server binaries: %w", err)
	}
	return nil
}

func aptGet(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	// Stdout goes to stderr too: callers such as the dev server may use
	// stdout for their own output, and this is progress noise.
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
