package executor

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/signals"
)

func TestSignalsAndCircuit(t *testing.T) {
	sig := signals.New(signals.Options{})
	brk := health.New(health.Options{ConsecutiveFailures: 2, Cooldown: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &script{steps: []step{
		{resp: okResp("a")},
		{err: transient(503)},
		{err: &llm.Error{Status: 400, Class: llm.ClassCaller, Message: "bad"}}, // the caller's fault: not counted
		{resp: okResp("b")}, // a success ends the run of failures
		{err: transient(500)},
		{err: transient(500)},
	}}
	e, c := newExec(p, Options{MaxRetries: -1, Signals: sig, Health: brk})
	ctx := context.Background()
	if _, err := e.Call(ctx, c, "m", req); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		_, _ = e.Call(ctx, c, "m", req)
	}
	if st := brk.Status("m").State; st != "closed" {
		t.Fatalf("circuit %s after failure, caller error, success, failure", st)
	}
	_, _ = e.Call(ctx, c, "m", req)
	if st := brk.Status("m").State; st != "open" {
		t.Fatalf("circuit %s after two failures in a row", st)
	}
	calls := p.calls.Load()
	_, err := e.Call(ctx, c, "m", req)
	if le := llm.AsError(err); le.Code != "circuit_open" || le.RetryAfter <= 0 || p.calls.Load() != calls {
		t.Fatalf("open circuit: %v (retry after %v), provider called %d times", err, le.RetryAfter, p.calls.Load()-calls)
	}
	// Panic mode goes through an open circuit.
	if _, err := e.Call(health.WithPanic(ctx), c, "m", req); p.calls.Load() != calls+1 || llm.AsError(err).Code == "circuit_open" {
		t.Fatalf("panic call: %v", err)
	}
	st := sig.Stats("m")
	if st.Requests != 7 || st.Errors != 5 || st.ErrorsByClass["transient"] != 4 || st.ErrorsByClass["caller"] != 1 ||
		st.InFlight != 0 || st.SpendTotalUSD <= 0 {
		t.Errorf("signals: %+v", st)
	}
}

func TestStreamFeedsSignals(t *testing.T) {
	sig := signals.New(signals.Options{})
	p := &script{steps: []step{{chunks: []*llm.Chunk{chunk("hello"), chunk(" world")}}}}
	e, c := newExec(p, Options{Signals: sig})
	out, err := e.Call(context.Background(), c, "m", streamReq())
	if err != nil {
		t.Fatal(err)
	}
	if st := sig.Stats("m"); st.InFlight != 1 {
		t.Fatalf("open stream not in flight: %+v", st)
	}
	for {
		if _, err := out.Stream.Recv(); err != nil {
			break
		}
	}
	out.Stream.Close()
	if st := sig.Stats("m"); st.InFlight != 0 || st.Requests != 1 || st.Errors != 0 {
		t.Fatalf("finished stream: %+v", st)
	}
}

// TestRateLimitFeedsSignals checks that the headroom a provider reports,
// on a response, a stream or an error, reaches the signals, and that an
// attempt without a report keeps the last one.
func TestRateLimitFeedsSignals(t *testing.T) {
	rl := func(remaining int64) llm.RateLimit {
		return llm.RateLimit{Known: true, LimitRequests: 100, RemainingRequests: remaining, LimitTokens: -1, RemainingTokens: -1}
	}
	withRL := func(r *llm.Response, v llm.RateLimit) *llm.Response { r.RateLimit = v; return r }
	tests := []struct {
		name   string
		stream bool
		st     step
		want   int64 // remaining requests; -2 for no headroom at all
	}{
		{name: "no report yet", st: step{resp: okResp("a")}, want: -2},
		{name: "response", st: step{resp: withRL(okResp("a"), rl(90))}, want: 90},
		{name: "stream", stream: true, st: step{chunks: []*llm.Chunk{chunk("hi")}, rl: rl(80)}, want: 80},
		{name: "report-less stream keeps it", stream: true, st: step{chunks: []*llm.Chunk{chunk("hi")}}, want: 80},
		{name: "429", st: step{err: &llm.Error{Status: 429, Class: llm.ClassRateLimit, Message: "slow down", RateLimit: rl(0)}}, want: 0},
		{name: "report-less error keeps it", st: step{err: transient(500)}, want: 0},
	}
	sig := signals.New(signals.Options{})
	for _, tt := range tests {
		p := &script{steps: []step{tt.st}}
		e, c := newExec(p, Options{MaxRetries: -1, Signals: sig})
		r := req
		if tt.stream {
			r = streamReq()
		}
		out, err := e.Call(context.Background(), c, "m", r)
		if err == nil && out.Stream != nil {
			for {
				if _, err := out.Stream.Recv(); err != nil {
					break
				}
			}
			out.Stream.Close()
		}
		h := sig.Stats("m").RateLimit
		switch {
		case tt.want == -2 && h != nil:
			t.Errorf("%s: headroom %+v, want none", tt.name, h)
		case tt.want != -2 && (h == nil || h.RemainingRequests != tt.want):
			t.Errorf("%s: headroom %+v, want %d remaining requests", tt.name, h, tt.want)
		}
	}
}
