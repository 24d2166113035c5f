package executor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// script is a fake provider that answers each call with the next step.
type script struct {
	mu    sync.Mutex
	steps []step
	calls atomic.Int32
}

type step struct {
	err    error
	resp   *llm.Response
	chunks []*llm.Chunk  // for streams
	endErr error         // after the chunks; nil means io.EOF
	hang   bool          // block until the context ends
	rl     llm.RateLimit // a stream's reported headroom
}

func (s *script) next() step {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Add(1)
	if len(s.steps) == 0 {
		panic("script exhausted")
	}
	st := s.steps[0]
	if len(s.steps) > 1 {
		s.steps = s.steps[1:]
	}
	return st
}

func (s *script) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	st := s.next()
	if st.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return st.resp, st.err
}

func (s *script) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	st := s.next()
	if st.err != nil {
		return nil, st.err
	}
	return &fakeStream{ctx: ctx, st: st}, nil
}

type fakeStream struct {
	ctx    context.Context
	st     step
	i      int
	closed bool
}

func (f *fakeStream) RateLimit() llm.RateLimit { return f.st.rl }

func (f *fakeStream) Recv() (*llm.Chunk, error) {
	if f.st.hang && f.i == len(f.st.chunks) {
		<-f.ctx.Done()
		return nil, f.ctx.Err()
	}
	if f.i < len(f.st.chunks) {
		f.i++
		return f.st.chunks[f.i-1], nil
	}
	if f.st.endErr != nil {
		return nil, f.st.endErr
	}
	return nil, io.EOF
}

func (f *fakeStream) Close() error { f.closed = true; return nil }

func transient(status int) error {
	return &llm.Error{Status: status, Type: llm.TypeUpstream, Message: "upstream failed", Class: llm.ClassTransient}
}

func okResp(text string) *llm.Response {
	return &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: text}, FinishReason: "stop"}},
		Usage: llm.Usage{PromptTokens: 1000, CompletionTokens: 500, TotalTokens: 1500}}
}

func newExec(p *script, opts Options) (*Executor, *policy.Call) {
	m := &catalog.Model{Name: "m", Provider: "fake", Upstream: "up", MaxRetries: -1,
		Price: catalog.Price{Input: catalog.RateFromUSD(10), Output: catalog.RateFromUSD(30)}}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	e := New(map[string]Target{"m": {Model: m, Provider: p}}, opts)
	c := &policy.Call{Trace: trace.New(time.Now())}
	c.Exec = e
	return e, c
}

var req = &llm.Request{Model: "route", Messages: []llm.Message{{Role: "user", Content: "hello world"}}}

func TestCallRetries(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		wantErr   llm.Class
		wantCalls int32
		wantOK    bool
	}{
		{"first try ok", []step{{resp: okResp("hi")}}, 0, 1, true},
		{"transient then ok", []step{{err: transient(503)}, {resp: okResp("hi")}}, 0, 2, true},
		{"transient thrice gives up", []step{{err: transient(500)}}, llm.ClassTransient, 3, false},
		{"caller fault never retried", []step{{err: &llm.Error{Status: 400, Class: llm.ClassCaller}}}, llm.ClassCaller, 1, false},
		{"auth fails over at once", []step{{err: &llm.Error{Status: 401, Class: llm.ClassAuth}}}, llm.ClassAuth, 1, false},
		{"rate limit honours retry-after", []step{{err: &llm.Error{Status: 429, Class: llm.ClassRateLimit, RetryAfter: 2 * time.Second}}, {resp: okResp("hi")}}, 0, 2, true},
		{"retry-after too long fails over", []step{{err: &llm.Error{Status: 429, Class: llm.ClassRateLimit, RetryAfter: time.Minute}}}, llm.ClassRateLimit, 1, false},
		{"unknown retried once", []step{{err: errors.New("boom")}}, llm.ClassTransient, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &script{steps: tt.steps}
				e, c := newExec(p, Options{})
				out, err := e.Call(t.Context(), c, "m", req)
				if got := p.calls.Load(); got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				if tt.wantOK {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					if out.Model != "m" || out.Response.Text() != "hi" {
						t.Fatalf("outcome = %+v", out)
					}
					return
				}
				if err == nil {
					t.Fatal("want error")
				}
				if got := llm.ClassOf(err); got != tt.wantErr {
					t.Errorf("class = %v, want %v", got, tt.wantErr)
				}
				if n := len(c.Trace.Snapshot().Attempts); int32(n) != tt.wantCalls {
					t.Errorf("trace has %d attempts, want %d", n, tt.wantCalls)
				}
			})
		})
	}
}

func TestBackoffWaitsWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &script{steps: []step{{err: transient(503)}, {err: transient(503)}, {resp: okResp("hi")}}}
		e, c := newExec(p, Options{BackoffInitial: 100 * time.Millisecond, Rand: func() float64 { return 1 }})
		start := time.Now()
		if _, err := e.Call(t.Context(), c, "m", req); err != nil {
			t.Fatal(err)
		}
		// Full jitter with Rand()=1 waits the whole ceiling: 100ms, then 200ms.
		if got := time.Since(start); got != 300*time.Millisecond {
			t.Errorf("waited %v, want 300ms", got)
		}
	})
}

func TestCallCostAndUsage(t *testing.T) {
	p := &script{steps: []step{{resp: okResp("hi")}}}
	e, c := newExec(p, Options{})
	if _, err := e.Call(t.Context(), c, "m", req); err != nil {
		t.Fatal(err)
	}
	u, cost := c.Trace.Totals()
	if u.PromptTokens != 1000 || u.CompletionTokens != 500 || cost != 25_000 {
		t.Errorf("usage %+v cost %d, want 1000/500 and 25000 micros", u, cost)
	}
}

func TestCallEstimatesMissingUsage(t *testing.T) {
	resp := okResp("hello world")
	resp.Usage = llm.Usage{}
	p := &script{steps: []step{{resp: resp}}}
	e, c := newExec(p, Options{})
	out, err := e.Call(t.Context(), c, "m", req)
	if err != nil {
		t.Fatal(err)
	}
	if u := out.Response.Usage; !u.Estimated || u.PromptTokens != 9 || u.CompletionTokens != 2 {
		t.Errorf("estimated usage = %+v", u)
	}
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &script{steps: []step{{hang: true}, {resp: okResp("hi")}}}
		e, c := newExec(p, Options{AttemptTimeout: time.Second})
		if _, err := e.Call(t.Context(), c, "m", req); err != nil {
			t.Fatal(err)
		}
		a := c.Trace.Snapshot().Attempts
		if len(a) != 2 || a[0].Status != http.StatusGatewayTimeout || a[0].ErrorClass != "transient" {
			t.Errorf("attempts = %+v", a)
		}
	})
}

func TestClientCancelStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &script{steps: []step{{hang: true}}}
		e, c := newExec(p, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		_, err := e.Call(ctx, c, "m", req)
		if llm.ClassOf(err) != llm.ClassCanceled || p.calls.Load() != 1 {
			t.Fatalf("err = %v after %d calls", err, p.calls.Load())
		}
		if a := c.Trace.Snapshot().Attempts[0]; a.Outcome != trace.OutcomeCanceled || a.Status != 499 {
			t.Errorf("attempt = %+v", a)
		}
	})
}

func TestUnknownModel(t *testing.T) {
	e, c := newExec(&script{}, Options{})
	_, err := e.Call(t.Context(), c, "nope", req)
	if le := llm.AsError(err); le.Status != 404 || le.Code != "model_not_found" {
		t.Fatalf("err = %v", err)
	}
}

func chunk(text string) *llm.Chunk {
	return &llm.Chunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: text}}}}
}

func streamReq() *llm.Request {
	r := req.Clone()
	r.Stream = true
	return r
}

func TestStreamFailsOverBeforeFirstChunk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &script{steps: []step{
			{endErr: transient(502)}, // the stream opens, then breaks before any chunk
			{chunks: []*llm.Chunk{chunk("hel"), chunk("lo"), {Usage: &llm.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}}}},
		}}
		e, c := newExec(p, Options{})
		out, err := e.Call(t.Context(), c, "m", streamReq())
		if err != nil {
			t.Fatal(err)
		}
		text := drain(t, out.Stream)
		out.Stream.Close()
		if text != "hello" {
			t.Errorf("text = %q", text)
		}
		a := c.Trace.Snapshot().Attempts
		if len(a) != 2 || a[0].Outcome != trace.OutcomeError || a[1].Outcome != trace.OutcomeOK || a[1].Usage.CompletionTokens != 2 {
			t.Errorf("attempts = %+v", a)
		}
	})
}

func TestStreamTTFTTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &script{steps: []step{{hang: true}, {chunks: []*llm.Chunk{chunk("ok")}}}}
		e, c := newExec(p, Options{TTFTTimeout: time.Second})
		out, err := e.Call(t.Context(), c, "m", streamReq())
		if err != nil {
			t.Fatal(err)
		}
		drain(t, out.Stream)
		out.Stream.Close()
		a := c.Trace.Snapshot().Attempts
		if len(a) != 2 || a[0].Status != http.StatusGatewayTimeout {
			t.Errorf("attempts = %+v", a)
		}
	})
}

func TestStreamBreakAfterCommitIsAnError(t *testing.T) {
	p := &script{steps: []step{{chunks: []*llm.Chunk{chunk("par"), chunk("tial")}, endErr: &llm.Error{Status: 502, Code: "stream_truncated", Class: llm.ClassTransient}}}}
	e, c := newExec(p, Options{})
	out, err := e.Call(t.Context(), c, "m", streamReq())
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for {
		_, err := out.Stream.Recv()
		if err != nil {
			last = err
			break
		}
	}
	out.Stream.Close()
	if errors.Is(last, io.EOF) || llm.ClassOf(last) != llm.ClassTransient {
		t.Fatalf("end = %v, want a transient error", last)
	}
	a := c.Trace.Snapshot().Attempts
	if len(a) != 1 || a[0].Outcome != trace.OutcomeError || !a[0].Usage.Estimated || a[0].Usage.CompletionTokens == 0 {
		t.Errorf("attempt = %+v (usage must be counted even for a broken stream)", a)
	}
}

func TestStreamClosedEarlyCountsOnce(t *testing.T) {
	p := &script{steps: []step{{chunks: []*llm.Chunk{chunk("a"), chunk("b")}, hang: true}}}
	e, c := newExec(p, Options{})
	out, err := e.Call(t.Context(), c, "m", streamReq())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Stream.Recv(); err != nil {
		t.Fatal(err)
	}
	out.Stream.Close()
	out.Stream.Close()
	_, cost1 := c.Trace.Totals()
	a := c.Trace.Snapshot().Attempts
	if len(a) != 1 || a[0].Outcome != trace.OutcomeCanceled || a[0].Usage.PromptTokens == 0 {
		t.Fatalf("attempts = %+v", a)
	}
	_, cost2 := c.Trace.Totals()
	if cost1 != cost2 {
		t.Errorf("cost changed after a second Close")
	}
}

func drain(t *testing.T, s llm.Stream) string {
	t.Helper()
	var text string
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return text
		}
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		for _, c := range ch.Choices {
			text += c.Delta.Content
		}
	}
}
