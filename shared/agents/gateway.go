package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/cache"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// Outcomes of a run (Run.Outcome).
const (
	// OutcomeSucceeded: the output passed validation at once (or came from the cache).
	OutcomeSucceeded = "succeeded"
	// OutcomeRepaired: the first output was invalid and the repair attempt's passed.
	OutcomeRepaired = "repaired"
	// OutcomeInvalidOutput: the output stayed invalid after the repair attempt.
	OutcomeInvalidOutput = "invalid_output"
	// OutcomeFailed: the provider failed (after retries) or refused the request.
	OutcomeFailed = "failed"
	// OutcomeOverBudget: refused before any call; the month's budget is spent.
	OutcomeOverBudget = "over_budget"
	// OutcomeDisabled: refused before any call; the agents feature is off.
	OutcomeDisabled = "disabled"
)

// Outcomes lists every outcome.
func Outcomes() []string {
	return []string{OutcomeSucceeded, OutcomeRepaired, OutcomeInvalidOutput, OutcomeFailed, OutcomeOverBudget, OutcomeDisabled}
}

// The stable codes of the errors Run returns. Each means "go on without the agent"
// (IsUnavailable); they differ in what a person can do about it.
const (
	// CodeDisabled (403): the tenant's agents feature flag is off.
	CodeDisabled = "agents_disabled"
	// CodeBudgetExhausted (402): this month's agent budget is spent.
	CodeBudgetExhausted = "agent_budget_exhausted"
	// CodeUnavailable (503): the provider kept failing (throttled, down, too slow)
	// until the run's deadline or its attempts ran out; later may work.
	CodeUnavailable = "agent_unavailable"
	// CodeFailed (502): the provider refused the request (a 4xx, a tool error, a
	// document the built-in agent cannot read); the same request will fail again.
	CodeFailed = "agent_failed"
	// CodeOutputInvalid (502): the output stayed invalid after one repair attempt.
	CodeOutputInvalid = "agent_output_invalid"
	// CodeInputInvalid (422): the caller's input breaks the agent's contract (no
	// text, an unknown dunning stage); no run is recorded.
	CodeInputInvalid = "agent_input_invalid"
)

// IsUnavailable reports whether err means the agent could not serve this request
// (disabled, over budget, failing, invalid output) and the calling flow should carry
// on without it, as opposed to a failure of the flow itself (the database).
func IsUnavailable(err error) bool {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeDisabled, CodeBudgetExhausted, CodeUnavailable, CodeFailed, CodeOutputInvalid:
		return true
	}
	return false
}

// Defaults of the gateway's knobs.
const (
	// DefaultTimeout is AGENT_TIMEOUT's default: the whole run, retries and the
	// repair attempt included, within what a person waits for a draft.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxAttempts bounds the attempts of one call (the first and its retries).
	DefaultMaxAttempts = 4
	// DefaultBackoff and DefaultMaxBackoff shape the exponential backoff: the n-th
	// retry waits a uniformly random time up to min(DefaultMaxBackoff,
	// DefaultBackoff·2^(n-1)) ("full jitter"), unless the provider said how long.
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 8 * time.Second
)

// Service is the agent gateway (it implements Gateway) and the reads of its record
// (runs.go). Its zero values are usable defaults: no providers configured means the
// built-in agent for all, no cache means no caching.
type Service struct {
	DB       *db.DB
	Settings *settings.Service
	Features *features.Service
	// Cache holds validated outputs for CacheTTL; nil or a TTL of 0 caches nothing.
	Cache    cache.Cache
	CacheTTL time.Duration
	// Providers serve the agents; an agent without one is served by BuiltinProvider.
	Providers map[Name]Provider
	// Prices price the paid providers' tokens (DefaultPrices when nil).
	Prices Prices
	// Timeout bounds a run (DefaultTimeout when 0); AttemptTimeout bounds one attempt
	// within it, so a hung call is retried (0: the run's deadline only).
	Timeout        time.Duration
	AttemptTimeout time.Duration
	// MaxAttempts, Backoff and MaxBackoff are the retry policy (the defaults above
	// when 0).
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration
	Now                 func() time.Time
	// Sleep waits d or until ctx is done (tests inject one that records the waits);
	// Jitter draws a wait uniformly from [0, max] (rand when nil).
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(max time.Duration) time.Duration
	// Tracer and Meter default to the global providers' (see shared/tracing).
	Tracer trace.Tracer
	Meter  metric.Meter

	instrumentsOnce sync.Once
	instruments     *instruments
}

var _ Gateway = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) prices() Prices {
	if s.Prices == nil {
		return DefaultPrices
	}
	return s.Prices
}

// flags and tenantSettings are the feature flags and settings read through the
// service's cache when none were given.
func (s *Service) flags() *features.Service {
	if s.Features != nil {
		return s.Features
	}
	return &features.Service{DB: s.DB, Cache: s.Cache, Now: s.Now}
}

func (s *Service) tenantSettings() *settings.Service {
	if s.Settings != nil {
		return s.Settings
	}
	return &settings.Service{DB: s.DB, Cache: s.Cache, Now: s.now}
}

// provider is the provider serving agent.
func (s *Service) provider(agent Name) Provider {
	if p := s.Providers[agent]; p != nil {
		return p
	}
	return BuiltinProvider{}
}

// Run runs agent for the tenant (see Gateway). The run is recorded whatever its
// outcome, except when the input itself is refused.
func (s *Service) Run(ctx context.Context, tenantID uuid.UUID, agent Name, input, out any) (Run, error) {
	sp, ok := specs[agent]
	if !ok {
		return Run{}, apperr.New(apperr.Internal, "internal", "unknown agent "+string(agent))
	}
	if tenantID == uuid.Nil {
		return Run{}, apperr.New(apperr.Internal, "internal", "agent run without a tenant")
	}
	if reflect.TypeOf(out) != reflect.TypeOf(sp.newOutput()) || reflect.ValueOf(out).IsNil() {
		return Run{}, apperr.New(apperr.Internal, "internal",
			fmt.Sprintf("agent %s writes to a %T, not a %T", agent, sp.newOutput(), out))
	}
	canonical, err := canonicalJSON(input)
	if err != nil {
		return Run{}, apperr.Wrap(err, apperr.Internal, "internal", "agent input does not marshal")
	}
	if err := sp.checkInput(canonical); err != nil {
		return Run{}, err
	}

	p := s.provider(agent)
	start := s.now()
	run := Run{ID: uuid.Must(uuid.NewV7()), Object: "agent_run", Agent: agent, Provider: p.Name(),
		Model: p.Model(agent), PromptVersion: sp.promptVersion, CreatedAt: start}
	ctx, span := s.tracer().Start(ctx, "agents.run", trace.WithAttributes(runAttributes(tenantID, run)...))
	defer span.End()

	err = s.run(ctx, tenantID, sp, p, &run, canonical, out)
	run.LatencyMs = max(0, s.now().Sub(start).Milliseconds())
	run.CostMicros = 0
	if !run.CacheHit {
		run.CostMicros = s.prices().Cost(run.Model, run.TokensIn, run.TokensOut)
	}
	if err != nil {
		e := apperr.From(err)
		msg := e.Code
		if e.Kind == apperr.Internal {
			// The record is the tenant's to read; an internal failure's text is the logs'.
			slog.ErrorContext(ctx, "agent run failed", "run_id", run.ID.String(), "error", err.Error())
		} else if detail := errorDetail(err); detail != "" {
			msg += ": " + detail
		}
		msg = clip(msg, 2000)
		run.Error = &msg
		if run.Outcome == "" {
			run.Outcome = OutcomeFailed
		}
	}
	s.warnUnpriced(ctx, run)
	// The run is recorded even when the caller has gone, and outside the caller's
	// transaction (the idempotency layer's, say), which a failed request rolls back: its
	// tokens were spent, and the budget must count them.
	rctx, cancel := context.WithTimeout(db.WithoutTx(context.WithoutCancel(ctx)), 5*time.Second)
	defer cancel()
	if rerr := s.insertRun(rctx, tenantID, run); rerr != nil {
		slog.ErrorContext(ctx, "agent run not recorded", "run_id", run.ID.String(), "error", rerr.Error())
	}
	s.observe(ctx, span, run, err)
	return run, err
}

// errorDetail is the text of err's cause, for the run's record.
func errorDetail(err error) string {
	e := apperr.From(err)
	parts := []string{}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// run does the work of Run and sets the run's outcome, attempts and tokens.
func (s *Service) run(ctx context.Context, tenantID uuid.UUID, sp *spec, p Provider, run *Run, input []byte, out any) error {
	on, err := s.flags().Enabled(ctx, tenantID, features.Agents)
	if err != nil {
		return err
	}
	if !on {
		run.Outcome = OutcomeDisabled
		return apperr.New(apperr.Forbidden, CodeDisabled, "the agents feature is off for this tenant; turn it on in the tenant's features")
	}

	key := cacheKey(tenantID, sp.agent, run.Provider, run.Model, sp.promptVersion, input)
	if hit := s.cached(ctx, key); hit != nil {
		if v, problems := sp.accept(hit, input); len(problems) == 0 {
			setOutput(out, v)
			run.CacheHit, run.Outcome = true, OutcomeSucceeded
			return nil
		}
		cache.Forget(ctx, s.Cache, key)
	}

	if run.Provider != Builtin {
		if err := s.checkBudget(ctx, tenantID); err != nil {
			if apperr.From(err).Code == CodeBudgetExhausted {
				run.Outcome = OutcomeOverBudget
			}
			return err
		}
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	call := Call{Agent: sp.agent, Model: run.Model, PromptVersion: sp.promptVersion, System: sp.system, Input: input, Schema: sp.schemaJSON}
	reply, err := s.call(cctx, p, call, run)
	if err != nil {
		run.Outcome = OutcomeFailed
		return err
	}
	v, problems := sp.accept(reply.Output, input)
	if len(problems) == 0 {
		setOutput(out, v)
		run.Outcome = OutcomeSucceeded
		s.keep(ctx, key, unfence(reply.Output))
		return nil
	}

	// One repair attempt: the output and what is wrong with it go back to the provider.
	call.Repair = &Repair{Output: clip(string(reply.Output), 20_000), Errors: problems}
	reply, err = s.call(cctx, p, call, run)
	if err != nil {
		run.Outcome = OutcomeFailed
		return err
	}
	v, problems = sp.accept(reply.Output, input)
	if len(problems) > 0 {
		run.Outcome = OutcomeInvalidOutput
		return apperr.Wrap(errors.New(strings.Join(problems, "; ")), apperr.BadGateway, CodeOutputInvalid,
			"the agent's output was invalid, and still invalid after a repair attempt")
	}
	setOutput(out, v)
	run.Outcome = OutcomeRepaired
	s.keep(ctx, key, unfence(reply.Output))
	return nil
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// call makes one call with retries: transient failures are tried again after an
// exponential backoff with full jitter, or after the Retry-After the provider gave,
// until an attempt succeeds, the attempts run out, or the next wait would pass the
// run's deadline.
func (s *Service) call(ctx context.Context, p Provider, c Call, run *Run) (Reply, error) {
	maxAttempts := s.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		run.Attempts++
		reply, err := s.attempt(ctx, p, c, run.Attempts)
		if err == nil {
			// The run keeps the configured model whatever model the provider says
			// answered: the configuration is the deployment's, the reply is a remote
			// server's word, and the model prices the run (the reported one is on the
			// attempt's span).
			run.TokensIn += reply.TokensIn
			run.TokensOut += reply.TokensOut
			return reply, nil
		}
		var pe *ProviderError
		if errors.As(err, &pe) {
			run.TokensIn += pe.TokensIn
			run.TokensOut += pe.TokensOut
		}
		retryable, wait := s.classify(ctx, err, attempt)
		if !retryable {
			return Reply{}, finalError(ctx, err)
		}
		if attempt >= maxAttempts {
			return Reply{}, apperr.Wrap(err, apperr.Unavailable, CodeUnavailable,
				fmt.Sprintf("the agent's provider failed %d times", attempt))
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return Reply{}, apperr.Wrap(err, apperr.Unavailable, CodeUnavailable,
				fmt.Sprintf("the agent's provider asked to wait %s, beyond the run's deadline", wait.Round(time.Millisecond)))
		}
		if err := s.sleep(ctx, wait); err != nil {
			return Reply{}, apperr.Wrap(err, apperr.Unavailable, CodeUnavailable, "the run's deadline passed while waiting to retry")
		}
	}
}

// attempt makes one provider call in its own span.
func (s *Service) attempt(ctx context.Context, p Provider, c Call, n int) (Reply, error) {
	ctx, span := s.tracer().Start(ctx, "agents.attempt", trace.WithAttributes(attemptAttributes(c, p, n)...))
	defer span.End()
	if s.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.AttemptTimeout)
		defer cancel()
	}
	reply, err := p.Call(ctx, c)
	endAttempt(span, reply, err)
	return reply, err
}

// classify says whether a failed attempt is worth another, and after how long.
func (s *Service) classify(ctx context.Context, err error, attempt int) (bool, time.Duration) {
	if ctx.Err() != nil {
		// The run's own deadline (or the caller) ended it.
		return false, 0
	}
	var pe *ProviderError
	switch {
	case errors.As(err, &pe):
		if !pe.Retryable {
			return false, 0
		}
		if pe.RetryAfter > 0 {
			return true, pe.RetryAfter
		}
	case errors.Is(err, context.DeadlineExceeded), transient(err):
		// An attempt's own timeout or a lost connection.
	default:
		return false, 0
	}
	return true, s.backoff(attempt)
}

// backoff is the wait before retry n: uniformly random up to the exponential cap.
func (s *Service) backoff(n int) time.Duration {
	base, ceiling := s.Backoff, s.MaxBackoff
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	limit := ceiling
	if n-1 < 30 && base<<(n-1) < ceiling {
		limit = base << (n - 1)
	}
	if s.Jitter != nil {
		return s.Jitter(limit)
	}
	return rand.N(limit + 1)
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// finalError turns a provider failure that will not be retried into the run's error.
func finalError(ctx context.Context, err error) error {
	var pe *ProviderError
	switch {
	case ctx.Err() != nil:
		return apperr.Wrap(err, apperr.Unavailable, CodeUnavailable, "the agent did not answer within the run's deadline")
	case errors.As(err, &pe) && !pe.Retryable:
		return apperr.Wrap(err, apperr.BadGateway, CodeFailed, "the agent's provider refused the request")
	default:
		return apperr.Wrap(err, apperr.BadGateway, CodeFailed, "the agent's provider failed")
	}
}

// checkInput refuses an input that breaks the agent's contract before anything is
// called.
func (sp *spec) checkInput(input []byte) error {
	in := sp.newInput()
	if err := decodeInput(input, in); err != nil {
		return apperr.Wrap(err, apperr.Internal, "internal", "agent input does not decode")
	}
	f := apperr.Fields{}
	switch v := in.(type) {
	case *APExtractInput:
		if strings.TrimSpace(v.Text) == "" {
			f.Add("text", "is required")
		}
	case *ARCollectionsInput:
		if v.Stage != StageReminder && v.Stage != StageFirm && v.Stage != StageFinal {
			f.Add("stage", "must be reminder, firm or final")
		}
		if len(v.Invoices) == 0 {
			f.Add("invoices", "must list at least one overdue invoice")
		}
	case *ForecastNarrativeInput:
		if v.Forecast == nil {
			f.Add("forecast", "is required")
		}
	}
	if len(f) == 0 {
		return nil
	}
	return &apperr.Error{Kind: apperr.Unprocessable, Code: CodeInputInvalid, Message: "the agent's input is invalid", Fields: f}
}
