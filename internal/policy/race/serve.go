package race

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/hold"
	"github.com/sextant-router/sextant/internal/trace"
)

// result is one candidate's end: an answer or an error.
type result struct {
	i   int
	err error
	// out is the answer as the client asked for it: a whole response, a
	// live stream (no gates), or a replay of a stream read to its end.
	out     *policy.Outcome
	verdict gate.Verdict
	judged  bool // verdict is set
	pass    bool // no gates, or the gates accepted the answer
	latency time.Duration
}

// race is the state of one request's race, owned by Serve's goroutine.
type race struct {
	n        *Node
	c        *policy.Call
	results  chan result
	cancels  []context.CancelFunc
	running  []bool
	inflight int
	next     int // the next candidate to launch
	limit    int // candidates that may launch
}

// Serve races the candidates; see the package doc.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	r := &race{n: n, c: c, results: make(chan result, len(n.candidates)),
		cancels: make([]context.CancelFunc, len(n.candidates)),
		running: make([]bool, len(n.candidates)), limit: len(n.candidates)}
	spacing := n.stagger
	if n.hedge != nil {
		n.hedge.budget.request(n.hedge.now())
		var src string
		spacing, src = n.hedge.delayFor(n.candidates[0].model, c.Request.Stream)
		r.limit = 1 + n.hedge.max
		r.decide("hedge delay", fmt.Sprintf("backups wait %s (%s)", spacing, src), map[string]any{"delay_ms": trace.Millis(spacing)})
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var last time.Time // the last launch
	var best *result
	var lastErr error
	for {
		// Launch what may launch now; arm the timer for the next launch.
		for r.next < r.limit && (n.maxConc == 0 || r.inflight < n.maxConc) {
			if r.next > 0 && r.inflight > 0 && spacing > 0 {
				wait := spacing - time.Since(last)
				if wait > 0 {
					timer.Reset(wait)
					break
				}
			}
			if !r.mayLaunch() {
				break
			}
			r.launch(ctx, r.next)
			last = time.Now()
			r.next++
		}
		if r.inflight == 0 {
			break // every launched candidate ended without a winner
		}
		var res result
		select {
		case <-ctx.Done():
			r.cancelAll(-1, "the request ended")
			return nil, ctxError(ctx)
		case <-timer.C:
			continue
		case res = <-r.results:
		}
		r.inflight--
		r.running[res.i] = false
		switch {
		case res.err != nil:
			lastErr = res.err
			if ctx.Err() != nil {
				r.cancelAll(-1, "the request ended")
				return nil, ctxError(ctx)
			}
			r.decideFor(res.i, "error", fmt.Sprintf("%s failed: %s", n.candidates[res.i].name, llm.AsError(res.err).Message),
				map[string]any{"error_class": llm.ClassOf(res.err).String()}, res.latency)
		case res.pass:
			return r.win(res), nil
		default:
			r.cancels[res.i]()
			if best == nil || res.verdict.Score > best.verdict.Score {
				best = &res
			}
		}
	}
	return r.none(ctx, best, lastErr)
}

// mayLaunch checks the spend cap and, for a hedge, the hedge budget,
// before launching any candidate but the first. When it says no, no more
// candidates launch in this request.
func (r *race) mayLaunch() bool {
	n := r.n
	if r.next == 0 {
		return true
	}
	if n.maxCost > 0 {
		if _, spent := r.c.Trace.Totals(); spent >= n.maxCost {
			r.limit = r.next
			r.decide("cap", fmt.Sprintf("spent %s of max_cost_usd %s: no more candidates launch", spent, n.maxCost),
				map[string]any{"candidate": n.candidates[r.next].name, "spent_micros": int64(spent)})
			return false
		}
	}
	if n.hedge != nil {
		if !n.hedge.budget.take(n.hedge.now()) {
			r.limit = r.next
			r.decide("cap", fmt.Sprintf("the hedge budget (%.3g of requests) is spent: no hedge", n.hedge.budget.share),
				map[string]any{"candidate": n.candidates[r.next].name})
			return false
		}
		r.decide("hedge", fmt.Sprintf("no answer yet: hedging with %s", n.candidates[r.next].name),
			map[string]any{"candidate": n.candidates[r.next].name, "hedge": r.next})
	}
	return true
}

// launch starts candidate i under its own cancelable context.
func (r *race) launch(ctx context.Context, i int) {
	cctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	r.cancels[i], r.running[i] = cancel, true
	r.inflight++
	go func() {
		res := r.n.run(cctx, r.c, i)
		res.i, res.latency = i, time.Since(start)
		r.results <- res // buffered for every candidate: never blocks
	}()
}

// win hands the client res, after cancelling every other candidate and
// waiting for them to end.
func (r *race) win(res result) *policy.Outcome {
	r.decideFor(res.i, "win", fmt.Sprintf("%s answered first%s", r.n.candidates[res.i].name, passWhy(res)),
		map[string]any{"model": res.out.Model}, res.latency)
	r.cancelAll(res.i, "another candidate won")
	out := res.out
	if s, live := out.Stream.(liveStream); live {
		// The winner's context lives until its stream is closed.
		return &policy.Outcome{Model: out.Model, Stream: &owned{Stream: s.Stream, cancel: r.cancels[res.i]}}
	}
	r.cancels[res.i]()
	return out
}

func passWhy(res result) string {
	if !res.judged {
		return ""
	}
	if res.verdict.Skipped {
		return " (its gates could not judge it)"
	}
	return fmt.Sprintf(" and passed its gates (score %.3f)", res.verdict.Score)
}

// none ends a race that no answer won: the fallback, else the
// best-scoring answer, else the last error.
func (r *race) none(ctx context.Context, best *result, lastErr error) (*policy.Outcome, error) {
	n := r.n
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	data := map[string]any{}
	if best != nil {
		data["candidate"], data["score"] = n.candidates[best.i].name, best.verdict.Score
	}
	switch {
	case n.fallback != nil:
		r.decide("none", "no candidate's answer passed: serving the fallback", data)
		out, err := n.fallback.Serve(ctx, r.c)
		if err == nil || best == nil || ctx.Err() != nil {
			return out, err
		}
		r.decide("none", "the fallback failed: returning the best-scoring answer", data)
		return best.out, nil
	case best != nil:
		r.decide("none", "no candidate's answer passed: returning the best-scoring one", data)
		return best.out, nil
	}
	r.decide("none", "every candidate failed", data)
	if lastErr == nil {
		lastErr = &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
			Message: "race launched no candidate", Class: llm.ClassUnknown}
	}
	return nil, lastErr
}

// cancelAll cancels every running candidate but keep, waits for each to
// end and closes what they returned, so no goroutine or stream outlives
// the request. Each canceled candidate is a "cancel" decision.
func (r *race) cancelAll(keep int, why string) {
	for i, run := range r.running {
		if run && i != keep {
			r.cancels[i]()
		}
	}
	for r.inflight > 0 {
		res := <-r.results
		r.inflight--
		r.running[res.i] = false
		r.cancels[res.i]()
		if res.out != nil && res.out.Stream != nil {
			res.out.Stream.Close()
		}
		r.decideFor(res.i, "cancel", fmt.Sprintf("%s canceled: %s", r.n.candidates[res.i].name, why), nil, res.latency)
	}
}

// run serves candidate i and, with gates, judges its answer. A stream is
// read to its end first (the answer is held back until it passes).
func (n *Node) run(ctx context.Context, c *policy.Call, i int) result {
	cd := &n.candidates[i]
	tc, req := c, c.Request
	if n.gate != nil {
		if p := gate.Prepare(n.gate, cd.model, c.Request); p != c.Request {
			req = p
			tc = &policy.Call{Request: p, Caller: c.Caller, Header: c.Header, Exec: c.Exec, Trace: c.Trace, Now: c.Now}
		}
	}
	out, err := cd.node.Serve(ctx, tc)
	if err != nil {
		return result{err: err}
	}
	if out == nil || (out.Stream == nil && out.Response == nil) {
		return result{err: &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
			Message: fmt.Sprintf("race candidate %s returned no answer", cd.name), Class: llm.ClassUnknown}}
	}
	if n.gate == nil {
		if out.Stream != nil {
			out = &policy.Outcome{Model: out.Model, Stream: liveStream{out.Stream}}
		}
		return result{out: out, pass: true}
	}
	a := &gate.Answer{Model: out.Model, Request: req, Response: out.Response}
	var held []*llm.Chunk
	if out.Stream != nil {
		var err error
		if held, a.Response, err = hold.Collect(out.Stream); err != nil {
			return result{err: err}
		}
	}
	v := gate.Run(ctx, tc, n.gate, a)
	if ctx.Err() != nil {
		return result{err: ctxError(ctx)}
	}
	gate.Record(tc, conf.Index(conf.Join(n.path, "candidates"), i), v)
	res := result{verdict: v, judged: true, pass: v.Skipped || v.Pass}
	if held != nil {
		res.out = &policy.Outcome{Model: out.Model, Stream: hold.NewReplay(held, nil, c.Request)}
	} else {
		res.out = &policy.Outcome{Model: out.Model, Response: gate.Strip(c.Request, out.Response)}
	}
	return res
}

func (r *race) decide(decision, reason string, data map[string]any) {
	r.c.Trace.Decide(trace.Decision{Node: r.n.path, Kind: "race", Decision: decision, Reason: reason, Data: data})
}

func (r *race) decideFor(i int, decision, reason string, data map[string]any, latency time.Duration) {
	if data == nil {
		data = map[string]any{}
	}
	data["candidate"], data["index"], data["latency_ms"] = r.n.candidates[i].name, i, trace.Millis(latency)
	r.decide(decision, reason, data)
}

// liveStream marks a candidate's stream handed over live (not held back).
type liveStream struct{ llm.Stream }

// owned is the winner's live stream: closing it also ends the winner's
// context.
type owned struct {
	llm.Stream
	cancel context.CancelFunc
}

func (o *owned) Close() error {
	err := o.Stream.Close()
	o.cancel()
	return err
}

// Buffered implements llm.Buffered for the stream underneath.
func (o *owned) Buffered() bool {
	b, ok := o.Stream.(llm.Buffered)
	return ok && b.Buffered()
}

// ctxError is the error of a request whose context ended, shaped as the
// executor shapes it.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "request_timeout",
			Message: "the request's total deadline passed", Class: llm.ClassCanceled, Cause: ctx.Err()}
	}
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Cause: ctx.Err()}
}

var (
	_ llm.Stream   = (*owned)(nil)
	_ llm.Buffered = (*owned)(nil)
)
