// Package httpx holds the HTTP plumbing every function shares: the adapter from
// "handler returns error" to http.Handler, problem+json rendering (RFC 9457) from
// apperr, the strict JSON decoder, request ids and panic recovery. It never imports a
// domain package.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/logging"
)

// HandlerFunc is a handler that returns its failure instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts fn: a returned error becomes a problem response.
func Handle(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	// A known length lets the platform flush a complete response before its post-commit
	// work (publishing events), so the client is not kept waiting for it.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// Problem is the RFC 9457 body of every error response.
type Problem struct {
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   int               `json:"status"`
	Detail   string            `json:"detail,omitempty"`
	Instance string            `json:"instance,omitempty"`
	Code     string            `json:"code"`
	Errors   map[string]string `json:"errors,omitempty"`
}

// ProblemTypeBase prefixes problem codes into type URIs; the codes are documented there.
const ProblemTypeBase = "https://docs.ledgerline.dev/problems/"

// WriteError renders err as problem+json. 5xx bodies never echo internal text; only
// 5xx are logged at error level, with the cause.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.From(err)
	status := apperr.Status(e.Kind)
	p := Problem{
		Type:     ProblemTypeBase + e.Code,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   e.Message,
		Instance: RequestID(r.Context()),
		Code:     e.Code,
		Errors:   e.Fields,
	}
	if status >= 500 {
		slog.ErrorContext(r.Context(), "request failed", "error", err.Error(), "code", e.Code)
		if e.Kind == apperr.Internal {
			p.Code, p.Type, p.Detail = "internal", ProblemTypeBase+"internal", "internal error"
		}
	} else {
		slog.DebugContext(r.Context(), "request refused", "code", e.Code, "error", err.Error())
	}
	if e.Kind == apperr.Unavailable {
		w.Header().Set("Retry-After", "1")
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type requestIDKey struct{}

// RequestIDHeader carries the request id both ways.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID stores id in ctx; processors use it for ids they derive from messages.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDs honours a sane incoming X-Request-Id (so a caller can correlate) or makes
// one, echoes it on the response, and puts it in the context and in every log line.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := WithRequestID(r.Context(), id)
		ctx = logging.WithAttrs(ctx, slog.String("request_id", id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Recover turns a panic into a 500 problem and logs the stack, so one bad request
// cannot take the instance down. http.ErrAbortHandler is re-panicked as net/http expects.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
			WriteError(w, r, apperr.New(apperr.Internal, "internal", "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}
