package platform

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/manifest"
)

// Constructor builds a function's handler from the instance's dependencies. It must
// be cheap and do no I/O: it runs once per instance, on the first request.
type Constructor func(d *Deps) http.Handler

var (
	regMu    sync.Mutex
	registry = map[string]Constructor{}
)

// HTTP registers the HTTP function name (its manifest entry point). It panics when name
// is not an HTTP function of the manifest, so a mismatch fails every test and build
// that imports the package rather than surfacing in production.
func HTTP(name string, ctor Constructor) {
	fn, ok := manifest.Lookup(name)
	if !ok || fn.Kind != manifest.HTTP {
		panic(fmt.Sprintf("platform: %s is not an HTTP function in the manifest", name))
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("platform: %s registered twice", name))
	}
	registry[name] = ctor
	functions.HTTP(name, lazyHandler(fn, ctor))
}

// Registered lists the registered entry points, sorted.
func Registered() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lazyHandler is what functions-framework-go serves in production: the instance's
// dependencies and the function's handler are built on the first request.
func lazyHandler(fn manifest.Function, ctor Constructor) http.HandlerFunc {
	var mu sync.Mutex
	var h http.Handler
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if h == nil {
			d, err := instance.get(r.Context())
			if err != nil {
				mu.Unlock()
				// Like every other response, this one carries a request id.
				httpx.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					slog.ErrorContext(r.Context(), "dependencies unavailable", "function", fn.Name, "error", err.Error())
					httpx.WriteError(w, r, apperr.Wrap(err, apperr.Unavailable, "service_unavailable", "the service is starting or its dependencies are unavailable; retry"))
				})).ServeHTTP(w, r)
				return
			}
			h = Wrap(fn, ctor(d), d)
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	}
}

// Handler builds the named function's complete handler over d (dev server and tests).
func Handler(name string, d *Deps) (http.Handler, error) {
	regMu.Lock()
	ctor, ok := registry[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("platform: %s is not registered", name)
	}
	fn, _ := manifest.Lookup(name)
	d = d.forFunction(fn.DBRole())
	return Wrap(fn, ctor(d), d), nil
}

// Mux serves every registered HTTP function at its API path, as the dev server does.
// Unknown paths answer a problem, not net/http's text; a known path with another
// method answers 405 with Allow, as a function deployed alone does.
func Mux(d *Deps) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for _, name := range Registered() {
		fn, _ := manifest.Lookup(name)
		h, err := Handler(name, d)
		if err != nil {
			return nil, err
		}
		mux.Handle(fn.Pattern(), h)
		if methods[fn.Path] == nil {
			paths = append(paths, fn.Path)
		}
		methods[fn.Path] = append(methods[fn.Path], fn.Method)
	}
	// The catch-all below would otherwise shadow net/http's own 405.
	for _, path := range paths {
		ms := methods[path]
		sort.Strings(ms)
		allow := strings.Join(ms, ", ")
		mux.Handle(path, httpx.RequestIDs(httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			return apperr.New(apperr.MethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+allow)
		})))
	}
	mux.Handle("/", httpx.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, apperr.New(apperr.NotFound, "route_not_found", "no operation at "+r.Method+" "+r.URL.Path))
	})))
	return mux, nil
}
