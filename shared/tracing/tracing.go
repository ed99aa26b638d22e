// Package tracing wires OpenTelemetry: the tracer and meter providers and exporters each
// instance uses, and the carriers that move a trace across Pub/Sub so that an HTTP request, its
// database work and the processors its events trigger form one trace. Exporters:
// "cloudtrace" (OTLP to Google's telemetry endpoint with the instance's credentials),
// "otlp" (the standard OTEL_EXPORTER_OTLP_* variables), "stdout" (local debugging) or
// "none".
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2/google"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/oauth"
)

// Name is the instrumentation scope of Ledgerline's own spans.
const Name = "github.com/ledgerline/ledgerline"

// propagator carries W3C trace context (traceparent), which Cloud Run and Eventarc
// also speak.
var propagator = propagation.TraceContext{}

// Setup installs the global tracer provider for exporter ("none" keeps the no-op
// provider, so spans cost nearly nothing) and returns its shutdown, which flushes.
func Setup(ctx context.Context, exporter string, sampleRatio float64, service string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	var exp sdktrace.SpanExporter
	var metrics sdkmetric.Exporter
	var err error
	switch exporter {
	case "", "none":
		return func(context.Context) error { return nil }, nil
	case "stdout":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
	case "otlp":
		if exp, err = otlptracegrpc.New(ctx); err == nil {
			metrics, err = otlpmetricgrpc.New(ctx)
		}
	case "cloudtrace":
		// Spans and metrics go to Google's OTLP endpoint with the instance's credentials
		// (Cloud Trace and Cloud Monitoring).
		var creds *google.Credentials
		if creds, err = google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/trace.append",
			"https://www.googleapis.com/auth/monitoring.write"); err == nil {
			auth := grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: creds.TokenSource})
			tls := credentials.NewClientTLSFromCert(nil, "")
			project := map[string]string{"x-goog-user-project": creds.ProjectID}
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(googleTelemetry),
				otlptracegrpc.WithTLSCredentials(tls), otlptracegrpc.WithDialOption(auth), otlptracegrpc.WithHeaders(project))
			if err == nil {
				metrics, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(googleTelemetry),
					otlpmetricgrpc.WithTLSCredentials(tls), otlpmetricgrpc.WithDialOption(auth), otlpmetricgrpc.WithHeaders(project))
			}
		}
	default:
		return nil, fmt.Errorf("tracing: unknown exporter %q (none, stdout, otlp, cloudtrace)", exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", exporter, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		// Follow the caller's sampling decision; sample new traces at the ratio.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sampleRatio))),
		sdktrace.WithResource(resourceFor(service)),
	)
	otel.SetTracerProvider(tp)
	if metrics == nil {
		return tp.Shutdown, nil
	}
	// Instruments (the agent gateway's runs, latency, tokens and cost) are read every
	// minute; an instance stopped without notice loses at most that minute.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(time.Minute))),
		sdkmetric.WithResource(resourceFor(service)))
	otel.SetMeterProvider(mp)
	return func(ctx context.Context) error { return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx)) }, nil
}

// googleTelemetry is Google's OTLP endpoint for traces and metrics.
const googleTelemetry = "telemetry.googleapis.com:443"

// Tracer is Ledgerline's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Inject writes ctx's trace context into message attributes (traceparent).
func Inject(ctx context.Context, attrs map[string]string) {
	propagator.Inject(ctx, propagation.MapCarrier(attrs))
}

// Extract returns ctx carrying the remote trace context found in attrs.
func Extract(ctx context.Context, attrs map[string]string) context.Context {
	return propagator.Extract(ctx, propagation.MapCarrier(attrs))
}

// TraceParent is ctx's trace context as a traceparent value ("" when none), for storing
// with outbox events so that even the sweeper's later publish continues the trace.
func TraceParent(ctx context.Context) string {
	m := map[string]string{}
	Inject(ctx, m)
	return m["traceparent"]
}
