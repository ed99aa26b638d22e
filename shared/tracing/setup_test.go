package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestSetupInstallsTracerAndMeterProviders(t *testing.T) {
	tracers, meters := otel.GetTracerProvider(), otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetTracerProvider(tracers); otel.SetMeterProvider(meters) })

	shutdown, err := Setup(context.Background(), "none", 1, "test")
	require.NoError(t, err)
	require.NoError(t, shutdown(context.Background()))
	require.Same(t, tracers, otel.GetTracerProvider(), "none keeps the no-op providers")

	_, err = Setup(context.Background(), "zipkin", 1, "test")
	require.ErrorContains(t, err, `unknown exporter "zipkin"`)

	// OTLP exporters connect lazily: nothing listens here, and nothing has to.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	shutdown, err = Setup(context.Background(), "otlp", 1, "test")
	require.NoError(t, err)
	require.IsType(t, &sdktrace.TracerProvider{}, otel.GetTracerProvider())
	require.IsType(t, &sdkmetric.MeterProvider{}, otel.GetMeterProvider(), "metrics are exported beside spans")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = shutdown(ctx) // the final flush fails: there is no collector
}
