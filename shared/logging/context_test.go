package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/logging"
)

func TestTraceContextRoundTrip(t *testing.T) {
	_, ok := logging.TraceFrom(context.Background())
	require.False(t, ok)

	want := logging.Trace{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}
	got, ok := logging.TraceFrom(logging.WithTrace(context.Background(), want))
	require.True(t, ok)
	require.Equal(t, want, got)
}

func TestContextAttrsAppearOnEveryRecord(t *testing.T) {
	var buf bytes.Buffer
	logger := logging.New(&buf, slog.LevelInfo, "")
	ctx := logging.WithAttrs(context.Background(), slog.String("request_id", "r1"), slog.String("function", "payments"))
	ctx = logging.WithAttrs(ctx, slog.String("tenant_id", "t1"))

	logger.InfoContext(ctx, "first")
	logger.ErrorContext(ctx, "second", "extra", 1)
	logger.InfoContext(context.Background(), "unrelated")

	lines := logLines(t, &buf)
	require.Len(t, lines, 3)
	for _, line := range lines[:2] {
		require.Equal(t, "r1", line["request_id"])
		require.Equal(t, "payments", line["function"])
		require.Equal(t, "t1", line["tenant_id"])
	}
	require.EqualValues(t, 1, lines[1]["extra"])
	require.NotContains(t, lines[2], "request_id")
}

func TestWithAttrs(t *testing.T) {
	keys := func(attrs []slog.Attr) []string {
		var out []string
		for _, a := range attrs {
			out = append(out, a.Key)
		}
		return out
	}

	t.Run("no attrs returns same context", func(t *testing.T) {
		ctx := context.Background()
		require.Equal(t, ctx, logging.WithAttrs(ctx))
		require.Nil(t, logging.Attrs(ctx))
	})

	t.Run("accumulates in order", func(t *testing.T) {
		ctx := logging.WithAttrs(context.Background(), slog.Int("a", 1))
		ctx = logging.WithAttrs(ctx, slog.Int("b", 2), slog.Int("c", 3))
		require.Equal(t, []string{"a", "b", "c"}, keys(logging.Attrs(ctx)))
	})

	// A naive append(parent, attrs...) lets siblings share the parent's spare
	// capacity, so the second sibling silently overwrites the first's attr.
	t.Run("siblings do not alias the parent slice", func(t *testing.T) {
		parent := logging.WithAttrs(context.Background(), slog.Int("a", 1), slog.Int("b", 2))
		parent = logging.WithAttrs(parent, slog.Int("c", 3))
		left := logging.WithAttrs(parent, slog.String("side", "left"))
		right := logging.WithAttrs(parent, slog.String("side", "right"))

		require.Equal(t, []string{"a", "b", "c"}, keys(logging.Attrs(parent)))
		require.Equal(t, "left", logging.Attrs(left)[3].Value.String())
		require.Equal(t, "right", logging.Attrs(right)[3].Value.String())
	})

	t.Run("caller's slice is copied", func(t *testing.T) {
		in := []slog.Attr{slog.String("k", "before")}
		ctx := logging.WithAttrs(context.Background(), in...)
		in[0] = slog.String("k", "after")
		require.Equal(t, "before", logging.Attrs(ctx)[0].Value.String())
	})

	t.Run("returned slice is a copy", func(t *testing.T) {
		ctx := logging.WithAttrs(context.Background(), slog.String("k", "v"))
		got := logging.Attrs(ctx)
		got[0] = slog.String("k", "mutated")
		require.Equal(t, "v", logging.Attrs(ctx)[0].Value.String())
	})
}
