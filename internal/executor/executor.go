// Package executor makes every model call. Policy nodes decide what to
// call; the executor owns how: per-attempt, time-to-first-token and total
// deadlines, retries with full-jitter backoff that honour Retry-After,
// failure classes that decide retry or give up, the stream commit point, and
// usage and cost counted exactly once per attempt into the request's trace.
package executor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/trace"
)

// Options tune the executor. Zero values take the documented defaults.
type Options struct {
	AttemptTimeout time.Duration // one non-streaming attempt; default 60s
	TTFTTimeout    time.Duration // a stream's first chunk; default 30s
	MaxRetries     int           // retries per model when a model sets none; default 2 (use -1 for none)
	BackoffInitial time.Duration // default 200ms
	BackoffMax     time.Duration // default 5s
	MaxRetryAfter  time.Duration // longer Retry-After fails over instead; default 10s
	// Rand draws backoff jitter; nil means a randomly seeded source.
	// It must be safe for concurrent use or used by one goroutine.
	Rand func() float64
	// Signals receives every attempt's latency, outcome, usage and cost;
	// nil means signals.Default.
	Signals *signals.Registry
	// Health is told every attempt's outcome and refuses models whose
	// circuit is open; nil means no circuit breaking.
	Health *health.Breakers
}

func (o *Options) defaults() {
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 60 * time.Second
	}
	if o.TTFTTimeout <= 0 {
		o.TTFTTimeout = 30 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 2
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = 200 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 10 * time.Second
	}
	if o.Signals == nil {
		o.Signals = signals.Default
	}
	if o.Rand == nil {
		var mu sync.Mutex
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		o.Rand = func() float64 { mu.Lock(); defer mu.Unlock(); return r.Float64() }
	}
}

// Target is one callable deployment.
type Target struct {
	Model    *catalog.Model
	Provider provider.Provider
}

// Executor calls models. It is safe for concurrent use and immutable after
// New.
type Executor struct {
	opts    Options
	targets map[string]Target
}

// New returns an executor over targets, keyed by catalog name.
func New(targets map[string]Target, opts Options) *Executor {
	opts.defaults()
	return &Executor{opts: opts, targets: targets}
}

// Model returns the catalog entry of name.
func (e *Executor) Model(name string) (*catalog.Model, bool) {
	t, ok := e.targets[name]
	if !ok {
		return nil, false
	}
	return t.Model, true
}

// Call implements policy.Executor.
func (e *Executor) Call(ctx context.Context, c *policy.Call, model string, req *llm.Request) (*policy.Outcome, error) {
	t, err := e.target(model)
	if err != nil {
		return nil, err
	}
	if err := e.allow(ctx, model); err != nil {
		return nil, err
	}
	r := req.Clone()
	r.Model = t.Model.Upstream
	var out *policy.Outcome
	err = e.retry(ctx, t, func(try int) (err error) {
		if r.Stream {
			out, err = e.stream(ctx, c, t, r, try)
		} else {
			out, err = e.chat(ctx, c, t, r, try)
		}
		return err
	})
	return out, err
}

func (e *Executor) target(model string) (Target, error) {
	t, ok := e.targets[model]
	if !ok {
		return Target{}, &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found",
			Message: fmt.Sprintf("model %q does not exist", model), Class: llm.ClassCaller}
	}
	return t, nil
}

// retry runs attempt until it succeeds, fails in a way that is not worth
// retrying on this model, the model's retries are spent, or ctx ends;
// between tries it waits the backoff.
func (e *Executor) retry(ctx context.Context, t Target, attempt func(try int) error) error {
	retries := e.opts.MaxRetries
	if t.Model.MaxRetries >= 0 {
		retries = t.Model.MaxRetries
	}
	for try := 1; ; try++ {
		err := attempt(try)
		if err == nil {
			return nil
		}
		class := llm.ClassOf(err)
		if ctx.Err() != nil || !class.Retryable() || try > retries || (class == llm.ClassUnknown && try > 1) {
			return err
		}
		wait := e.backoff(try, err)
		if wait < 0 {
			return err // Retry-After beyond what we wait for: fail over
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return canceled(ctx, t.Model.Name)
		case <-timer.C:
		}
	}
}

// backoff returns how long to wait before try+1, or -1 to give up on this
// model: full jitter over an exponential cap, or the upstream's Retry-After
// when it gave one.
func (e *Executor) backoff(try int, err error) time.Duration {
	if ra := llm.AsError(err).RetryAfter; ra > 0 {
		if ra > e.opts.MaxRetryAfter {
			return -1
		}
		return ra
	}
	ceiling := e.opts.BackoffInitial << (try - 1)
	if ceiling > e.opts.BackoffMax || ceiling <= 0 {
		ceiling = e.opts.BackoffMax
	}
	return time.Duration(e.opts.Rand() * float64(ceiling))
}

func (e *Executor) begin(c *policy.Call, t Target, try int, stream bool) (int, time.Time) {
	now := time.Now()
	return c.Trace.Begin(trace.Attempt{Model: t.Model.Name, Provider: t.Model.Provider, Try: try, Stream: stream}, now), now
}

func (e *Executor) chat(ctx context.Context, c *policy.Call, t Target, r *llm.Request, try int) (*policy.Outcome, error) {
	idx, start := e.begin(c, t, try, false)
	timeout := e.opts.AttemptTimeout
	if t.Model.Timeout > 0 {
		timeout = t.Model.Timeout.D()
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	obs := e.observe(t.Model.Name, start)
	resp, err := t.Provider.Chat(actx, r)
	elapsed := time.Since(start)
	if err != nil {
		err = classify(ctx, actx, err, t.Model.Name)
		finishError(c.Trace, idx, err, elapsed, 0)
		obs.finish(err, 0, llm.Usage{}, 0)
		return nil, err
	}
	usage := resp.Usage
	if usage.IsZero() {
		usage = llm.Usage{PromptTokens: tokens.Prompt(r), CompletionTokens: tokens.Completion(resp), Estimated: true}
		usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
		resp.Usage = usage
	}
	cost := t.Model.Price.Cost(usage)
	finish := ""
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
	}
	obs.rl = resp.RateLimit
	obs.finish(nil, elapsed, usage, int64(cost))
	c.Trace.Update(idx, func(a *trace.Attempt) {
		a.Outcome, a.Status = trace.OutcomeOK, http.StatusOK
		a.LatencyMS, a.TTFTMS = trace.Millis(elapsed), trace.Millis(elapsed)
		a.Usage, a.CostMicros, a.Finish = usage, cost, finish
	})
	return &policy.Outcome{Model: t.Model.Name, Response: resp}, nil
}

// classify turns any provider error into a classified *llm.Error: a
// canceled parent context is the client's doing, an expired attempt
// deadline is a transient timeout.
func classify(parent, attempt context.Context, err error, model string) error {
	if parent.Err() != nil {
		if errors.Is(parent.Err(), context.DeadlineExceeded) {
			return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "request_timeout",
				Message: "the request's total deadline passed", Class: llm.ClassCanceled, Model: model, Cause: err}
		}
		return canceled(parent, model)
	}
	if attempt.Err() != nil && errors.Is(attempt.Err(), context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "upstream_timeout",
			Message: "the model did not answer in time", Class: llm.ClassTransient, Model: model, Cause: err}
	}
	var le *llm.Error
	if errors.As(err, &le) {
		if le.Model == "" {
			le.Model = model
		}
		return le
	}
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: "upstream_error",
		Message: "the model's provider failed", Class: llm.ClassTransient, Model: model, Cause: err}
}

func canceled(ctx context.Context, model string) error {
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Model: model, Cause: ctx.Err()}
}

func finishError(tr *trace.Trace, idx int, err error, elapsed, ttft time.Duration) {
	le := llm.AsError(err)
	tr.Update(idx, func(a *trace.Attempt) {
		a.Outcome = trace.OutcomeError
		if le.Class == llm.ClassCanceled {
			a.Outcome = trace.OutcomeCanceled
		}
		a.Status, a.ErrorClass, a.Error = le.Status, le.Class.String(), le.Message
		a.LatencyMS = trace.Millis(elapsed)
		if ttft > 0 {
			a.TTFTMS = trace.Millis(ttft)
		}
	})
}

var _ policy.Executor = (*Executor)(nil)
