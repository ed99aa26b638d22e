package ledgerline_test

import (
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	_ "github.com/ledgerline/ledgerline"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/openapi"
	"github.com/ledgerline/ledgerline/shared/platform"
)

const module = "github.com/ledgerline/ledgerline"

func httpFunctions(t *testing.T) []manifest.Function {
	t.Helper()
	var fns []manifest.Function
	for _, f := range manifest.All() {
		if f.Kind == manifest.HTTP {
			fns = append(fns, f)
		}
	}
	require.NotEmpty(t, fns, "the manifest has HTTP functions")
	return fns
}

// TestManifestAgreement checks that the manifest, the registrations made by the
// function packages, the OpenAPI document, the dev server's routes and the root
// package's imports all describe the same function set.
func TestManifestAgreement(t *testing.T) {
	fns := httpFunctions(t)
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
	}
	sort.Strings(names)

	t.Run("registered functions are the manifest's HTTP functions", func(t *testing.T) {
		require.Equal(t, names, platform.Registered())
	})

	t.Run("registered processors are the manifest's CloudEvent functions", func(t *testing.T) {
		var want []string
		for _, f := range manifest.All() {
			if f.Kind == manifest.CloudEvent {
				want = append(want, f.Name)
			}
		}
		got := platform.RegisteredEvents()
		sort.Strings(want)
		sort.Strings(got)
		require.NotEmpty(t, want)
		require.Equal(t, want, got)
	})

	t.Run("OpenAPI operations are the manifest's HTTP functions", func(t *testing.T) {
		ops := openapi.Operations()
		var ids []string
		for id := range ops {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		require.Equal(t, names, ids)
		for _, f := range fns {
			op := ops[f.Name]
			require.Equal(t, f.Name, op.ID)
			require.Equal(t, f.Method, op.Method, "%s: method", f.Name)
			require.Equal(t, f.Path, op.Path, "%s: path", f.Name)
		}
	})

	t.Run("an operation takes an Idempotency-Key unless its answer is a secret", func(t *testing.T) {
		doc, err := openapi.Load()
		require.NoError(t, err)
		for _, f := range fns {
			if f.Method != http.MethodPost || f.Public() {
				continue
			}
			op := doc.Paths.Find(f.Path).GetOperation(f.Method)
			require.NotNil(t, op, f.Name)
			key := op.Parameters.GetByInAndName("header", "Idempotency-Key")
			// The platform refuses the key where the manifest marks the answer secret, so
			// the document must not offer it there, and must everywhere else.
			require.Equal(t, f.SecretResponse, key == nil, "%s: secret_response %v, but the document's Idempotency-Key is %v", f.Name, f.SecretResponse, key)
		}
	})

	t.Run("permissions are known", func(t *testing.T) {
		for _, f := range fns {
			if f.Public() {
				continue // anyone may call it; the manifest's own test pins which these are
			}
			require.True(t, auth.KnownPermission(auth.Permission(f.Permission)),
				"%s: permission %q is granted by no role", f.Name, f.Permission)
		}
	})

	t.Run("the dev server routes every function", func(t *testing.T) {
		// Building the handlers must do no I/O, so a Deps without a database suffices.
		d := &platform.Deps{
			Config: config.Config{MaxBodyBytes: 1 << 20},
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			Now:    time.Now,
		}
		mux, err := platform.Mux(d)
		require.NoError(t, err)
		for _, f := range fns {
			req := httptest.NewRequest(f.Method, fillParams(f.Path), nil)
			_, pattern := mux.Handler(req)
			require.Equal(t, f.Pattern(), pattern, "%s %s", f.Method, req.URL.Path)
		}
		// Something no function serves falls through to the catch-all.
		_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, "/v1/nope", nil))
		require.Equal(t, "/", pattern)
	})

	t.Run("ledgerline.go imports every function package", func(t *testing.T) {
		f, err := parser.ParseFile(token.NewFileSet(), "ledgerline.go", nil, parser.ImportsOnly)
		require.NoError(t, err)
		var imported []string
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			if strings.HasPrefix(p, module+"/functions/") {
				imported = append(imported, p)
			}
		}
		sort.Strings(imported)

		pkgs := functionPackages(t, "functions")
		require.NotEmpty(t, pkgs)
		require.Equal(t, pkgs, imported, "function packages under functions/ vs imports of ledgerline.go")
	})
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func fillParams(p string) string {
	return pathParam.ReplaceAllStringFunc(p, func(string) string { return uuid.NewString() })
}

// functionPackages lists the import paths of the directories under root holding a
// non-test Go file.
func functionPackages(t *testing.T, root string) []string {
	t.Helper()
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	require.NoError(t, err)
	var out []string
	for d := range dirs {
		out = append(out, path.Join(module, filepath.ToSlash(d)))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// TestManifestFunctionPackagesHelper makes sure the directory scan above finds what it
// should, so an empty result cannot make the import check pass vacuously.
func TestManifestFunctionPackagesHelper(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("package x\n"), 0o644))
	}
	write("a/b/b.go")
	write("a/c/c_test.go")
	write("a/d/testdata/x.go")
	write("e/e.go")
	got := functionPackages(t, root)
	rel := func(s string) string { return path.Join(module, filepath.ToSlash(filepath.Join(root, s))) }
	require.Equal(t, []string{rel("a/b"), rel("e")}, got)
}
