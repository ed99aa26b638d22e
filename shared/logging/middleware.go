package logging

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Middleware stores the request's trace in its context, so handlers that log
// with r.Context() are correlated with it, and logs one line per request once
// next returns: INFO below status 500, ERROR from 500 up. The line carries an
// httpRequest group in Cloud Logging's HttpRequest shape, which the Logs
// Explorer renders like its own request logs.
//
// projectID is used only when logger was not built by New, in which case the
// trace fields are added to the request line explicitly.
func Middleware(logger *slog.Logger, projectID string, next http.Handler) http.Handler {
	_, ownHandler := logger.Handler().(*handler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		t, hasTrace := TraceFromHeaders(r.Header)
		if hasTrace {
			ctx = WithTrace(ctx, t)
			r = r.WithContext(ctx)
		}
		rw := &responseWriter{ResponseWriter: w}

		// Deferred so that a panicking handler still produces its request
		// line; the panic is re-raised for net/http's own recovery.
		defer func() {
			p := recover()
			if p != nil && !rw.wroteHeader {
				rw.status = http.StatusInternalServerError
			}
			status := rw.statusCode()
			level := slog.LevelInfo
			if status >= http.StatusInternalServerError || p != nil {
				level = slog.LevelError
			}
			attrs := make([]slog.Attr, 0, 4)
			if hasTrace && !ownHandler {
				attrs = append(attrs, traceAttrs(t, projectID)...)
			}
			attrs = append(attrs, httpRequestAttr(r, status, rw.bytes, time.Since(start)))
			logger.LogAttrs(ctx, level, "http request", attrs...)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

func httpRequestAttr(r *http.Request, status int, size int64, latency time.Duration) slog.Attr {
	return slog.Group("httpRequest",
		slog.String("requestMethod", r.Method),
		// Path and query only: the host is implied by the service and a full
		// URL would duplicate it on every line.
		slog.String("requestUrl", r.URL.RequestURI()),
		slog.Int("status", status),
		slog.Int64("responseSize", size),
		slog.String("userAgent", r.UserAgent()),
		slog.String("remoteIp", remoteIP(r.RemoteAddr)),
		slog.String("latency", formatLatency(latency)),
		slog.String("protocol", r.Proto),
	)
}

// remoteIP uses the peer address rather than X-Forwarded-For because the
// header is client-controlled; Cloud Run's own request log already records
// the verified client address.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// formatLatency renders d as a protobuf Duration in JSON ("0.012345s"), the
// form HttpRequest.latency requires. It is built from integers so that no
// float rounding shows up in the logs.
func formatLatency(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := strconv.FormatInt(int64(d/time.Second), 10)
	nanos := int64(d % time.Second)
	if nanos == 0 {
		return secs + "s"
	}
	frac := strconv.FormatInt(nanos+int64(time.Second), 10)[1:] // zero-padded to 9 digits
	return secs + "." + strings.TrimRight(frac, "0") + "s"
}

// responseWriter records the status and body size for the request line.
// Unwrap lets http.ResponseController reach the underlying writer for
// deadlines and hijacking; Flush is implemented directly because streaming
// handlers commonly type-assert http.Flusher.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
}

func (w *responseWriter) WriteHeader(code int) {
	// 1xx responses other than 101 are interim; the final status follows.
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	// ResponseController also finds Flushers behind further Unwrap layers;
	// http.Flusher has no error return, so a failure has nowhere to go.
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

func (w *responseWriter) statusCode() int {
	if w.status == 0 {
		// net/http sends 200 when the handler writes nothing.
		return http.StatusOK
	}
	return w.status
}
