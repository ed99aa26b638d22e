package functions_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/platform"
)

// An HTTP request that causes events produces one trace across the function, its
// database work and the processors that receive the events.
func TestOneTraceFromRequestToProcessor(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})

	pub := &publishedEvents{}
	s := apitest.New(t, apitest.WithPublisher(pub))
	_, token := s.Tenant(t, "Traced")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := s.Do(t, apitest.Request{Method: "POST", Path: "/v1/counterparties", Token: token,
		Body:   map[string]any{"name": "Traced customer", "kind": "customer"},
		Header: map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}})
	require.Equal(t, http.StatusCreated, resp.Status)

	require.Len(t, pub.got, 1)
	ev := pub.got[0]
	require.Contains(t, ev.TraceParent, traceID, "the event carries the request's trace")
	require.NoError(t, s.Deliver(t, "OutboxSweep", platform.Message{Attributes: map[string]string{"traceparent": ev.TraceParent}}))

	kinds := map[string]bool{}
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID().String() != traceID {
			continue
		}
		switch {
		case sp.Name() == "POST /v1/counterparties":
			kinds["http"] = true
		case strings.Contains(strings.ToLower(sp.Name()), "insert"), strings.Contains(sp.Name(), "batch"):
			kinds["db"] = true
		case sp.Name() == "OutboxSweep":
			kinds["processor"] = true
		}
	}
	require.Equal(t, map[string]bool{"http": true, "db": true, "processor": true}, kinds)
}
