package agents

import (
	"context"
	"strconv"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

// Observability: a span per run ("agents.run") with a child per provider attempt
// ("agents.attempt"), and metrics per run. Metric attributes are bounded (agent,
// provider, model, outcome, cache hit); the tenant is on the span only, since a
// metric per tenant would multiply series by the tenants.
//
// Metrics (through the global meter provider unless Service.Meter is set):
//   - ledgerline.agent.runs: counter of runs, by agent, provider, outcome, cache_hit
//   - ledgerline.agent.run.duration: histogram of run latency in ms, by agent, provider, outcome
//   - ledgerline.agent.tokens: counter of tokens, by agent, provider, model, direction (in, out)
//   - ledgerline.agent.cost: counter of cost in micros of a major unit, by agent, provider, model

type instruments struct {
	runs     metric.Int64Counter
	duration metric.Int64Histogram
	tokens   metric.Int64Counter
	cost     metric.Int64Counter
}

func (s *Service) tracer() trace.Tracer {
	if s.Tracer != nil {
		return s.Tracer
	}
	return tracing.Tracer()
}

func (s *Service) metrics() *instruments {
	s.instrumentsOnce.Do(func() {
		m := s.Meter
		if m == nil {
			m = otel.Meter(tracing.Name)
		}
		i := &instruments{}
		// Creating instruments fails only for invalid names; a failed one is a no-op.
		i.runs, _ = m.Int64Counter("ledgerline.agent.runs", metric.WithDescription("Agent runs by outcome."), metric.WithUnit("{run}"))
		i.duration, _ = m.Int64Histogram("ledgerline.agent.run.duration", metric.WithDescription("Agent run latency, retries included."), metric.WithUnit("ms"))
		i.tokens, _ = m.Int64Counter("ledgerline.agent.tokens", metric.WithDescription("Tokens sent to and received from agent providers."), metric.WithUnit("{token}"))
		i.cost, _ = m.Int64Counter("ledgerline.agent.cost", metric.WithDescription("Cost of agent runs in millionths of a major currency unit."), metric.WithUnit("{micro}"))
		s.instruments = i
	})
	return s.instruments
}

func runAttributes(tenantID uuid.UUID, r Run) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("ledgerline.tenant_id", tenantID.String()),
		attribute.String("agent.run_id", r.ID.String()),
		attribute.String("agent.name", string(r.Agent)),
		attribute.String("agent.provider", r.Provider),
		attribute.String("agent.model", r.Model),
		attribute.String("agent.prompt_version", r.PromptVersion),
	}
}

func attemptAttributes(c Call, p Provider, n int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("agent.name", string(c.Agent)),
		attribute.String("agent.provider", p.Name()),
		attribute.String("agent.model", c.Model),
		attribute.Int("agent.attempt", n),
		attribute.Bool("agent.repair", c.Repair != nil),
	}
}

// endAttempt records an attempt's result on its span.
func endAttempt(span trace.Span, reply Reply, err error) {
	if err == nil {
		span.SetAttributes(attribute.Int64("agent.tokens_in", reply.TokensIn), attribute.Int64("agent.tokens_out", reply.TokensOut))
		if reply.Model != "" {
			span.SetAttributes(attribute.String("agent.reported_model", reply.Model))
		}
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, "attempt failed")
	if pe, ok := err.(*ProviderError); ok {
		span.SetAttributes(attribute.Int("http.response.status_code", pe.Status), attribute.Bool("agent.retryable", pe.Retryable))
		if pe.RetryAfter > 0 {
			span.SetAttributes(attribute.String("agent.retry_after", pe.RetryAfter.String()))
		}
	}
}

// observe completes the run's span and counts the run.
func (s *Service) observe(ctx context.Context, span trace.Span, r Run, err error) {
	span.SetAttributes(
		attribute.String("agent.model", r.Model),
		attribute.String("agent.outcome", r.Outcome),
		attribute.Bool("agent.cache_hit", r.CacheHit),
		attribute.Int("agent.attempts", r.Attempts),
		attribute.Int64("agent.latency_ms", r.LatencyMs),
		attribute.Int64("agent.tokens_in", r.TokensIn),
		attribute.Int64("agent.tokens_out", r.TokensOut),
		attribute.Int64("agent.cost_micros", r.CostMicros),
	)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, apperr.From(err).Code)
	}
	m := s.metrics()
	base := []attribute.KeyValue{attribute.String("agent", string(r.Agent)), attribute.String("provider", r.Provider)}
	m.runs.Add(ctx, 1, metric.WithAttributes(append(base,
		attribute.String("outcome", r.Outcome), attribute.String("cache_hit", strconv.FormatBool(r.CacheHit)))...))
	m.duration.Record(ctx, r.LatencyMs, metric.WithAttributes(append(base, attribute.String("outcome", r.Outcome))...))
	withModel := append(base, attribute.String("model", r.Model))
	if r.TokensIn > 0 {
		m.tokens.Add(ctx, r.TokensIn, metric.WithAttributes(append(withModel, attribute.String("direction", "in"))...))
	}
	if r.TokensOut > 0 {
		m.tokens.Add(ctx, r.TokensOut, metric.WithAttributes(append(withModel, attribute.String("direction", "out"))...))
	}
	if r.CostMicros > 0 {
		m.cost.Add(ctx, r.CostMicros, metric.WithAttributes(withModel...))
	}
}
