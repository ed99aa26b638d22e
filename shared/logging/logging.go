package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
)

// Keys Cloud Logging's agent lifts out of a JSON payload into the LogEntry.
// See https://cloud.google.com/logging/docs/structured-logging.
const (
	keySeverity       = "severity"
	keyMessage        = "message"
	keySourceLocation = "logging.googleapis.com/sourceLocation"
	keyTrace          = "logging.googleapis.com/trace"
	keySpanID         = "logging.googleapis.com/spanId"
	keyTraceSampled   = "logging.googleapis.com/trace_sampled"
)

// LevelCritical is the slog level New reports as Cloud Logging's CRITICAL
// severity; slog has no level above Error, so callers need a name for it.
const LevelCritical = slog.LevelError + 4

// New returns a logger that writes one Cloud Logging structured JSON object
// per record to w, dropping records below level. projectID qualifies trace ids
// so the Logs Explorer can link entries to Cloud Trace; pass "" when unknown.
//
// Trace and request attributes are read from the context, so log with the
// *Context methods (InfoContext, LogAttrs, ...) to have them included.
func New(w io.Writer, level slog.Level, projectID string) *slog.Logger {
	return slog.New(&handler{
		base: slog.NewJSONHandler(w, &slog.HandlerOptions{
			Level:       level,
			ReplaceAttr: replaceBuiltins,
		}),
		projectID: projectID,
	})
}

// ParseLevel converts a configuration string such as an environment variable
// into a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", s)
	}
}

// severity maps slog levels onto Cloud Logging's LogSeverity names. Ranges
// rather than exact matches keep custom levels such as LevelInfo+2 sensible.
func severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < LevelCritical:
		return "ERROR"
	default:
		return "CRITICAL"
	}
}

// replaceBuiltins renames slog's built-in keys to the ones Cloud Logging
// recognises. Only top-level attrs are touched so that user groups may still
// contain keys named "level" or "msg".
func replaceBuiltins(groups []string, a slog.Attr) slog.Attr {
	if len(groups) != 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(keySeverity, severity(l))
		}
	case slog.MessageKey:
		a.Key = keyMessage
	}
	return a
}

// groupOrAttrs records one WithGroup or WithAttrs call. The handler replays
// them itself instead of delegating to the JSON handler because Cloud
// Logging's special fields must stay at the top level even when the logger
// has been scoped with WithGroup.
type groupOrAttrs struct {
	group string
	attrs []slog.Attr
}

type handler struct {
	base      slog.Handler // never receives WithAttrs/WithGroup; see groupOrAttrs
	projectID string
	goas      []groupOrAttrs
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(groupOrAttrs{attrs: append([]slog.Attr(nil), attrs...)})
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(groupOrAttrs{group: name})
}

func (h *handler) with(g groupOrAttrs) *handler {
	h2 := *h
	// A fresh slice stops sibling loggers derived from h from overwriting
	// each other's entries through a shared backing array.
	h2.goas = make([]groupOrAttrs, 0, len(h.goas)+1)
	h2.goas = append(append(h2.goas, h.goas...), g)
	return &h2
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if r.Level >= slog.LevelError && r.PC != 0 {
		out.AddAttrs(sourceLocation(r.PC))
	}
	if ctx != nil {
		if t, ok := TraceFrom(ctx); ok {
			out.AddAttrs(traceAttrs(t, h.projectID)...)
		}
		// Request-scoped attrs stay top-level so that queries such as
		// jsonPayload.request_id work regardless of the logger's groups.
		out.AddAttrs(contextAttrs(ctx)...)
	}
	out.AddAttrs(h.nest(r)...)
	return h.base.Handle(ctx, out)
}

// nest wraps the record's attrs in the logger's groups, interleaving the
// attrs added between WithGroup calls, exactly as slog's own handlers do.
func (h *handler) nest(r slog.Record) []slog.Attr {
	cur := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		cur = append(cur, a)
		return true
	})
	for i := len(h.goas) - 1; i >= 0; i-- {
		g := h.goas[i]
		if g.group != "" {
			cur = []slog.Attr{{Key: g.group, Value: slog.GroupValue(cur...)}}
			continue
		}
		cur = append(append(make([]slog.Attr, 0, len(g.attrs)+len(cur)), g.attrs...), cur...)
	}
	return cur
}

func sourceLocation(pc uintptr) slog.Attr {
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return slog.Group(keySourceLocation,
		slog.String("file", f.File),
		slog.Int("line", f.Line),
		slog.String("function", f.Function),
	)
}

func traceAttrs(t Trace, projectID string) []slog.Attr {
	trace := t.TraceID
	if projectID != "" {
		trace = "projects/" + projectID + "/traces/" + t.TraceID
	}
	attrs := make([]slog.Attr, 0, 3)
	attrs = append(attrs, slog.String(keyTrace, trace))
	if t.SpanID != "" {
		attrs = append(attrs, slog.String(keySpanID, t.SpanID))
	}
	return append(attrs, slog.Bool(keyTraceSampled, t.Sampled))
}
