package logging_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/logging"
)

var latencyRe = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)

func httpRequestGroup(t *testing.T, line map[string]any) map[string]any {
	t.Helper()
	g, ok := line["httpRequest"].(map[string]any)
	require.True(t, ok, "httpRequest missing: %v", line)
	return g
}

func TestMiddlewareRequestLine(t *testing.T) {
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantStatus   float64
		wantSize     float64
		wantSeverity string
	}{
		{
			name: "implicit 200",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "hello")
				_, _ = io.WriteString(w, ", world")
			},
			wantStatus:   200,
			wantSize:     12,
			wantSeverity: "INFO",
		},
		{
			name:         "no body",
			handler:      func(http.ResponseWriter, *http.Request) {},
			wantStatus:   200,
			wantSize:     0,
			wantSeverity: "INFO",
		},
		{
			name: "client error is INFO",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "nope", http.StatusNotFound)
			},
			wantStatus:   404,
			wantSize:     5,
			wantSeverity: "INFO",
		},
		{
			name: "499 is INFO",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(499)
			},
			wantStatus:   499,
			wantSeverity: "INFO",
		},
		{
			name: "500 is ERROR",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "boom")
			},
			wantStatus:   500,
			wantSize:     4,
			wantSeverity: "ERROR",
		},
		{
			name: "503 is ERROR",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			wantStatus:   503,
			wantSeverity: "ERROR",
		},
		{
			name: "interim 1xx is not the final status",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusInternalServerError) // superfluous, ignored by net/http
			},
			wantStatus:   201,
			wantSeverity: "INFO",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := logging.Middleware(logging.New(&buf, slog.LevelInfo, "proj"), "proj", tt.handler)

			req := httptest.NewRequest(http.MethodPost, "https://example.com/v1/pay?x=1&y=2", strings.NewReader("body"))
			req.Header.Set("User-Agent", "test-agent/1.0")
			req.RemoteAddr = "203.0.113.7:5555"
			h.ServeHTTP(httptest.NewRecorder(), req)

			line := oneLine(t, &buf)
			require.Equal(t, tt.wantSeverity, line["severity"])
			require.Equal(t, "http request", line["message"])
			g := httpRequestGroup(t, line)
			require.Equal(t, "POST", g["requestMethod"])
			require.Equal(t, "/v1/pay?x=1&y=2", g["requestUrl"])
			require.Equal(t, tt.wantStatus, g["status"])
			require.Equal(t, tt.wantSize, g["responseSize"])
			require.Equal(t, "test-agent/1.0", g["userAgent"])
			require.Equal(t, "203.0.113.7", g["remoteIp"])
			require.Equal(t, "HTTP/1.1", g["protocol"])
			require.Regexp(t, latencyRe, g["latency"])
		})
	}
}

func TestMiddlewareLatency(t *testing.T) {
	var buf bytes.Buffer
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	latency := httpRequestGroup(t, oneLine(t, &buf))["latency"].(string)
	require.Regexp(t, latencyRe, latency)
	d, err := time.ParseDuration(latency)
	require.NoError(t, err)
	require.GreaterOrEqual(t, d, 20*time.Millisecond)
	require.Less(t, d, 10*time.Second)
}

func TestMiddlewareTrace(t *testing.T) {
	const tp = "00-" + w3cTrace + "-" + w3cSpan + "-01"
	wantTrace := logging.Trace{TraceID: w3cTrace, SpanID: w3cSpan, Sampled: true}

	t.Run("handler context and log lines carry the trace", func(t *testing.T) {
		var buf bytes.Buffer
		logger := logging.New(&buf, slog.LevelInfo, "proj")
		h := logging.Middleware(logger, "proj", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, ok := logging.TraceFrom(r.Context())
			require.True(t, ok)
			require.Equal(t, wantTrace, got)
			logger.InfoContext(r.Context(), "inside")
		}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("traceparent", tp)
		h.ServeHTTP(httptest.NewRecorder(), req)

		lines := logLines(t, &buf)
		require.Len(t, lines, 2)
		for _, line := range lines {
			require.Equal(t, "projects/proj/traces/"+w3cTrace, line["logging.googleapis.com/trace"])
			require.Equal(t, w3cSpan, line["logging.googleapis.com/spanId"])
			require.Equal(t, true, line["logging.googleapis.com/trace_sampled"])
		}
	})

	t.Run("foreign logger gets trace fields from projectID", func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		h := logging.Middleware(logger, "proj", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("traceparent", tp)
		h.ServeHTTP(httptest.NewRecorder(), req)

		line := oneLine(t, &buf)
		require.Equal(t, "projects/proj/traces/"+w3cTrace, line["logging.googleapis.com/trace"])
		require.Equal(t, w3cSpan, line["logging.googleapis.com/spanId"])
	})

	t.Run("no trace headers", func(t *testing.T) {
		var buf bytes.Buffer
		h := logging.Middleware(logging.New(&buf, slog.LevelInfo, "proj"), "proj", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			_, ok := logging.TraceFrom(r.Context())
			require.False(t, ok)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		require.NotContains(t, oneLine(t, &buf), "logging.googleapis.com/trace")
	})
}

func TestMiddlewareContextAttrs(t *testing.T) {
	var buf bytes.Buffer
	inner := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", inner)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(logging.WithAttrs(req.Context(), slog.String("function", "payments")))
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, "payments", oneLine(t, &buf)["function"])
}

func TestMiddlewareFlusher(t *testing.T) {
	var buf bytes.Buffer
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f, ok := w.(http.Flusher)
		require.True(t, ok, "wrapped writer must implement http.Flusher")
		_, _ = io.WriteString(w, "chunk")
		f.Flush()
		require.NoError(t, http.NewResponseController(w).Flush())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stream", nil))

	require.True(t, rec.Flushed)
	require.Equal(t, "chunk", rec.Body.String())
	g := httpRequestGroup(t, oneLine(t, &buf))
	require.Equal(t, float64(200), g["status"])
	require.Equal(t, float64(5), g["responseSize"])
}

func TestMiddlewareFlushBeforeWriteRecords200(t *testing.T) {
	var buf bytes.Buffer
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush()
		w.WriteHeader(http.StatusInternalServerError) // too late: headers already sent
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	line := oneLine(t, &buf)
	require.Equal(t, "INFO", line["severity"])
	require.Equal(t, float64(200), httpRequestGroup(t, line)["status"])
}

// ResponseController methods other than Flush are reachable only through
// Unwrap; a real server is needed because httptest.ResponseRecorder does not
// support deadlines.
func TestMiddlewareUnwrapReachesServerWriter(t *testing.T) {
	var buf bytes.Buffer
	errc := make(chan error, 1)
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		errc <- http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/deadline")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, <-errc)
}

func TestMiddlewarePanicIsLoggedAndRepanicked(t *testing.T) {
	var buf bytes.Buffer
	h := logging.Middleware(logging.New(&buf, slog.LevelInfo, ""), "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("kaboom")
	}))
	require.PanicsWithValue(t, "kaboom", func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil))
	})
	line := oneLine(t, &buf)
	require.Equal(t, "ERROR", line["severity"])
	require.Equal(t, float64(500), httpRequestGroup(t, line)["status"])
	require.Contains(t, line, "logging.googleapis.com/sourceLocation")
}
