package platform

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/idempotency"
	"github.com/ledgerline/ledgerline/shared/logging"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/relay"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

// Wrap puts the shared middleware around a function's handler. The function answers
// only its own route: with FUNCTION_TARGET set, functions-framework-go sends every path
// to it, so the route check (and path parameters) happen here, the same way in
// production and in the dev server.
func Wrap(fn manifest.Function, h http.Handler, d *Deps) http.Handler {
	var inner http.Handler
	if fn.Public() {
		// A public operation has no caller to authenticate, nor a tenant to scope
		// idempotency keys or events to, and speaks a protocol of its own (OAuth 2.0,
		// JWKS) whose requests and errors are not the API's JSON: its handler reads and
		// checks the request itself.
		inner = h
	} else {
		v := newValidator(fn.Name)
		idem := &idempotency.Store{DB: d.DB}
		read := readBody
		if fn.FileUpload() {
			v = v.forUpload()
			read = readUpload(v)
		}
		inner = authenticate(d, limitTenant(d.RateLimit, authorize(fn, read(d, validate(v, publishAfter(d, fn, idempotent(idem, fn, h)))))))
	}

	route := http.NewServeMux()
	route.Handle(fn.Pattern(), inner)
	route.Handle(fn.Path, httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", fn.Method)
		return apperr.New(apperr.MethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+fn.Method)
	}))
	route.Handle("/", httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return apperr.New(apperr.NotFound, "route_not_found", "no operation at "+r.Method+" "+r.URL.Path)
	}))

	var out http.Handler = httpx.Recover(route)
	out = logging.Middleware(d.Logger, d.Config.ProjectID, out)
	out = httpx.RequestIDs(out)
	// The server span starts from the caller's traceparent, so the function's work joins
	// the caller's trace.
	out = otelhttp.NewHandler(out, fn.Name)
	return withAttrs(out, slog.String("function", fn.Name))
}

func withAttrs(next http.Handler, attrs ...slog.Attr) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(logging.WithAttrs(r.Context(), attrs...)))
	})
}

func authenticate(d *Deps, next http.Handler) http.Handler {
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := d.Auth.Authenticate(r)
		if err != nil {
			// RFC 6750: name the scheme, and say the token was bad when one was sent
			// (behind the gateway, the caller's token is the forwarded one).
			challenge := `Bearer realm="ledgerline"`
			sent := "Authorization"
			if d.Config.AuthForwardedHeader {
				sent = auth.ForwardedHeader
			}
			if r.Header.Get(sent) != "" {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			return err
		}
		ctx := auth.WithPrincipal(r.Context(), p)
		ctx = logging.WithAttrs(ctx, slog.String("tenant_id", p.TenantID.String()), slog.String("subject", p.Subject))
		next.ServeHTTP(w, r.WithContext(ctx))
		return nil
	})
}

func authorize(fn manifest.Function, next http.Handler) http.Handler {
	perm := auth.Permission(fn.Permission)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.PrincipalFrom(r.Context())
		if !p.Can(perm) {
			return auth.Forbidden(perm)
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// publishAfter relays the events a successful mutation committed as soon as its
// response is complete. The response is flushed first (JSON responses carry their
// length), so the caller does not wait for Pub/Sub; the work still happens inside the
// request, where Cloud Run guarantees CPU. Failures only log: the sweeper publishes
// whatever is left.
func publishAfter(d *Deps, fn manifest.Function, next http.Handler) http.Handler {
	// Only the application role writes (and may read) a tenant's outbox.
	if d.Publisher == nil || fn.Method == http.MethodGet || fn.DBRole() != "app" {
		return next
	}
	rl := &relay.Relay{DB: d.DB, Publisher: d.Publisher, Raw: d.RawPublisher}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status < 200 || sw.status > 299 {
			return
		}
		_ = http.NewResponseController(w).Flush()
		p, _ := auth.PrincipalFrom(r.Context())
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if _, err := rl.PublishRequest(ctx, p.TenantID, httpx.RequestID(r.Context())); err != nil {
			d.Logger.WarnContext(ctx, "events left for the sweeper", "error", err.Error())
		}
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type bodyKey struct{}

// readBody reads a request body once, within the configured limit, so contract
// validation, the idempotency fingerprint and the handler's decoder share it.
func readBody(d *Deps, next http.Handler) http.Handler {
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return nil
		}
		b, err := httpx.ReadBody(r, d.Config.MaxBodyBytes)
		if err != nil {
			return err
		}
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
		return nil
	})
}

// Body returns the request body the platform read.
func Body(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

// Decode decodes the request body strictly into v (unknown fields and trailing data
// refused, wrong types named).
func Decode(r *http.Request, v any) error {
	return httpx.DecodeJSON(Body(r), v)
}

func idempotent(store *idempotency.Store, fn manifest.Function, next http.Handler) http.Handler {
	if fn.Method != http.MethodPost {
		return next
	}
	if fn.SecretResponse {
		// The response carries a secret shown once: it is never stored, so there is
		// nothing to replay a retry from. The key is refused before anything runs.
		return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
			if r.Header.Get(idempotency.KeyHeader) != "" {
				return idempotency.NotSupported()
			}
			next.ServeHTTP(w, r)
			return nil
		})
	}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get(idempotency.KeyHeader)
		if key == "" {
			next.ServeHTTP(w, r)
			return nil
		}
		if err := idempotency.ValidateKey(key); err != nil {
			return err
		}
		p, _ := auth.PrincipalFrom(r.Context())
		target := r.URL.Path
		if fn.FileUpload() {
			// An upload's query says what the file is (kind, dry run): the same file
			// under other parameters is another request.
			target = r.URL.RequestURI()
		}
		fp := idempotency.Fingerprint(fn.Name, target, Body(r))
		resp, replayed, err := store.Run(r.Context(), p.TenantID, key, fn.Name, fp, func(ctx context.Context) idempotency.Response {
			rec := newRecorder()
			next.ServeHTTP(rec, r.WithContext(ctx))
			return rec.response()
		})
		if refused, ok := idempotency.IsRefused(err); ok {
			resp, err = refused, nil
		}
		if err != nil {
			return err
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		if replayed {
			w.Header().Set(idempotency.ReplayedHeader, "true")
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write(resp.Body)
		return nil
	})
}

// recorder buffers a response so it can be stored before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) response() idempotency.Response {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return idempotency.Response{Status: status, Header: r.header, Body: r.body.Bytes()}
}

// Actor is the audited actor of the request: the verified principal and the request id.
// Its id is the principal's ActorID, which qualifies a tenant-trusted issuer's subject
// by that issuer, so neither the audit trail nor separation of duties merges two
// issuers' users who happen to share a subject.
func Actor(r *http.Request) audit.Actor {
	p, _ := auth.PrincipalFrom(r.Context())
	return audit.Actor{TenantID: p.TenantID, Type: string(p.ActorType), ID: p.ActorID(), RequestID: httpx.RequestID(r.Context()),
		TraceParent: tracing.TraceParent(r.Context())}
}

// Principal is the verified caller; the platform refuses requests without one before
// any handler runs.
func Principal(r *http.Request) auth.Principal {
	p, _ := auth.PrincipalFrom(r.Context())
	return p
}

// PathID parses the {name} path parameter as an id. Something that is not an id cannot
// name an entity, so it answers the same 404 an unknown id does.
func PathID(r *http.Request, name, entity string) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return uuid.Nil, apperr.NotFoundf(entity)
	}
	return id, nil
}
