package logging

import (
	"context"
	"log/slog"
)

type traceKey struct{}

type attrsKey struct{}

// WithTrace returns a context carrying t, so every record logged with it is
// correlated with the trace in Cloud Logging.
func WithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFrom returns the trace stored by WithTrace.
func TraceFrom(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok
}

// WithAttrs returns a context whose records carry attrs in addition to those
// already in ctx, so request-wide values (request_id, tenant_id, function
// name) need to be attached only once.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	if len(attrs) == 0 {
		return ctx
	}
	parent := contextAttrs(ctx)
	// Always copy: appending to the parent's slice could write into spare
	// capacity shared with sibling contexts, and the caller may reuse attrs.
	merged := make([]slog.Attr, 0, len(parent)+len(attrs))
	merged = append(append(merged, parent...), attrs...)
	return context.WithValue(ctx, attrsKey{}, merged)
}

// Attrs returns a copy of the attrs stored in ctx by WithAttrs.
func Attrs(ctx context.Context) []slog.Attr {
	a := contextAttrs(ctx)
	if a == nil {
		return nil
	}
	return append([]slog.Attr(nil), a...)
}

// contextAttrs returns the stored slice without copying; callers must not
// modify it.
func contextAttrs(ctx context.Context) []slog.Attr {
	a, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	return a
}
