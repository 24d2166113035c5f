package executor

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/signals"
)

// observer feeds one attempt's outcome to the live signals and the
// model's circuit breaker.
type observer struct {
	sig    *signals.Registry
	brk    *health.Breakers
	model  string
	done   func(signals.Result)
	start  time.Time
	judged bool // the breaker was told already (a stream's commit)
	// rl is the rate-limit headroom the upstream reported with its
	// response; an error's own report is used when it has one.
	rl llm.RateLimit
}

func (e *Executor) observe(model string, start time.Time) *observer {
	return &observer{sig: e.opts.Signals, brk: e.opts.Health, model: model, done: e.opts.Signals.Begin(model), start: start}
}

// healthOutcome maps a failure class onto the breaker: upstream faults
// count against the model, the caller's faults and cancellations do not.
func healthOutcome(err error) health.Outcome {
	if err == nil {
		return health.Outcome{}
	}
	le := llm.AsError(err)
	switch le.Class {
	case llm.ClassCaller, llm.ClassCanceled, llm.ClassUnsupported:
		return health.Outcome{Neutral: true}
	}
	return health.Outcome{Failure: true, RetryAfter: le.RetryAfter}
}

// rateLimit keeps the headroom a stream reports, when it does
// (llm.RateLimitReporter).
func (o *observer) rateLimit(s llm.Stream) {
	if r, ok := s.(llm.RateLimitReporter); ok {
		o.rl = r.RateLimit()
	}
}

// commit tells the breaker the attempt answered (a stream's first chunk).
func (o *observer) commit() {
	if !o.judged && o.brk != nil {
		o.judged = true
		o.brk.Report(o.model, health.Outcome{})
	}
}

// finish ends the attempt. A stream that broke after its commit point
// still counts as a failure in the signals, and against the breaker.
func (o *observer) finish(err error, ttft time.Duration, u llm.Usage, costMicros int64) {
	res := signals.Result{Latency: time.Since(o.start), TTFT: ttft, PromptTokens: u.PromptTokens,
		CompletionTokens: u.CompletionTokens, CostMicros: costMicros}
	res.RateLimit = o.rl
	if err != nil {
		le := llm.AsError(err)
		res.Class = le.Class.String()
		if le.RateLimit.Known {
			res.RateLimit = le.RateLimit
		}
	}
	o.done(res)
	if o.brk == nil {
		return
	}
	if !o.judged || err != nil {
		ho := healthOutcome(err)
		if o.judged && ho.Neutral {
			return
		}
		o.judged = true
		o.brk.Report(o.model, ho)
	}
}

// allow checks the model's circuit; a request in panic mode (every
// candidate down) goes through regardless.
func (e *Executor) allow(ctx context.Context, model string) error {
	if e.opts.Health == nil || health.InPanic(ctx) || e.opts.Health.Allow(model) {
		return nil
	}
	st := e.opts.Health.Status(model)
	var ra time.Duration
	if !st.OpenUntil.IsZero() {
		ra = time.Until(st.OpenUntil)
	}
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeUpstream, Code: "circuit_open",
		Message: fmt.Sprintf("model %q is failing and temporarily taken out of rotation", model),
		Class:   llm.ClassQuota, Model: model, RetryAfter: ra}
}
