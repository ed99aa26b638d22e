package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/logging"
)

// captureLogs routes the default slog logger into a buffer for the test.
func captureLogs(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p), "body: %s", rec.Body.String())
	require.Equal(t, rec.Code, p.Status)
	return p
}

func TestWriteErrorStatusTable(t *testing.T) {
	cases := []struct {
		kind   apperr.Kind
		status int
	}{
		{apperr.Invalid, 400},
		{apperr.Unprocessable, 422},
		{apperr.Unauthenticated, 401},
		{apperr.Forbidden, 403},
		{apperr.NotFound, 404},
		{apperr.MethodNotAllowed, 405},
		{apperr.Conflict, 409},
		{apperr.PreconditionFailed, 412},
		{apperr.TooLarge, 413},
		{apperr.UnsupportedMediaType, 415},
		{apperr.RateLimited, 429},
		{apperr.Unavailable, 503},
		{apperr.Internal, 500},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			captureLogs(t)
			r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			r = r.WithContext(WithRequestID(r.Context(), "req-123"))
			rec := httptest.NewRecorder()
			WriteError(rec, r, apperr.New(tc.kind, "some_code", "some message"))

			require.Equal(t, tc.status, rec.Code)
			p := decodeProblem(t, rec)
			require.Equal(t, http.StatusText(tc.status), p.Title)
			require.Equal(t, "req-123", p.Instance)
			require.True(t, strings.HasSuffix(rec.Body.String(), "\n"))
			if tc.kind == apperr.Internal {
				require.Equal(t, "internal", p.Code)
				require.Equal(t, ProblemTypeBase+"internal", p.Type)
				require.Equal(t, "internal error", p.Detail)
			} else {
				require.Equal(t, "some_code", p.Code)
				require.Equal(t, ProblemTypeBase+"some_code", p.Type)
				require.Equal(t, "some message", p.Detail)
			}
			if tc.kind == apperr.Unavailable {
				require.Equal(t, "1", rec.Header().Get("Retry-After"))
			} else {
				require.Empty(t, rec.Header().Get("Retry-After"))
			}
		})
	}
}

func TestWriteErrorNeverLeaksInternalText(t *testing.T) {
	const secret = "password=hunter2 at db.internal:5432"
	cases := []struct {
		name string
		err  error
	}{
		{"plain error", errors.New(secret)},
		{"wrapped plain error", fmt.Errorf("loading invoice: %w", errors.New(secret))},
		{"internal apperr with its own code and message", apperr.New(apperr.Internal, "db_"+secret, secret)},
		{"internal apperr wrapping a cause", apperr.Wrap(errors.New(secret), apperr.Internal, "internal", "internal error")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := captureLogs(t)
			rec := httptest.NewRecorder()
			WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), tc.err)

			require.Equal(t, http.StatusInternalServerError, rec.Code)
			require.NotContains(t, rec.Body.String(), "hunter2")
			p := decodeProblem(t, rec)
			require.Equal(t, Problem{
				Type: ProblemTypeBase + "internal", Title: "Internal Server Error", Status: 500,
				Detail: "internal error", Code: "internal",
			}, p)
			require.Contains(t, logs.String(), "hunter2", "the cause is logged for operators")
			require.Contains(t, logs.String(), `"level":"ERROR"`)
		})
	}
}

func TestWriteErrorUnavailableKeepsMessage(t *testing.T) {
	captureLogs(t)
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), apperr.New(apperr.Unavailable, "db_unavailable", "the database is busy; retry"))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	p := decodeProblem(t, rec)
	require.Equal(t, "db_unavailable", p.Code)
	require.Equal(t, "the database is busy; retry", p.Detail)
}

func TestWriteErrorFields(t *testing.T) {
	logs := captureLogs(t)
	rec := httptest.NewRecorder()
	err := apperr.Validation(map[string]string{"currency": "is required", "lines[0].amount": "must be positive"})
	WriteError(rec, httptest.NewRequest(http.MethodPost, "/", nil), fmt.Errorf("creating: %w", err))

	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Equal(t, map[string]any{"currency": "is required", "lines[0].amount": "must be positive"}, raw["errors"])
	require.Equal(t, "validation_failed", raw["code"])
	require.NotContains(t, raw, "instance", "no request id outside RequestIDs")
	require.NotContains(t, logs.String(), `"level":"ERROR"`, "4xx are not errors of ours")

	rec = httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), apperr.NotFoundf("invoice"))
	raw = nil
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.NotContains(t, raw, "errors", "no fields, no errors member")
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestIDs(t *testing.T) {
	long128 := strings.Repeat("a", 128)
	cases := []struct {
		name     string
		incoming *string
		keep     bool
	}{
		{"absent", nil, false},
		{"empty", ptr(""), false},
		{"sane", ptr("abc-DEF_123.x"), true},
		{"uuid", ptr("0190f5d2-7c1e-7b6a-9f0e-3d2c1b0a9f8e"), true},
		{"128 chars", ptr(long128), true},
		{"too long", ptr(long128 + "a"), false},
		{"spaces", ptr("abc def"), false},
		{"non-ascii", ptr("réquest"), false},
		{"newline", ptr("abc\ndef"), false},
		{"header injection", ptr("abc\r\nSet-Cookie: x=1"), false},
		{"slash", ptr("a/b"), false},
		{"quote", ptr(`a"b`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seenID string
			var seenAttrs []slog.Attr
			h := RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seenID = RequestID(r.Context())
				seenAttrs = logging.Attrs(r.Context())
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != nil {
				r.Header[RequestIDHeader] = []string{*tc.incoming}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			echoed := rec.Header().Get(RequestIDHeader)
			require.Equal(t, seenID, echoed, "the id is echoed on the response")
			if tc.keep {
				require.Equal(t, *tc.incoming, seenID)
			} else {
				require.Regexp(t, hexID, seenID, "an insane id is replaced by a fresh one")
			}
			require.Contains(t, seenAttrs, slog.String("request_id", seenID))
		})
	}
}

func TestRequestIDsAreFresh(t *testing.T) {
	seen := map[string]bool{}
	h := RequestIDs(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 50 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rec.Header().Get(RequestIDHeader)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestRequestIDContext(t *testing.T) {
	require.Empty(t, RequestID(context.Background()))
	require.Equal(t, "x", RequestID(WithRequestID(context.Background(), "x")))
}

func ptr(s string) *string { return &s }

func TestRecover(t *testing.T) {
	t.Run("panic becomes a 500 problem", func(t *testing.T) {
		logs := captureLogs(t)
		h := RequestIDs(Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("secret panic text")
		})))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set(RequestIDHeader, "req-9")
		rec := httptest.NewRecorder()
		require.NotPanics(t, func() { h.ServeHTTP(rec, r) })

		require.Equal(t, http.StatusInternalServerError, rec.Code)
		require.NotContains(t, rec.Body.String(), "secret panic text")
		p := decodeProblem(t, rec)
		require.Equal(t, "internal", p.Code)
		require.Equal(t, "internal error", p.Detail)
		require.Equal(t, "req-9", p.Instance)
		require.Contains(t, logs.String(), "secret panic text", "the panic value is logged")
		require.Contains(t, logs.String(), "goroutine", "with the stack")
	})
	t.Run("panic with an error value", func(t *testing.T) {
		captureLogs(t)
		h := Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(errors.New("nil map"))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusInternalServerError, rec.Code)
	})
	t.Run("ErrAbortHandler is re-panicked", func(t *testing.T) {
		h := Recover(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		rec := httptest.NewRecorder()
		require.PanicsWithValue(t, http.ErrAbortHandler, func() {
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		})
		require.Empty(t, rec.Body.String(), "nothing is written for an aborted response")
	})
	t.Run("no panic passes through", func(t *testing.T) {
		h := Recover(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusTeapot, rec.Code)
		require.Empty(t, rec.Body.String())
	})
}

func TestHandleAndJSON(t *testing.T) {
	type thing struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	cases := []struct {
		name       string
		fn         HandlerFunc
		status     int
		ct         string
		body       string
		problemFor string // expected problem code, when the handler fails
	}{
		{
			name: "success",
			fn: func(w http.ResponseWriter, _ *http.Request) error {
				return JSON(w, http.StatusCreated, thing{"t_1", "Acme"})
			},
			status: http.StatusCreated, ct: "application/json", body: `{"id":"t_1","name":"Acme"}` + "\n",
		},
		{
			name:   "empty slice is []",
			fn:     func(w http.ResponseWriter, _ *http.Request) error { return JSON(w, http.StatusOK, []int{}) },
			status: http.StatusOK, ct: "application/json", body: "[]\n",
		},
		{
			name:   "returned apperr",
			fn:     func(http.ResponseWriter, *http.Request) error { return apperr.NotFoundf("invoice") },
			status: http.StatusNotFound, ct: "application/problem+json", problemFor: "invoice_not_found",
		},
		{
			name:   "returned plain error",
			fn:     func(http.ResponseWriter, *http.Request) error { return errors.New("db down") },
			status: http.StatusInternalServerError, ct: "application/problem+json", problemFor: "internal",
		},
		{
			name: "unencodable value fails before writing",
			fn: func(w http.ResponseWriter, _ *http.Request) error {
				return JSON(w, http.StatusOK, map[string]any{"c": make(chan int)})
			},
			status: http.StatusInternalServerError, ct: "application/problem+json", problemFor: "internal",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			captureLogs(t)
			rec := httptest.NewRecorder()
			Handle(tc.fn).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, tc.ct, rec.Header().Get("Content-Type"))
			if tc.problemFor != "" {
				require.Equal(t, tc.problemFor, decodeProblem(t, rec).Code)
				return
			}
			require.Equal(t, tc.body, rec.Body.String())
		})
	}
}

func TestJSONErrorWritesNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	err := JSON(rec, http.StatusCreated, func() {})
	require.Error(t, err)
	require.False(t, rec.Flushed)
	require.Empty(t, rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Body.String())
}
