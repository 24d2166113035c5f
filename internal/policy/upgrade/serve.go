package upgrade

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

// Branch indexes.
const (
	fast   = 0
	better = 1
)

// result is one branch's end: a whole answer (a response, or a stream
// read to its end and ready to replay) or an error.
type result struct {
	i       int
	err     error
	out     *policy.Outcome
	verdict gate.Verdict
	judged  bool // verdict is set
	pass    bool // the fast branch, no gates, or the gates accepted it
	at      time.Time
}

// request is one request's state, owned by Serve's goroutine.
type request struct {
	n        *Node
	c        *policy.Call
	results  chan result
	cancels  [2]context.CancelFunc
	inflight int
	fastAt   time.Time     // when the fast answer arrived; zero until then
	waited   time.Duration // from fastAt to the decision
}

// Serve runs both branches at once and picks the answer; see the package
// doc.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	r := &request{n: n, c: c, results: make(chan result, 2)}
	for i := range 2 {
		r.launch(ctx, i)
	}
	defer func() {
		for _, cancel := range r.cancels {
			cancel()
		}
	}()
	var window <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var got [2]*result
	for r.inflight > 0 {
		var res result
		select {
		case <-ctx.Done():
			r.drain()
			return nil, ctxError(ctx)
		case <-window:
			r.mark(time.Now())
			r.cancels[better]()
			r.drain()
			return r.pick(got[fast], fmt.Sprintf("%s did not answer within the %s window", n.better.name, n.window)), nil
		case res = <-r.results:
		}
		r.inflight--
		if res.err != nil && ctx.Err() != nil {
			r.drain()
			return nil, ctxError(ctx)
		}
		got[res.i] = &res
		f, b := got[fast], got[better]
		if res.i == fast && res.err == nil {
			r.fastAt = res.at
		}
		r.mark(res.at)
		switch {
		case res.i == better && res.err == nil && res.pass:
			why := fmt.Sprintf("%s answered%s before the fast answer", n.better.name, passWhy(res))
			if f != nil && f.err == nil {
				why = fmt.Sprintf("%s answered%s within the window", n.better.name, passWhy(res))
			} else if f != nil {
				why = fmt.Sprintf("%s failed; %s answered%s", n.fast.name, n.better.name, passWhy(res))
			}
			r.cancels[fast]()
			r.drain()
			return r.pick(b, why), nil
		case res.i == better:
			// The better branch failed or its answer did not pass.
			if f == nil {
				continue // wait for the fast answer, with no window
			}
			if f.err == nil {
				return r.pick(f, fmt.Sprintf("%s %s", n.better.name, failWhy(res))), nil
			}
			return r.bothFailed(f, b)
		case res.err != nil:
			// The fast branch failed: wait for the better one, with no window.
			if b != nil {
				return r.bothFailed(f, b)
			}
		case b != nil:
			// The fast answer arrived after the better branch failed.
			return r.pick(f, fmt.Sprintf("%s %s", n.better.name, failWhy(*b))), nil
		default:
			// The fast answer arrived; the better one is still running.
			if n.window == 0 {
				r.cancels[better]()
				r.drain()
				return r.pick(f, "the window is 0"), nil
			}
			timer = time.NewTimer(n.window)
			window = timer.C
		}
	}
	// Unreachable: every path above returns once both branches ended.
	return nil, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
		Message: "upgrade ended without an answer", Class: llm.ClassUnknown}
}

// mark sets waited to the time from the fast answer's arrival to now (0
// when the fast answer has not arrived).
func (r *request) mark(now time.Time) {
	if !r.fastAt.IsZero() {
		r.waited = now.Sub(r.fastAt)
	}
}

// launch starts branch i under its own cancelable context.
func (r *request) launch(ctx context.Context, i int) {
	cctx, cancel := context.WithCancel(ctx)
	r.cancels[i] = cancel
	r.inflight++
	go func() {
		res := r.n.run(cctx, r.c, i)
		res.i, res.at = i, time.Now()
		r.results <- res // buffered for both branches: never blocks
	}()
}

// drain cancels whatever still runs, waits for it to end and closes what
// it returned, so no goroutine or stream outlives the request.
func (r *request) drain() {
	if r.inflight > 0 {
		for _, cancel := range r.cancels {
			cancel()
		}
	}
	for r.inflight > 0 {
		res := <-r.results
		r.inflight--
		if res.out != nil && res.out.Stream != nil {
			res.out.Stream.Close()
		}
	}
}

// pick records the decision for res (a branch's answer) and returns it.
// Both branches have ended or been drained.
func (r *request) pick(res *result, why string) *policy.Outcome {
	decision := "fast"
	if res.i == better {
		decision = "better"
	}
	r.decide(decision, why, res)
	return res.out
}

// bothFailed ends a request whose fast branch failed and whose better
// branch failed or did not pass: the better answer when there is one (it
// is the only answer), else the better branch's error.
func (r *request) bothFailed(f, b *result) (*policy.Outcome, error) {
	n := r.n
	if b.err == nil {
		r.decide("better", fmt.Sprintf("%s failed; %s's answer %s but is the only one",
			n.fast.name, n.better.name, failWhy(*b)), b)
		return b.out, nil
	}
	r.decide("error", fmt.Sprintf("both failed: %s: %s; %s: %s", n.fast.name, llm.AsError(f.err).Message,
		n.better.name, llm.AsError(b.err).Message), nil)
	return nil, b.err
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

func failWhy(res result) string {
	if res.err != nil {
		return "failed: " + llm.AsError(res.err).Message
	}
	return fmt.Sprintf("did not pass its gates (score %.3f)", res.verdict.Score)
}

// run serves branch i and returns its whole answer: a stream is read to
// its end (held back) and replayed. The better branch's answer is judged
// by the gates.
func (n *Node) run(ctx context.Context, c *policy.Call, i int) result {
	br := &n.fast
	if i == better {
		br = &n.better
	}
	judge := i == better && n.gate != nil
	tc, req := c, c.Request
	if judge {
		if p := gate.Prepare(n.gate, br.model, c.Request); p != c.Request {
			req = p
			tc = &policy.Call{Request: p, Caller: c.Caller, Header: c.Header, Exec: c.Exec, Trace: c.Trace, Now: c.Now}
		}
	}
	out, err := br.node.Serve(ctx, tc)
	if err != nil {
		return result{err: err}
	}
	if out == nil || (out.Stream == nil && out.Response == nil) {
		return result{err: &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
			Message: fmt.Sprintf("upgrade branch %s returned no answer", br.name), Class: llm.ClassUnknown}}
	}
	resp := out.Response
	var held []*llm.Chunk
	if out.Stream != nil {
		if held, resp, err = hold.Collect(out.Stream); err != nil {
			return result{err: err}
		}
	}
	res := result{pass: true}
	if judge {
		v := gate.Run(ctx, tc, n.gate, &gate.Answer{Model: out.Model, Request: req, Response: resp})
		if ctx.Err() != nil {
			return result{err: ctxError(ctx)}
		}
		gate.Record(tc, conf.Join(n.path, "better"), v)
		res.verdict, res.judged, res.pass = v, true, v.Skipped || v.Pass
	}
	if held != nil {
		res.out = &policy.Outcome{Model: out.Model, Stream: hold.NewReplay(held, nil, c.Request)}
	} else {
		res.out = &policy.Outcome{Model: out.Model, Response: gate.Strip(c.Request, resp)}
	}
	return res
}

// decide records the node's decision; res is the answer returned (nil on
// an error). waited_ms is how long the node waited after the fast answer
// arrived (0 when it did not arrive or failed).
func (r *request) decide(decision, reason string, res *result) {
	data := map[string]any{"window_ms": trace.Millis(r.n.window), "waited_ms": trace.Millis(r.waited)}
	if res != nil && res.out != nil {
		data["model"] = res.out.Model
	}
	r.c.Trace.Decide(trace.Decision{Node: r.n.path, Kind: "upgrade", Decision: decision, Reason: reason, Data: data})
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
