// Package docs serves the human-readable API reference: Swagger UI rendering
// the contract of package openapi. Every file the page loads is embedded in
// the binary, so the page works without any third-party host and can run
// under a Content-Security-Policy that allows this origin only.
package docs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ledgerline/ledgerline/shared/openapi"
)

//go:embed index.html
var indexHTML []byte

//go:embed assets
var embedded embed.FS

// assets is the tree served under /docs/assets/.
var assets = func() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		// fs.Sub fails only for an invalid name, and "assets" is a constant.
		panic(err)
	}
	return sub
}()

const (
	pagePath     = "/docs"
	assetsPrefix = "/docs/assets/"

	// Swagger UI sets inline style attributes and draws icons from data:
	// URIs; everything else, scripts included, must come from this origin.
	contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"

	// Assets change only with a deploy, and a deploy that changes them also
	// changes their ETags, so a day of caching costs at most a revalidation.
	assetCacheControl = "public, max-age=86400"
	// The page and the contract must reflect a deploy at once; their ETags
	// keep the revalidation cheap.
	revalidateCacheControl = "no-cache"
)

// contentTypes pins the types of the files we ship. The mime package would
// otherwise take them from the host's /etc/mime.types, which differs between
// machines (application/javascript versus text/javascript, for one).
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".png":  "image/png",
	".txt":  "text/plain; charset=utf-8",
	"":      "text/plain; charset=utf-8", // LICENSE, NOTICE, VERSION
}

// Handler serves the reference page at GET /docs, redirects /docs/ to it,
// and serves the page's files under /docs/assets/. It matches the full
// request path, so mount it at /docs and /docs/ without stripping a prefix.
// Every response carries a strict Content-Security-Policy and nosniff.
func Handler() http.Handler {
	mux := http.NewServeMux()
	// A GET pattern also answers HEAD; other methods get 405 with Allow.
	mux.HandleFunc("GET "+pagePath, servePage)
	mux.HandleFunc("GET "+pagePath+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		target := pagePath
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	})
	mux.Handle("GET "+assetsPrefix, http.StripPrefix(strings.TrimSuffix(assetsPrefix, "/"), http.HandlerFunc(serveAsset)))
	return withSecurityHeaders(mux)
}

// SpecHandler serves the contract as JSON, whatever the request path, so the
// caller decides where it lives (the page loads it from /v1/openapi.json).
func SpecHandler() http.Handler {
	return withSecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		body := openapi.JSON()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", revalidateCacheControl)
		h.Set("ETag", specETag())
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
}

func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", contentTypes[".html"])
	h.Set("Cache-Control", revalidateCacheControl)
	h.Set("ETag", pageETag())
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(indexHTML))
}

// serveAsset serves one embedded file. r.URL.Path has /docs/assets removed
// and, having passed the mux, is clean.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	tag, ok := assetETags()[name]
	if !ok {
		// Unknown names and directories alike: the file server would list a
		// directory, and nothing here is meant to be browsed.
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if ct, ok := contentTypes[path.Ext(name)]; ok {
		h.Set("Content-Type", ct)
	}
	h.Set("Cache-Control", assetCacheControl)
	h.Set("ETag", tag)
	http.FileServerFS(assets).ServeHTTP(w, r)
}

// Embedded files carry no modification time, so without ETags a browser
// could never revalidate them and would download the whole bundle again.
// Hashing happens on first use rather than at start-up, to keep it out of
// the cold start of functions that never serve the page.
var assetETags = sync.OnceValue(func() map[string]string {
	tags := make(map[string]string)
	err := fs.WalkDir(assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		tags[name] = etag(b)
		return nil
	})
	if err != nil {
		// Reading an embed.FS cannot fail short of a corrupt binary.
		panic(err)
	}
	return tags
})

var (
	pageETag = sync.OnceValue(func() string { return etag(indexHTML) })
	specETag = sync.OnceValue(func() string { return etag(openapi.JSON()) })
)

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
