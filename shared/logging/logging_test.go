package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/logging"
)

// logLines decodes every JSON object written to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		out = append(out, m)
	}
	return out
}

// oneLine decodes buf and requires exactly one record in it.
func oneLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := logLines(t, buf)
	require.Len(t, lines, 1)
	return lines[0]
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		want  string
	}{
		{"below debug", slog.LevelDebug - 4, "DEBUG"},
		{"debug", slog.LevelDebug, "DEBUG"},
		{"info", slog.LevelInfo, "INFO"},
		{"between info and warn", slog.LevelInfo + 2, "INFO"},
		{"warn", slog.LevelWarn, "WARNING"},
		{"error", slog.LevelError, "ERROR"},
		{"between error and critical", slog.LevelError + 2, "ERROR"},
		{"critical", logging.LevelCritical, "CRITICAL"},
		{"above critical", logging.LevelCritical + 8, "CRITICAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logging.New(&buf, slog.LevelDebug-8, "").Log(context.Background(), tt.level, "hello")
			line := oneLine(t, &buf)
			require.Equal(t, tt.want, line["severity"])
			require.NotContains(t, line, "level")
		})
	}
}

func TestLevelFiltering(t *testing.T) {
	var buf bytes.Buffer
	logger := logging.New(&buf, slog.LevelWarn, "")
	ctx := context.Background()
	logger.InfoContext(ctx, "dropped")
	logger.WarnContext(ctx, "kept")
	lines := logLines(t, &buf)
	require.Len(t, lines, 1)
	require.Equal(t, "kept", lines[0]["message"])
	require.False(t, logger.Enabled(ctx, slog.LevelInfo))
}

func TestMessageAndTimeFields(t *testing.T) {
	var buf bytes.Buffer
	logging.New(&buf, slog.LevelInfo, "").InfoContext(context.Background(), "hello world", "k", "v")
	line := oneLine(t, &buf)
	require.Equal(t, "hello world", line["message"])
	require.NotContains(t, line, "msg")
	require.Equal(t, "v", line["k"])
	ts, ok := line["time"].(string)
	require.True(t, ok)
	parsed, err := time.Parse(time.RFC3339Nano, ts)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), parsed, time.Minute)
}

func TestGroupsKeepSpecialFieldsTopLevel(t *testing.T) {
	var buf bytes.Buffer
	ctx := logging.WithTrace(context.Background(), logging.Trace{TraceID: strings.Repeat("a", 32)})
	ctx = logging.WithAttrs(ctx, slog.String("request_id", "r1"))
	logger := logging.New(&buf, slog.LevelInfo, "proj").
		With("a", 1).
		WithGroup("g").
		With("b", 2).
		WithGroup("h")
	logger.InfoContext(ctx, "m", "c", 3, "level", "user-level", "msg", "user-msg")
	line := oneLine(t, &buf)

	require.Equal(t, "INFO", line["severity"])
	require.Equal(t, "m", line["message"])
	require.Equal(t, "projects/proj/traces/"+strings.Repeat("a", 32), line["logging.googleapis.com/trace"])
	require.Equal(t, "r1", line["request_id"])
	require.EqualValues(t, 1, line["a"])
	require.Equal(t, map[string]any{
		"b": float64(2),
		"h": map[string]any{"c": float64(3), "level": "user-level", "msg": "user-msg"},
	}, line["g"])
}

func TestEmptyGroupAndAttrsAreNoOps(t *testing.T) {
	var buf bytes.Buffer
	logger := logging.New(&buf, slog.LevelInfo, "")
	require.Same(t, logger.Handler(), logger.Handler().WithGroup(""))
	require.Same(t, logger.Handler(), logger.Handler().WithAttrs(nil))

	// An empty trailing group is elided, as with slog's own handlers.
	logger.WithGroup("empty").InfoContext(context.Background(), "m")
	require.NotContains(t, oneLine(t, &buf), "empty")
}

func TestSiblingLoggersDoNotShareAttrs(t *testing.T) {
	var buf bytes.Buffer
	base := logging.New(&buf, slog.LevelInfo, "").With("a", 1).With("b", 2).With("c", 3)
	x := base.With("x", true)
	y := base.With("y", true)
	ctx := context.Background()
	x.InfoContext(ctx, "x")
	y.InfoContext(ctx, "y")
	lines := logLines(t, &buf)
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "x")
	require.NotContains(t, lines[0], "y")
	require.Contains(t, lines[1], "y")
	require.NotContains(t, lines[1], "x")
}

func TestTraceFields(t *testing.T) {
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name        string
		projectID   string
		trace       logging.Trace
		wantTrace   string
		wantSpan    any // nil means the field must be absent
		wantSampled bool
	}{
		{
			name:        "with project",
			projectID:   "my-proj",
			trace:       logging.Trace{TraceID: traceID, SpanID: "00f067aa0ba902b7", Sampled: true},
			wantTrace:   "projects/my-proj/traces/" + traceID,
			wantSpan:    "00f067aa0ba902b7",
			wantSampled: true,
		},
		{
			name:      "without project",
			trace:     logging.Trace{TraceID: traceID, SpanID: "00f067aa0ba902b7"},
			wantTrace: traceID,
			wantSpan:  "00f067aa0ba902b7",
		},
		{
			name:        "without span",
			projectID:   "my-proj",
			trace:       logging.Trace{TraceID: traceID, Sampled: true},
			wantTrace:   "projects/my-proj/traces/" + traceID,
			wantSampled: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			ctx := logging.WithTrace(context.Background(), tt.trace)
			logging.New(&buf, slog.LevelInfo, tt.projectID).InfoContext(ctx, "m")
			line := oneLine(t, &buf)
			require.Equal(t, tt.wantTrace, line["logging.googleapis.com/trace"])
			require.Equal(t, tt.wantSampled, line["logging.googleapis.com/trace_sampled"])
			if tt.wantSpan == nil {
				require.NotContains(t, line, "logging.googleapis.com/spanId")
			} else {
				require.Equal(t, tt.wantSpan, line["logging.googleapis.com/spanId"])
			}
		})
	}

	t.Run("no trace in context", func(t *testing.T) {
		var buf bytes.Buffer
		logging.New(&buf, slog.LevelInfo, "p").InfoContext(context.Background(), "m")
		line := oneLine(t, &buf)
		require.NotContains(t, line, "logging.googleapis.com/trace")
		require.NotContains(t, line, "logging.googleapis.com/spanId")
		require.NotContains(t, line, "logging.googleapis.com/trace_sampled")
	})
}

func TestSourceLocation(t *testing.T) {
	tests := []struct {
		level      slog.Level
		wantSource bool
	}{
		{slog.LevelDebug, false},
		{slog.LevelInfo, false},
		{slog.LevelWarn, false},
		{slog.LevelError, true},
		{logging.LevelCritical, true},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			logging.New(&buf, slog.LevelDebug, "").Log(context.Background(), tt.level, "m")
			line := oneLine(t, &buf)
			require.NotContains(t, line, "source")
			if !tt.wantSource {
				require.NotContains(t, line, "logging.googleapis.com/sourceLocation")
				return
			}
			loc, ok := line["logging.googleapis.com/sourceLocation"].(map[string]any)
			require.True(t, ok, "sourceLocation missing: %v", line)
			require.True(t, strings.HasSuffix(loc["file"].(string), "logging_test.go"), loc["file"])
			require.Greater(t, loc["line"], float64(0))
			require.Equal(t, "github.com/ledgerline/ledgerline/shared/logging_test.TestSourceLocation.func1", loc["function"])
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: "Info", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "warning", want: slog.LevelWarn},
		{in: "WARNING", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: " error\n", want: slog.LevelError},
		{in: "", wantErr: true},
		{in: "critical", wantErr: true},
		{in: "verbose", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := logging.ParseLevel(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
