package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The sims here run in real time on a fake clock (testing/synctest), so
// every latency is exact: a 200ms time to first token, then one token per
// 100ms; five output tokens end at 600ms.
const engineConfig = `
executor:
  max_retries: 0
  total_timeout: 5s
models:
  - name: small
    provider: sim
    price: {input: 100, output: 200}
    options: {seed: 1, ttft: 200ms, tokens_per_second: 10, output_tokens: 5}
  - name: big
    provider: sim
    price: {input: 1000, output: 3000}
    options: {seed: 2, ttft: 200ms, tokens_per_second: 10, output_tokens: 5}
  - name: down
    provider: sim
    options: {seed: 3, error_rate: 1, ttft: 0s}
  - name: broken
    provider: sim
    price: {input: 100, output: 200}
    options: {seed: 4, ttft: 200ms, tokens_per_second: 10, output_tokens: 20, stream_break_rate: 1}
  - name: hang
    provider: sim
    options: {hang_rate: 1}
  - name: slow
    provider: sim
    price: {input: 100, output: 200}
    options: {ttft: 100ms, tokens_per_second: 0.001, output_tokens: 10}
routes:
  auto:
    fallback: [down, small]
  tiered:
    rules:
      rules:
        - {name: pro, when: 'caller.tier == "pro"', route: big}
      default: small
  void: {test_nil: {}}
  failing: {test_error: {}}
`

// nilNode answers with neither an outcome nor an error, which a node must
// never do; errNode fails with a plain error.
type nilNode struct{}

func (nilNode) Serve(context.Context, *policy.Call) (*policy.Outcome, error) { return nil, nil }

type errNode struct{}

var errPlain = errors.New("a plain error with internals")

func (errNode) Serve(context.Context, *policy.Call) (*policy.Outcome, error) { return nil, errPlain }

func init() {
	policy.Register("test_nil", func(policy.Builder, string, json.RawMessage) (policy.Node, error) { return nilNode{}, nil })
	policy.Register("test_error", func(policy.Builder, string, json.RawMessage) (policy.Node, error) { return errNode{}, nil })
}

func build(t testing.TB, yaml string) *config.Snapshot {
	t.Helper()
	f, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Build(f, config.BuildOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// recorder is a fake Recorder that keeps every decision.
type recorder struct {
	mu sync.Mutex
	ds []store.Decision
}

func (r *recorder) Record(d store.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ds = append(r.ds, d)
}

func (r *recorder) all() []store.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Decision(nil), r.ds...)
}

func inbound(id, model string, stream bool) Inbound {
	return Inbound{ID: id, Request: &llm.Request{Model: model, Stream: stream,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "hello " + id}}}}
}

// warm loads the tokenizer and the sims' lazy state outside any synctest
// bubble, so that nothing global is first created inside one.
var warmOnce sync.Once

func warm(t *testing.T) {
	warmOnce.Do(func() {
		snap := build(t, `
models:
  - {name: m, provider: sim, options: {realtime: false, output_tokens: 5}}
`)
		e := New(snap, nil)
		for _, stream := range []bool{false, true} {
			x := e.Chat(context.Background(), inbound("warm", "m", stream))
			if x.Err != nil {
				t.Fatal(x.Err)
			}
			if stream {
				drain(t, x.Outcome.Stream)
			}
			x.Finish(200, nil)
		}
	})
}

// drain reads st to its end and closes it, returning the text and the
// error that ended it (nil for io.EOF).
func drain(t testing.TB, st llm.Stream) (string, error) {
	t.Helper()
	defer st.Close()
	var b strings.Builder
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
}

func TestResolve(t *testing.T) {
	snap := build(t, engineConfig)
	for _, tt := range []struct {
		name, kind string
	}{
		{"auto", "route"},
		{"tiered", "route"},
		{"small", "model"},
		{"down", "model"},
		{"Small", ""},
		{"", ""},
		{"auto ", ""},
		{"nope", ""},
	} {
		node, kind := resolve(snap, tt.name)
		if kind != tt.kind || (node == nil) != (tt.kind == "") {
			t.Errorf("resolve(%q) = %v, %q; want kind %q", tt.name, node, kind, tt.kind)
		}
	}
}

// TestChatResolves checks what an exchange says about the name the client
// sent, for routes, models and unknown names.
func TestChatResolves(t *testing.T) {
	warm(t)
	for _, tt := range []struct {
		name      string
		model     string
		kind      string
		wantModel string
		status    int
		code      string
	}{
		{"route", "auto", "route", "small", 0, ""},
		{"model", "big", "model", "big", 0, ""},
		{"unknown", "gpt-5", "", "", 404, "model_not_found"},
		{"model names are case-sensitive", "SMALL", "", "", 404, "model_not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := New(build(t, engineConfig), nil)
				x := e.Chat(context.Background(), inbound("r1", tt.model, false))
				defer x.Finish(200, nil)
				if x.Route != tt.model || x.Kind != tt.kind || x.ID != "r1" || x.Trace == nil {
					t.Errorf("exchange = route %q kind %q id %q", x.Route, x.Kind, x.ID)
				}
				if tt.status == 0 {
					if x.Err != nil || x.Outcome == nil || x.Outcome.Model != tt.wantModel || x.Outcome.Response == nil {
						t.Fatalf("err %v outcome %+v", x.Err, x.Outcome)
					}
					return
				}
				var le *llm.Error
				if !errors.As(x.Err, &le) || le.Status != tt.status || le.Code != tt.code || le.Param != "model" || le.Class != llm.ClassCaller {
					t.Errorf("err = %#v", x.Err)
				}
				if x.Outcome != nil || !strings.Contains(le.Message, tt.model) {
					t.Errorf("outcome %+v, message %q", x.Outcome, le.Message)
				}
			})
		})
	}
}

// TestBrokenNodes checks what the engine makes of a node that breaks its
// contract or fails with an unclassified error.
func TestBrokenNodes(t *testing.T) {
	warm(t)
	rec := &recorder{}
	e := New(build(t, engineConfig), rec)
	x := e.Chat(context.Background(), inbound("v", "void", false))
	le := llm.AsError(x.Err)
	if le.Status != http.StatusInternalServerError || le.Type != llm.TypeServer {
		t.Errorf("a node that returned nothing: %#v", x.Err)
	}
	x.Finish(le.Status, x.Err)
	x = e.Chat(context.Background(), inbound("f", "failing", false))
	if !errors.Is(x.Err, errPlain) {
		t.Errorf("err = %v, want the node's error", x.Err)
	}
	x.Finish(500, x.Err)
	ds := rec.all()
	if len(ds) != 2 || ds[0].ErrorType != llm.TypeServer || ds[1].ErrorType != llm.TypeServer {
		t.Fatalf("decisions = %+v", ds)
	}
	if strings.Contains(ds[1].ErrorMessage, "internals") {
		t.Errorf("an unclassified error's text reached the record: %q", ds[1].ErrorMessage)
	}
}

// TestFinishOnce checks that only the first Finish records, also when
// several goroutines race to finish.
func TestFinishOnce(t *testing.T) {
	warm(t)
	rec := &recorder{}
	e := New(build(t, engineConfig), rec)
	x := e.Chat(context.Background(), inbound("once", "nope", false))
	x.Finish(404, x.Err)
	x.Finish(500, errors.New("second"))
	x.Finish(200, nil)
	if ds := rec.all(); len(ds) != 1 || ds[0].Status != 404 {
		t.Fatalf("decisions = %+v", ds)
	}

	rec = &recorder{}
	e = New(build(t, engineConfig), rec)
	x = e.Chat(context.Background(), inbound("race", "nope", false))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() { x.Finish(400+i, nil) })
	}
	wg.Wait()
	if n := len(rec.all()); n != 1 {
		t.Errorf("%d decisions after concurrent Finish, want 1", n)
	}
}

// TestFinishWithoutRecorder checks that an engine without a decision log
// finishes exchanges without failing.
func TestFinishWithoutRecorder(t *testing.T) {
	warm(t)
	e := New(build(t, engineConfig), nil)
	x := e.Chat(context.Background(), inbound("n", "nope", false))
	x.Finish(404, x.Err)
}

// TestDecisionRecord checks every field of the recorded decision on the
// fake clock, where latencies are exact.
func TestDecisionRecord(t *testing.T) {
	warm(t)
	tests := []struct {
		name   string
		model  string
		stream bool
		caller policy.Caller
		// what the client saw, passed to Finish
		status int
		// expectations
		wantModel    string
		wantErrType  string
		wantAttempts []string // outcomes
		wantTTFT     float64
		wantLatency  float64
		wantCost     bool // a non-zero cost
	}{
		{name: "model", model: "small", status: 200, wantModel: "small", wantAttempts: []string{"ok"}, wantLatency: 600, wantCost: true},
		{name: "stream", model: "small", stream: true, status: 200, wantModel: "small", wantAttempts: []string{"ok"}, wantTTFT: 200, wantLatency: 600, wantCost: true},
		{name: "route with failover", model: "auto", status: 200, wantModel: "small", wantAttempts: []string{"error", "ok"}, wantLatency: 600, wantCost: true},
		{name: "stream with failover", model: "auto", stream: true, status: 200, wantModel: "small", wantAttempts: []string{"error", "ok"}, wantTTFT: 200, wantLatency: 600, wantCost: true},
		{name: "caller tier routes", model: "tiered", caller: policy.Caller{Key: "alice", Tier: "pro"}, status: 200, wantModel: "big", wantAttempts: []string{"ok"}, wantLatency: 600, wantCost: true},
		{name: "upstream error", model: "down", status: 502, wantErrType: llm.TypeUpstream, wantAttempts: []string{"error"}},
		{name: "stream broken after commit", model: "broken", stream: true, status: 502, wantModel: "broken", wantErrType: llm.TypeUpstream, wantAttempts: []string{"error"}, wantTTFT: 200, wantCost: true},
		{name: "unknown model", model: "nope", status: 404, wantErrType: llm.TypeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				e := New(build(t, engineConfig), rec)
				in := inbound("req-1", tt.model, tt.stream)
				in.Caller = tt.caller
				in.Start = time.Now()
				x := e.Chat(context.Background(), in)
				var err error = x.Err
				if x.Err == nil && x.Outcome.Stream != nil {
					_, err = drain(t, x.Outcome.Stream)
				}
				if (err != nil) != (tt.wantErrType != "") {
					t.Fatalf("err = %v", err)
				}
				x.Finish(tt.status, err)
				ds := rec.all()
				if len(ds) != 1 {
					t.Fatalf("%d decisions", len(ds))
				}
				d := ds[0]
				if d.RequestID != "req-1" || !d.Time.Equal(in.Start) || d.Route != tt.model || d.Model != tt.wantModel ||
					d.Status != tt.status || d.Stream != tt.stream || d.ErrorType != tt.wantErrType {
					t.Errorf("decision = %+v", d)
				}
				if (d.ErrorMessage != "") != (tt.wantErrType != "") {
					t.Errorf("error message %q", d.ErrorMessage)
				}
				if d.CallerKey != tt.caller.Key || d.CallerTier != tt.caller.Tier {
					t.Errorf("caller = %q/%q", d.CallerKey, d.CallerTier)
				}
				var outcomes []string
				var usage llm.Usage
				var cost catalog.Micros
				for _, a := range d.Trace.Attempts {
					outcomes = append(outcomes, a.Outcome)
					usage = usage.Add(a.Usage)
					cost += a.CostMicros
				}
				if strings.Join(outcomes, ",") != strings.Join(tt.wantAttempts, ",") {
					t.Errorf("attempts = %v, want %v", outcomes, tt.wantAttempts)
				}
				if d.Usage != usage || d.CostMicros != cost || (cost > 0) != tt.wantCost {
					t.Errorf("usage %+v cost %d; attempts sum to %+v and %d", d.Usage, d.CostMicros, usage, cost)
				}
				if tt.wantCost && (d.Usage.PromptTokens == 0 || d.Usage.CompletionTokens == 0) {
					t.Errorf("usage = %+v", d.Usage)
				}
				if d.TTFTMS != tt.wantTTFT {
					t.Errorf("ttft = %v ms, want %v", d.TTFTMS, tt.wantTTFT)
				}
				if tt.wantLatency != 0 && d.LatencyMS != tt.wantLatency {
					t.Errorf("latency = %v ms, want %v", d.LatencyMS, tt.wantLatency)
				}
				if tt.model != "nope" && len(d.Trace.Decisions) == 0 {
					t.Error("no node decisions in the trace")
				}
			})
		})
	}
}

// TestDecisionTTFTIsStreamOnly is a regression test: the decision's TTFT
// was taken from any successful attempt of the answering model, so a whole
// (non-streamed) response got its total latency as a TTFT, and a stream
// that broke or was abandoned after its first byte got none, against the
// contract of store.Decision.TTFTMS.
func TestDecisionTTFTIsStreamOnly(t *testing.T) {
	warm(t)
	for _, tt := range []struct {
		model  string
		stream bool
		want   float64
	}{
		{"small", false, 0},
		{"small", true, 200},
		{"broken", true, 200},
	} {
		synctest.Test(t, func(t *testing.T) {
			rec := &recorder{}
			x := New(build(t, engineConfig), rec).Chat(context.Background(), inbound("t", tt.model, tt.stream))
			err := x.Err
			if err == nil && tt.stream {
				_, err = drain(t, x.Outcome.Stream)
			}
			x.Finish(200, err)
			if d := rec.all()[0]; d.TTFTMS != tt.want {
				t.Errorf("%s stream=%v: ttft %v ms, want %v", tt.model, tt.stream, d.TTFTMS, tt.want)
			}
		})
	}
}

// TestTotalTimeout checks that executor.total_timeout bounds the whole
// exchange: a model that never answers fails with a 504 timeout exactly
// when it passes, and so does a stream that stalls after its first chunk.
func TestTotalTimeout(t *testing.T) {
	warm(t)
	for _, tt := range []struct {
		name   string
		model  string
		stream bool
	}{
		{"hanging call", "hang", false},
		{"hanging stream", "hang", true},
		{"stalled stream", "slow", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				e := New(build(t, engineConfig), rec)
				in := inbound("t", tt.model, tt.stream)
				in.Start = time.Now()
				x := e.Chat(context.Background(), in)
				err := x.Err
				if err == nil && x.Outcome.Stream != nil {
					_, err = drain(t, x.Outcome.Stream)
				}
				le := llm.AsError(err)
				if le.Status != http.StatusGatewayTimeout || le.Type != llm.TypeTimeout || le.Code != "request_timeout" {
					t.Fatalf("err = %#v", err)
				}
				if took := time.Since(in.Start); took != 5*time.Second {
					t.Errorf("failed after %v, want the total timeout of 5s", took)
				}
				x.Finish(le.Status, err)
				d := rec.all()[0]
				if d.Status != 504 || d.ErrorType != llm.TypeTimeout || d.LatencyMS != 5000 {
					t.Errorf("decision = %+v", d)
				}
				if a := d.Trace.Attempts; len(a) != 1 || a[0].Outcome == trace.OutcomeOK || a[0].Outcome == trace.OutcomePending {
					t.Errorf("attempts = %+v", a)
				}
			})
		})
	}
}

// TestTotalTimeoutFromConfig checks that the deadline comes from the
// snapshot the request started on, and that the default is 300s.
func TestTotalTimeoutFromConfig(t *testing.T) {
	warm(t)
	synctest.Test(t, func(t *testing.T) {
		e := New(build(t, `
executor: {max_retries: 0}
models:
  - {name: hang, provider: sim, options: {hang_rate: 1}}
`), nil)
		start := time.Now()
		x := e.Chat(context.Background(), inbound("d", "hang", false))
		defer x.Finish(504, x.Err)
		if took := time.Since(start); took != 60*time.Second {
			// The attempt timeout (60s) ends a single call first.
			t.Errorf("hanging call ended after %v, want the 60s attempt timeout", took)
		}
		if llm.AsError(x.Err).Code != "upstream_timeout" {
			t.Errorf("err = %v", x.Err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		e := New(build(t, `
models:
  - {name: slow, provider: sim, options: {ttft: 0s, tokens_per_second: 0.001, output_tokens: 10}}
`), nil)
		start := time.Now()
		x := e.Chat(context.Background(), inbound("d", "slow", true))
		_, err := drain(t, x.Outcome.Stream)
		x.Finish(504, err)
		if took := time.Since(start); took != 300*time.Second {
			t.Errorf("stalled stream ended after %v, want the default total timeout of 300s", took)
		}
	})
}

// TestFinishCancelsTheExchange checks that Finish releases the exchange's
// context: a stream still open is canceled.
func TestFinishCancelsTheExchange(t *testing.T) {
	warm(t)
	synctest.Test(t, func(t *testing.T) {
		e := New(build(t, engineConfig), nil)
		x := e.Chat(context.Background(), inbound("c", "slow", true))
		if x.Err != nil {
			t.Fatal(x.Err)
		}
		st := x.Outcome.Stream
		st.Recv() // the role delta
		st.Recv() // the first token
		start := time.Now()
		x.Finish(200, nil)
		_, err := st.Recv()
		st.Close()
		if llm.ClassOf(err) != llm.ClassCanceled {
			t.Errorf("Recv after Finish = %v, want a cancel", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("Recv after Finish waited %v", time.Since(start))
		}
	})
}

// TestClientCancel checks that a request whose client goes away ends as a
// cancel, not charged to the model.
func TestClientCancel(t *testing.T) {
	warm(t)
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		e := New(build(t, engineConfig), rec)
		ctx, cancel := context.WithCancel(context.Background())
		x := e.Chat(ctx, inbound("c", "slow", true))
		if x.Err != nil {
			t.Fatal(x.Err)
		}
		st := x.Outcome.Stream
		st.Recv()
		time.AfterFunc(time.Second, cancel)
		_, err := drain(t, st)
		le := llm.AsError(err)
		if le.Status != 499 || le.Class != llm.ClassCanceled {
			t.Fatalf("err = %#v", err)
		}
		x.Finish(499, err)
		d := rec.all()[0]
		if d.Status != 499 || d.Model != "slow" || d.ErrorType == "" || d.TTFTMS != 100 {
			t.Errorf("decision = %+v", d)
		}
		if a := d.Trace.Attempts[0]; a.Outcome != trace.OutcomeCanceled || a.CostMicros == 0 {
			t.Errorf("attempt = %+v, want canceled with the tokens sent charged", a)
		}
	})
}

// TestSwapKeepsInFlight checks that Swap changes the snapshot for new
// requests only: a request in flight finishes on the one it started with.
func TestSwapKeepsInFlight(t *testing.T) {
	warm(t)
	const before = `
executor: {total_timeout: 1h}
models:
  - {name: m, provider: sim, price: {input: 1, output: 1}, options: {reply: "old answer", ttft: 10s}}
`
	const after = `
executor: {total_timeout: 1s}
models:
  - {name: m, provider: sim, price: {input: 5, output: 5}, options: {reply: "new answer", ttft: 0s}}
  - {name: extra, provider: sim, options: {realtime: false}}
`
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "chat", true: "stream"}[stream], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{}
				old := build(t, before)
				e := New(old, rec)
				type result struct {
					text string
					err  error
				}
				done := make(chan result, 1)
				go func() {
					x := e.Chat(context.Background(), inbound("inflight", "m", stream))
					if x.Err != nil {
						done <- result{err: x.Err}
						return
					}
					text := ""
					var err error
					if stream {
						text, err = drain(t, x.Outcome.Stream)
					} else {
						text = x.Outcome.Response.Text()
					}
					x.Finish(200, err)
					done <- result{text, err}
				}()
				synctest.Wait() // the request is waiting for its first token
				next := build(t, after)
				if prev := e.Swap(next); prev != old {
					t.Error("Swap did not return the previous snapshot")
				}
				if e.Snapshot() != next {
					t.Error("Snapshot is not the new one")
				}
				x := e.Chat(context.Background(), inbound("new", "m", stream))
				if x.Err != nil {
					t.Fatal(x.Err)
				}
				text := ""
				if stream {
					text, _ = drain(t, x.Outcome.Stream)
				} else {
					text = x.Outcome.Response.Text()
				}
				x.Finish(200, nil)
				if text != "new answer" {
					t.Errorf("new request answered %q", text)
				}
				if x := e.Chat(context.Background(), inbound("e", "extra", false)); x.Err != nil {
					t.Errorf("a model added by the swap: %v", x.Err)
				} else {
					x.Finish(200, nil)
				}
				r := <-done // the old snapshot's 1h deadline, not the new 1s, applies
				if r.err != nil || r.text != "old answer" {
					t.Errorf("in-flight request: %q, %v; want the old snapshot's answer", r.text, r.err)
				}
				for _, d := range rec.all() {
					if d.RequestID == "inflight" && d.CostMicros != old.Models["m"].Price.Cost(d.Usage) {
						t.Errorf("in-flight request priced at %d, not at the old price", d.CostMicros)
					}
				}
			})
		})
	}
}

// TestConcurrentExchanges runs many exchanges at once under the race
// detector, with swaps in between.
func TestConcurrentExchanges(t *testing.T) {
	warm(t)
	cfg := strings.ReplaceAll(engineConfig, "tokens_per_second: 10", "realtime: false")
	rec := &recorder{}
	a, b := build(t, cfg), build(t, cfg)
	e := New(a, rec)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if i%8 == 0 {
				e.Swap([]*config.Snapshot{a, b}[i/8%2])
			}
			x := e.Chat(context.Background(), inbound("c", []string{"auto", "small", "tiered"}[i%3], i%2 == 0))
			var err error = x.Err
			if err == nil && x.Outcome.Stream != nil {
				_, err = drain(t, x.Outcome.Stream)
			}
			x.Finish(200, err)
		})
	}
	wg.Wait()
	if n := len(rec.all()); n != 32 {
		t.Errorf("%d decisions, want 32", n)
	}
}

// TestDecisionRequestLogging checks that the request as served is recorded
// only when the snapshot the exchange started on says store.log_requests,
// even when a reload changes the setting before the exchange finishes.
func TestDecisionRequestLogging(t *testing.T) {
	warm(t)
	const base = `
models:
  - {name: m, provider: sim, options: {realtime: false, output_tokens: 3}}
`
	tests := []struct {
		name        string
		start, swap string // store blocks of the snapshot started on and of the one swapped in before Finish
		want        bool
	}{
		{name: "default off", start: "", swap: "", want: false},
		{name: "on", start: "store: {log_requests: true}\n", swap: "store: {log_requests: true}\n", want: true},
		{name: "turned off after start", start: "store: {log_requests: true}\n", swap: "", want: true},
		{name: "turned on after start", start: "", swap: "store: {log_requests: true}\n", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			e := New(build(t, tt.start+base), rec)
			in := inbound("req-1", "m", false)
			temp := 0.5
			in.Request.Temperature = &temp
			x := e.Chat(context.Background(), in)
			if x.Err != nil {
				t.Fatal(x.Err)
			}
			e.Swap(build(t, tt.swap+base))
			x.Finish(200, nil)
			ds := rec.all()
			if len(ds) != 1 {
				t.Fatalf("%d decisions recorded, want 1", len(ds))
			}
			got := ds[0].Request
			if !tt.want {
				if got != nil {
					t.Errorf("request logged: %s", got)
				}
				return
			}
			var req llm.Request
			if err := json.Unmarshal(got, &req); err != nil {
				t.Fatalf("logged request %s: %v", got, err)
			}
			if req.Model != "m" || len(req.Messages) != 1 || req.Messages[0].Content != "hello req-1" || req.Temperature == nil || *req.Temperature != 0.5 {
				t.Errorf("logged request = %s", got)
			}
		})
	}
}
