package functions_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/openapi"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// superToken holds every tenant role and the platform claim: whatever an operation
// needs, authorisation lets it through, so the limit under test is what answers.
func superToken(t *testing.T, s *apitest.Server, books *tenantBooks) string {
	t.Helper()
	tok, err := s.Issuer.IssuePlatformAdmin(books.tenant, "limits", rbacRoles, time.Hour)
	require.NoError(t, err)
	return tok
}

// jsonOfSize is a JSON object of exactly n bytes.
func jsonOfSize(n int) string {
	const frame = `{"pad":""}`
	return `{"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

// TestLimitsBodySize sends a body one byte over its limit to every operation that
// takes one (MAX_BODY_BYTES for JSON, IMPORT_MAX_BYTES for an uploaded file): each
// answers 413 before decoding anything.
func TestLimitsBodySize(t *testing.T) {
	t.Parallel()
	// A small upload cap keeps the over-limit file small.
	s := apitest.New(t, func(d *platform.Deps) { d.Config.ImportMaxBytes = 16 << 10 })
	books := &tenantBooks{}
	books.tenant, _ = s.Tenant(t, "Limits")
	tok := superToken(t, s, books)
	jsonLimit := int(s.Deps.Config.MaxBodyBytes)
	require.Positive(t, jsonLimit)

	requireTooLarge := func(t *testing.T, status int, header http.Header, body []byte, what string) {
		t.Helper()
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s: %s", what, body)
		require.Equal(t, "application/problem+json", header.Get("Content-Type"), what)
		require.Contains(t, string(body), `"code":"body_too_large"`, what)
	}

	bodied := 0
	for _, fn := range httpOperations(t) {
		if fn.Method != http.MethodPost && fn.Method != http.MethodPatch && fn.Method != http.MethodPut {
			continue
		}
		bodied++
		t.Run(fn.Name, func(t *testing.T) {
			limit, contentType := jsonLimit, "application/json"
			switch {
			case fn.FileUpload():
				limit, contentType = int(s.Deps.Config.ImportMaxBytes), uploadMediaType(t, fn)
			case fn.Public():
				// The token endpoint reads an OAuth 2.0 form, within the same limit.
				contentType = "application/x-www-form-urlencoded"
			}
			req := minimalRequest(fn, tok)
			req.Header["Content-Type"] = contentType
			req.Path += uploadQueries[fn.Name]
			req.Body = jsonOfSize(limit + 1)
			resp := s.Do(t, req)
			requireTooLarge(t, resp.Status, resp.Header, resp.Body, fn.Name)

			// At the limit the body is read and judged on its content.
			req.Body = jsonOfSize(limit)
			resp = s.Do(t, req)
			require.NotEqual(t, http.StatusRequestEntityTooLarge, resp.Status, "%s: a body of exactly the limit is allowed", fn.Name)

			// A body without a declared length, or with a declared length that lies, is cut
			// off at the limit all the same.
			for _, declared := range []int64{-1, 10} {
				r := httptest.NewRequest(fn.Method, req.Path, io.NopCloser(bytes.NewReader([]byte(jsonOfSize(4*limit)))))
				r.ContentLength = declared
				r.Header.Set("Content-Type", contentType)
				r.Header.Set("Authorization", "Bearer "+tok)
				if fn.Method == http.MethodPatch {
					r.Header.Set("If-Match", `"1"`)
				}
				w := httptest.NewRecorder()
				s.Handler.ServeHTTP(w, r)
				requireTooLarge(t, w.Code, w.Header(), w.Body.Bytes(), fmt.Sprintf("%s with Content-Length %d", fn.Name, declared))
			}
		})
	}
	require.Greater(t, bodied, 10)
}

// uploadQueries are the query strings uploads need to be read at all.
var uploadQueries = map[string]string{"ImportsCreate": "?kind=counterparties"}

// uploadMediaType is a plain-text media type fn's contract accepts for its file.
func uploadMediaType(t *testing.T, fn manifest.Function) string {
	t.Helper()
	doc, err := openapi.Load()
	require.NoError(t, err)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID != fn.Name || op.RequestBody == nil {
				continue
			}
			var types []string
			for mt := range op.RequestBody.Value.Content {
				types = append(types, mt)
			}
			sort.Strings(types)
			for _, mt := range types {
				if strings.HasPrefix(mt, "text/") {
					return mt
				}
			}
			require.NotEmpty(t, types, fn.Name)
			return types[0]
		}
	}
	t.Fatalf("%s takes a file but its contract names no media type", fn.Name)
	return ""
}

// listOperations are the manifest's operations that page: those whose contract
// declares the limit parameter.
func listOperations(t *testing.T) map[string]*openapi3.Parameter {
	t.Helper()
	doc, err := openapi.Load()
	require.NoError(t, err)
	byID := map[string]*openapi3.Operation{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			byID[op.OperationID] = op
		}
	}
	lists := map[string]*openapi3.Parameter{}
	for _, fn := range httpOperations(t) {
		op, ok := byID[fn.Name]
		require.True(t, ok, "%s is not in the contract", fn.Name)
		if p := op.Parameters.GetByInAndName(openapi3.ParameterInQuery, "limit"); p != nil {
			lists[fn.Name] = p
		}
	}
	require.NotEmpty(t, lists)
	return lists
}

// TestLimitsPageSize checks every paging operation the same way: limit 1 to 100 is
// served, anything else is a 400 naming the parameter, never a silently larger page.
func TestLimitsPageSize(t *testing.T) {
	t.Parallel()
	pub := &capturedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub), func(d *platform.Deps) { d.RawPublisher = &topicSink{} }, withAgents)
	books := seedBooks(t, s, pub, newReceiver(t), "Pager")
	tok := superToken(t, s, books)
	lists := listOperations(t)

	for _, fn := range httpOperations(t) {
		param, ok := lists[fn.Name]
		if !ok {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			schema := param.Schema.Value
			require.NotNil(t, schema.Max, "%s: the contract caps limit", fn.Name)
			require.EqualValues(t, page.MaxLimit, *schema.Max, "%s: the contract's cap is the code's", fn.Name)
			require.NotNil(t, schema.Min)
			require.EqualValues(t, 1, *schema.Min)

			params, kinds := targetsOf(fn)
			values := map[string]string{}
			for _, p := range params {
				require.NotNil(t, kinds, "%s: no probe target names its path parameters", fn.Name)
				values[p] = books.ids[kinds[p]][0]
			}
			path := fillPath(fn.Path, values)
			sep := "?"
			if q := listQueries[fn.Name]; q != "" {
				path += q
				sep = "&"
			}
			for _, limit := range []string{"1", "20", strconv.Itoa(page.MaxLimit)} {
				resp := s.Do(t, apitest.Request{Method: "GET", Path: path + sep + "limit=" + limit, Token: tok})
				require.Equal(t, http.StatusOK, resp.Status, "%s limit=%s: %s", fn.Name, limit, resp.Body)
			}
			for _, limit := range []string{strconv.Itoa(page.MaxLimit + 1), "1000000", "0", "-1", "ten", "1.5", "", "99999999999999999999"} {
				resp := s.Do(t, apitest.Request{Method: "GET", Path: path + sep + "limit=" + limit, Token: tok})
				require.Equal(t, http.StatusBadRequest, resp.Status, "%s limit=%s: %s", fn.Name, limit, resp.Body)
				p := resp.Problem(t)
				require.Equal(t, "invalid_parameter", p.Code, "%s limit=%s", fn.Name, limit)
				require.Contains(t, p.Errors, "limit", "%s limit=%s", fn.Name, limit)
			}
		})
	}
}

// TestLimitsPerTenantRateLimit drives one tenant past its limit through the functions:
// it gets 429 with Retry-After, while another tenant on the same instance is served.
func TestLimitsPerTenantRateLimit(t *testing.T) {
	t.Parallel()
	const burst = 3
	// One request every 20 seconds after the burst: slow enough that no token comes
	// back while the test runs, however loaded the machine.
	s := apitest.New(t, apitest.WithRateLimit(0.05, burst))
	noisy, noisyToken := s.Tenant(t, "Noisy")
	_, quietToken := s.Tenant(t, "Quiet")

	get := func(token, path string) apitest.Response {
		return s.Do(t, apitest.Request{Method: "GET", Path: path, Token: token})
	}
	// The burst is shared by all of the tenant's operations and roles on the instance.
	paths := []string{"/v1/invoices", "/v1/counterparties", "/v1/payments"}
	for i := range burst {
		resp := get(noisyToken, paths[i%len(paths)])
		require.Equal(t, http.StatusOK, resp.Status, "request %d of the burst: %s", i+1, resp.Body)
	}
	for _, token := range []string{noisyToken, s.Token(t, noisy, auth.RoleViewer)} {
		for _, path := range paths {
			resp := get(token, path)
			require.Equal(t, http.StatusTooManyRequests, resp.Status, "%s: %s", path, resp.Body)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			require.Equal(t, "rate_limited", resp.Problem(t).Code)
			require.Equal(t, http.StatusTooManyRequests, resp.Problem(t).Status)
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After is whole seconds: %q", resp.Header.Get("Retry-After"))
			// The next token is at most 20 seconds away, and nearly all of that remains.
			require.GreaterOrEqual(t, retry, 10)
			require.LessOrEqual(t, retry, 20)
		}
	}
	// A write is refused the same way, before it is read or applied.
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: noisyToken,
		Body: map[string]any{"name": "Not created", "kind": "customer"}})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)

	// The other tenant has its own full bucket.
	for i := range burst {
		resp := get(quietToken, "/v1/counterparties")
		require.Equal(t, http.StatusOK, resp.Status, "the quiet tenant's request %d: %s", i+1, resp.Body)
		require.NotContains(t, string(resp.Body), "Not created")
	}
	require.Equal(t, http.StatusTooManyRequests, get(quietToken, "/v1/counterparties").Status, "and its own limit")

	// Requests without a valid token belong to no tenant: they are refused as such and
	// spend nobody's allowance.
	for range 2 * burst {
		require.Equal(t, http.StatusUnauthorized, get("", "/v1/invoices").Status)
	}
}

// TestLimitsRateLimitOffByDefaultInTests keeps the other tests' many requests from
// being limited: a server built without the option limits nothing.
func TestLimitsRateLimitOffByDefaultInTests(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	require.Nil(t, s.Deps.RateLimit)
	_, tok := s.Tenant(t, "Busy")
	for range 50 {
		require.Equal(t, http.StatusOK, s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices", Token: tok}).Status)
	}
}
