package platform_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	_ "github.com/ledgerline/ledgerline" // registers every function
	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func requireProblem(t *testing.T, resp apitest.Response, status int, code string) apitest.Problem {
	t.Helper()
	require.Equal(t, status, resp.Status, string(resp.Body))
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	p := resp.Problem(t)
	require.Equal(t, status, p.Status)
	require.Equal(t, code, p.Code, string(resp.Body))
	require.NotEmpty(t, resp.Header.Get(httpx.RequestIDHeader))
	require.Equal(t, resp.Header.Get(httpx.RequestIDHeader), p.Instance)
	return p
}

func invoiceBody(counterparty uuid.UUID, currency string, line map[string]any) map[string]any {
	return map[string]any{
		"direction": "receivable", "counterparty_id": counterparty.String(), "currency": currency,
		"issue_date": "2025-03-01", "lines": []any{line},
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, _ := s.Tenant(t, "Acme")
	path := "/v1/counterparties"

	t.Run("no token", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path})
		requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
		require.Equal(t, `Bearer realm="ledgerline"`, resp.Header.Get("WWW-Authenticate"))
	})

	for name, header := range map[string]string{
		"not bearer":   "Basic dXNlcjpwYXNz",
		"empty bearer": "Bearer ",
		"not a jwt":    "Bearer not-a-jwt",
	} {
		t.Run(name, func(t *testing.T) {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Header: map[string]string{"Authorization": header}})
			requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
			require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="ledgerline"`),
				"challenge %q", resp.Header.Get("WWW-Authenticate"))
		})
	}

	t.Run("token of another key", func(t *testing.T) {
		// Same issuer name and audience, different signing key.
		other, err := auth.LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "other.pem"), s.Issuer.Issuer, s.Issuer.Audience)
		require.NoError(t, err)
		tok, err := other.Issue(tenant, "mallory", []auth.Role{auth.RoleOwner}, time.Hour)
		require.NoError(t, err)
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tok})
		requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
		require.Equal(t, `Bearer realm="ledgerline", error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
	})

	t.Run("token of another issuer", func(t *testing.T) {
		other, err := auth.LoadOrCreateDevIssuer(filepath.Join(t.TempDir(), "other.pem"), "https://evil.example", s.Issuer.Audience)
		require.NoError(t, err)
		tok, err := other.Issue(tenant, "mallory", []auth.Role{auth.RoleOwner}, time.Hour)
		require.NoError(t, err)
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tok})
		requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	})

	t.Run("behind the gateway", func(t *testing.T) {
		gw := apitest.New(t, func(d *platform.Deps) {
			d.Config.AuthForwardedHeader = true
			d.Auth.(*auth.Authenticator).Forwarded = true
		})
		tenant, _ := gw.Tenant(t, "Gated")
		gatewayToken := map[string]string{"Authorization": "Bearer gateway-identity-token"}
		resp := gw.Do(t, apitest.Request{Method: "GET", Path: path, Header: gatewayToken})
		requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated")
		require.Equal(t, `Bearer realm="ledgerline"`, resp.Header.Get("WWW-Authenticate"), "no caller token was forwarded")
		resp = gw.Do(t, apitest.Request{Method: "GET", Path: path, Header: map[string]string{
			"Authorization": "Bearer gateway-identity-token", auth.ForwardedHeader: "Bearer not-a-jwt"}})
		require.Equal(t, `Bearer realm="ledgerline", error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
		resp = gw.Do(t, apitest.Request{Method: "GET", Path: path, Header: map[string]string{
			"Authorization": "Bearer gateway-identity-token", auth.ForwardedHeader: "Bearer " + gw.Token(t, tenant, auth.RoleViewer)}})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	})

	t.Run("valid token", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: s.Token(t, tenant, auth.RoleViewer)})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Empty(t, resp.Header.Get("WWW-Authenticate"))
	})
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant, _ := s.Tenant(t, "Acme")
	viewer := s.Token(t, tenant, auth.RoleViewer)

	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: viewer,
		Body: map[string]any{"name": "Globex", "kind": "customer"}})
	p := requireProblem(t, resp, http.StatusForbidden, "forbidden")
	require.Contains(t, p.Detail, string(auth.CounterpartiesWrite))

	var n int
	require.NoError(t, s.DB.Admin.QueryRow(t.Context(), `SELECT count(*) FROM counterparties`).Scan(&n))
	require.Zero(t, n, "a refused request creates nothing")

	// The same role may read.
	resp = s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: viewer})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")

	t.Run("unknown path", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/nope", Token: tok})
		requireProblem(t, resp, http.StatusNotFound, "route_not_found")
	})
	t.Run("unknown path without a token is still a 404", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/nope"})
		requireProblem(t, resp, http.StatusNotFound, "route_not_found")
	})
	t.Run("known path, other method", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "DELETE", Path: "/v1/invoices", Token: tok})
		requireProblem(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
		require.Equal(t, "GET, POST", resp.Header.Get("Allow"))

		resp = s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties/" + uuid.NewString(), Token: tok, Body: "{}"})
		requireProblem(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
		require.Equal(t, "DELETE, GET, PATCH", resp.Header.Get("Allow"))
	})
	t.Run("malformed id is the entity's 404", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties/not-a-uuid", Token: tok})
		requireProblem(t, resp, http.StatusNotFound, "counterparty_not_found")
	})
	t.Run("unknown id", func(t *testing.T) {
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/invoices/" + uuid.NewString(), Token: tok})
		requireProblem(t, resp, http.StatusNotFound, "invoice_not_found")
	})
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")
	post := func(t *testing.T, path string, body any, header map[string]string) apitest.Response {
		t.Helper()
		return s.Do(t, apitest.Request{Method: "POST", Path: path, Token: tok, Body: body, Header: header})
	}
	cp := uuid.New()
	goodLine := map[string]any{"description": "Consulting", "quantity": "2", "unit_amount_minor": 100}

	t.Run("over the body limit", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("x", int(s.Deps.Config.MaxBodyBytes)) + `","kind":"customer"}`
		p := requireProblem(t, post(t, "/v1/counterparties", big, nil), http.StatusRequestEntityTooLarge, "body_too_large")
		require.Contains(t, p.Detail, "65536")
	})
	t.Run("not JSON", func(t *testing.T) {
		resp := post(t, "/v1/counterparties", "name=Acme", map[string]string{"Content-Type": "text/plain"})
		requireProblem(t, resp, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		requireProblem(t, post(t, "/v1/counterparties", `{"name":`, nil), http.StatusBadRequest, "malformed_json")
		requireProblem(t, post(t, "/v1/counterparties", `{"name":"a","kind":"customer"} x`, nil), http.StatusBadRequest, "malformed_json")
	})
	t.Run("unknown field", func(t *testing.T) {
		p := requireProblem(t, post(t, "/v1/counterparties", map[string]any{"name": "Acme", "kind": "customer", "is_admin": true}, nil),
			http.StatusBadRequest, "unknown_field")
		require.Equal(t, map[string]string{"is_admin": "is not a known field"}, p.Errors)
	})
	t.Run("unknown nested field", func(t *testing.T) {
		line := map[string]any{"description": "Consulting", "quantity": "2", "unit_amount_minor": 100, "discount": 5}
		p := requireProblem(t, post(t, "/v1/invoices", invoiceBody(cp, "EUR", line), nil), http.StatusBadRequest, "unknown_field")
		require.Contains(t, p.Errors, "lines[0].discount")
	})
	t.Run("invalid quantity", func(t *testing.T) {
		line := map[string]any{"description": "Consulting", "quantity": "-1", "unit_amount_minor": 100}
		p := requireProblem(t, post(t, "/v1/invoices", invoiceBody(cp, "EUR", line), nil), http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "lines[0].quantity")
		require.Len(t, p.Errors, 1, "only the bad field is named: %v", p.Errors)
	})
	t.Run("lower-case currency", func(t *testing.T) {
		p := requireProblem(t, post(t, "/v1/invoices", invoiceBody(cp, "usd", goodLine), nil), http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "currency")
		require.Len(t, p.Errors, 1, "%v", p.Errors)
	})
	t.Run("every bad field is named at once", func(t *testing.T) {
		line := map[string]any{"description": "Consulting", "quantity": "-1", "unit_amount_minor": 100}
		p := requireProblem(t, post(t, "/v1/invoices", invoiceBody(cp, "usd", line), nil), http.StatusUnprocessableEntity, "validation_failed")
		require.Contains(t, p.Errors, "currency")
		require.Contains(t, p.Errors, "lines[0].quantity")
	})
	t.Run("missing required fields are keyed by their own name", func(t *testing.T) {
		p := requireProblem(t, post(t, "/v1/counterparties", map[string]any{"kind": "customer"}, nil), http.StatusUnprocessableEntity, "validation_failed")
		require.Equal(t, map[string]string{"name": "is required"}, p.Errors)

		line := map[string]any{"quantity": "1", "unit_amount_minor": 100}
		p = requireProblem(t, post(t, "/v1/invoices", invoiceBody(cp, "EUR", line), nil), http.StatusUnprocessableEntity, "validation_failed")
		require.Equal(t, map[string]string{"lines[0].description": "is required"}, p.Errors)
	})
	t.Run("idempotency key too long", func(t *testing.T) {
		resp := post(t, "/v1/counterparties", map[string]any{"name": "Acme", "kind": "customer"},
			map[string]string{"Idempotency-Key": strings.Repeat("k", 300)})
		require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
		p := resp.Problem(t)
		require.True(t, strings.Contains(p.Detail, "Idempotency-Key") || p.Errors["Idempotency-Key"] != "",
			"the problem names the header: %s", resp.Body)
	})

	var n int
	require.NoError(t, s.DB.Admin.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM counterparties) + (SELECT count(*) FROM invoices)`).Scan(&n))
	require.Zero(t, n, "no refused request created anything")
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")
	key := uuid.NewString()
	req := apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: tok,
		Body: `{"name":"Globex","kind":"vendor"}`, Header: map[string]string{"Idempotency-Key": key}}

	first := s.Do(t, req)
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))

	// The same request with other whitespace and key order is the same request.
	req.Body = `{ "kind": "vendor", "name": "Globex" }`
	again := s.Do(t, req)
	require.Equal(t, http.StatusCreated, again.Status, string(again.Body))
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.Body), string(again.Body))
	require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))

	var n int
	require.NoError(t, s.DB.Admin.QueryRow(t.Context(), `SELECT count(*) FROM counterparties`).Scan(&n))
	require.Equal(t, 1, n)

	req.Body = `{"name":"Initech","kind":"vendor"}`
	reused := s.Do(t, req)
	requireProblem(t, reused, http.StatusUnprocessableEntity, "idempotency_key_reused")
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	_, tok := s.Tenant(t, "Acme")
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)

	t.Run("a sane id is echoed", func(t *testing.T) {
		for _, path := range []string{"/v1/counterparties", "/v1/nope"} {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: path, Token: tok, Header: map[string]string{"X-Request-Id": "client-42_a.b"}})
			require.Equal(t, "client-42_a.b", resp.Header.Get("X-Request-Id"), path)
		}
		resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Header: map[string]string{"X-Request-Id": "client-43"}})
		require.Equal(t, "client-43", requireProblem(t, resp, http.StatusUnauthorized, "unauthenticated").Instance)
	})
	t.Run("an insane id is replaced", func(t *testing.T) {
		for _, id := range []string{"has space", "quote\"", strings.Repeat("a", 129), "<script>"} {
			resp := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: tok, Header: map[string]string{"X-Request-Id": id}})
			got := resp.Header.Get("X-Request-Id")
			require.NotEqual(t, id, got)
			require.Regexp(t, generated, got)
		}
	})
	t.Run("ids are generated per request", func(t *testing.T) {
		a := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: tok}).Header.Get("X-Request-Id")
		b := s.Do(t, apitest.Request{Method: "GET", Path: "/v1/counterparties", Token: tok}).Header.Get("X-Request-Id")
		require.Regexp(t, generated, a)
		require.NotEqual(t, a, b)
	})
}

func TestRegistration(t *testing.T) {
	require.PanicsWithValue(t, "platform: CounterpartiesGet registered twice", func() {
		platform.HTTP("CounterpartiesGet", func(*platform.Deps) http.Handler { return http.NotFoundHandler() })
	})
	names := platform.Registered()
	require.IsIncreasing(t, names)
	require.Contains(t, names, "CounterpartiesGet")

	s := apitest.New(t)
	for _, name := range names {
		h, err := platform.Handler(name, s.Deps)
		require.NoError(t, err, name)
		require.NotNil(t, h)
	}
}
