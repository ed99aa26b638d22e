package docs

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/openapi"
)

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func assertSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'", rec.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
}

// pageRefs lists the URLs that index.html loads.
func pageRefs(t *testing.T, html string) []string {
	t.Helper()
	var refs []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		refs = append(refs, m[1])
	}
	return refs
}

func TestPage(t *testing.T) {
	rec := do(t, Handler(), http.MethodGet, "/docs", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
	assert.NotEmpty(t, rec.Header().Get("ETag"))
	assertSecurityHeaders(t, rec)

	body := rec.Body.String()
	assert.Contains(t, body, `<div id="ui"></div>`)
	refs := pageRefs(t, body)
	for _, want := range []string{
		"/docs/assets/swagger-ui/swagger-ui.css",
		"/docs/assets/swagger-ui/swagger-ui-bundle.js",
		"/docs/assets/init.js",
	} {
		assert.Contains(t, refs, want)
	}
}

// The policy forbids inline scripts and other origins; the page must not
// need either, or it would render blank in a browser.
func TestPageNeedsNothingThePolicyForbids(t *testing.T) {
	body := do(t, Handler(), http.MethodGet, "/docs", nil).Body.String()
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(body, -1) {
		assert.Contains(t, m[1], `src="`, "scripts must be files")
		assert.Empty(t, strings.TrimSpace(m[2]), "scripts must not be inline")
	}
	assert.NotRegexp(t, `\son[a-z]+\s*=`, body, "no inline event handlers")
	for _, ref := range pageRefs(t, body) {
		assert.Truef(t, strings.HasPrefix(ref, "/"), "%s must be on this origin", ref)
	}

	initJS := do(t, Handler(), http.MethodGet, "/docs/assets/init.js", nil).Body.String()
	assert.Contains(t, initJS, "url: '/v1/openapi.json'")
	assert.Contains(t, initJS, "dom_id: '#ui'")
	assert.Contains(t, initJS, "deepLinking: true")
	assert.Contains(t, initJS, "tryItOutEnabled: false")
}

func TestPageRefsAreServed(t *testing.T) {
	h := Handler()
	body := do(t, h, http.MethodGet, "/docs", nil).Body.String()
	refs := pageRefs(t, body)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		if ref == "/v1/openapi.json" { // served by SpecHandler
			continue
		}
		rec := do(t, h, http.MethodGet, ref, nil)
		assert.Equalf(t, http.StatusOK, rec.Code, "%s", ref)
	}
}

func TestAssets(t *testing.T) {
	h := Handler()
	for target, wantType := range map[string]string{
		"/docs/assets/init.js":                                     "text/javascript; charset=utf-8",
		"/docs/assets/swagger-ui/swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
		"/docs/assets/swagger-ui/swagger-ui.css":                   "text/css; charset=utf-8",
		"/docs/assets/swagger-ui/favicon-32x32.png":                "image/png",
		"/docs/assets/swagger-ui/LICENSE":                          "text/plain; charset=utf-8",
		"/docs/assets/swagger-ui/NOTICE":                           "text/plain; charset=utf-8",
		"/docs/assets/swagger-ui/VERSION":                          "text/plain; charset=utf-8",
		"/docs/assets/swagger-ui/swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
	} {
		t.Run(target, func(t *testing.T) {
			rec := do(t, h, http.MethodGet, target, nil)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, wantType, rec.Header().Get("Content-Type"))
			assert.Equal(t, "public, max-age=86400", rec.Header().Get("Cache-Control"))
			assertSecurityHeaders(t, rec)

			want, err := fs.ReadFile(embedded, "assets/"+strings.TrimPrefix(target, "/docs/assets/"))
			require.NoError(t, err)
			assert.Equal(t, len(want), rec.Body.Len())

			tag := rec.Header().Get("ETag")
			require.NotEmpty(t, tag)
			again := do(t, h, http.MethodGet, target, http.Header{"If-None-Match": {tag}})
			assert.Equal(t, http.StatusNotModified, again.Code)
			assert.Zero(t, again.Body.Len())
		})
	}
}

func TestAssetsStaySmall(t *testing.T) {
	const limit = 2 << 20
	err := fs.WalkDir(embedded, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		assert.Lessf(t, info.Size(), int64(limit), "%s must stay under 2 MiB", name)
		return nil
	})
	require.NoError(t, err)

	version, err := fs.ReadFile(embedded, "assets/swagger-ui/VERSION")
	require.NoError(t, err)
	assert.Regexp(t, `^swagger-ui-dist \d+\.\d+\.\d+\n`, string(version))
	assert.Contains(t, string(version), "npm pack")
}

func TestRoutes(t *testing.T) {
	h := Handler()

	rec := do(t, h, http.MethodGet, "/docs/?x=1", nil)
	assert.Equal(t, http.StatusMovedPermanently, rec.Code)
	assert.Equal(t, "/docs?x=1", rec.Header().Get("Location"))

	rec = do(t, h, http.MethodHead, "/docs", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Zero(t, rec.Body.Len())

	rec = do(t, h, http.MethodGet, "/docs", nil)
	again := do(t, h, http.MethodGet, "/docs", http.Header{"If-None-Match": {rec.Header().Get("ETag")}})
	assert.Equal(t, http.StatusNotModified, again.Code)

	rec = do(t, h, http.MethodPost, "/docs", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Contains(t, rec.Header().Get("Allow"), http.MethodGet)

	for _, target := range []string{
		"/docs/assets/",
		"/docs/assets/swagger-ui/",
		"/docs/assets/missing.js",
		"/docs/assets/swagger-ui/swagger-ui.css.map",
		"/docs/index.html",
		"/docs/other",
	} {
		rec := do(t, h, http.MethodGet, target, nil)
		assert.Equalf(t, http.StatusNotFound, rec.Code, "%s", target)
	}

	// Unclean paths are redirected to their clean form by the mux, never
	// resolved outside the embedded tree.
	rec = do(t, h, http.MethodGet, "/docs/assets/../../etc/passwd", nil)
	assert.NotEqual(t, http.StatusOK, rec.Code)
}

func TestSpecHandler(t *testing.T) {
	h := SpecHandler()
	for _, target := range []string{"/v1/openapi.json", "/anything"} {
		rec := do(t, h, http.MethodGet, target, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
		assertSecurityHeaders(t, rec)

		var doc map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
		assert.Equal(t, "3.0.3", doc["openapi"])
		assert.Equal(t, openapi.JSON(), rec.Body.Bytes())

		again := do(t, h, http.MethodGet, target, http.Header{"If-None-Match": {rec.Header().Get("ETag")}})
		assert.Equal(t, http.StatusNotModified, again.Code)
	}

	rec := do(t, h, http.MethodHead, "/v1/openapi.json", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Zero(t, rec.Body.Len())

	rec = do(t, h, http.MethodPost, "/v1/openapi.json", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}
