package balance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/state"
	"github.com/sextant-router/sextant/internal/trace"
)

var models = map[string]*catalog.Model{
	"a":     {Name: "a", Price: catalog.Price{Input: 3_000_000, Output: 15_000_000}},
	"b":     {Name: "b", Price: catalog.Price{Input: 100_000, Output: 400_000}},
	"c":     {Name: "c", Price: catalog.Price{Input: 1_000_000, Output: 2_000_000}},
	"small": {Name: "small", ContextWindow: 100},
	"tools": {Name: "tools", Capabilities: map[catalog.Capability]bool{catalog.CapTools: true}},
}

type builder struct{}

func (builder) HasModel(name string) bool { _, ok := models[name]; return ok }
func (builder) Model(name string) (*catalog.Model, bool) {
	m, ok := models[name]
	return m, ok
}
func (builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	return nil, errors.New("unused")
}
func (builder) Path(p string) string { return p }

// exec answers from a table of per-model errors and records calls and
// whether each came in panic mode.
type exec struct {
	fail   map[string]error
	calls  []string
	panics []bool
}

func (e *exec) Call(ctx context.Context, c *policy.Call, model string, req *llm.Request) (*policy.Outcome, error) {
	e.calls = append(e.calls, model)
	e.panics = append(e.panics, health.InPanic(ctx))
	if err := e.fail[model]; err != nil {
		return nil, err
	}
	return &policy.Outcome{Model: model, Response: &llm.Response{}}, nil
}
func (e *exec) Embed(context.Context, *policy.Call, string, *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	return nil, errors.New("unused")
}
func (e *exec) Model(name string) (*catalog.Model, bool) { m, ok := models[name]; return m, ok }

func build(t *testing.T, cfg string) *Node {
	t.Helper()
	n, err := New(builder{}, "routes.r.balance", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	nd := n.(*Node)
	nd.sig = signals.New(signals.Options{})
	nd.brk = health.New(health.Options{ConsecutiveFailures: 1, Cooldown: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := rand.New(rand.NewPCG(1, 2))
	nd.rand = r.Float64
	nd.kv = state.NewMemory(100)
	return nd
}

func newCall(e *exec, text string) *policy.Call {
	return &policy.Call{Request: &llm.Request{Messages: []llm.Message{{Role: "user", Content: text}}},
		Exec: e, Trace: trace.New(time.Now())}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ cfg, want string }{
		{`{}`, "candidates: at least one model"},
		{`{"candidates":["zz"]}`, `candidates[0]: unknown model "zz"`},
		{`{"candidates":["a","a"]}`, "duplicate candidate"},
		{`{"candidates":["a"],"strategy":"fastest"}`, `strategy: unknown strategy "fastest"`},
		{`{"candidates":["a"],"weights":{"b":1}}`, `weights.b: "b" is not a candidate`},
		{`{"candidates":["a"],"weights":{"a":0}}`, "weights.a: must be in (0, 1e6]"},
		{`{"candidates":["a"],"explore":2}`, "explore: must be in [0,1]"},
		{`{"candidates":["a"],"max_attempts":-1}`, "max_attempts: must be at least 1"},
		{`{"candidates":["a"],"sticky":"ip"}`, `sticky: unknown sticky key "ip"`},
		{`{"candidates":["a"],"bogus":1}`, "bogus"},
	}
	for _, tc := range tests {
		_, err := New(builder{}, "routes.r.balance", json.RawMessage(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "routes.r.balance") {
			t.Errorf("%s: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func share(t *testing.T, n *Node, e *exec, reqs int) map[string]float64 {
	t.Helper()
	e.calls = nil
	for i := 0; i < reqs; i++ {
		if _, err := n.Serve(context.Background(), newCall(e, "hi")); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]float64{}
	for _, m := range e.calls {
		out[m] += 1 / float64(reqs)
	}
	return out
}

func TestScoreShiftsAwayFromSlowModel(t *testing.T) {
	n := build(t, `{"candidates":["a","b","c"],"explore":0.03}`)
	for _, m := range []string{"a", "b", "c"} {
		n.sig.Record(m, signals.Result{Latency: 200 * time.Millisecond})
	}
	e := &exec{}
	even := share(t, n, e, 3000)
	for _, m := range []string{"a", "b", "c"} {
		if even[m] < 0.25 || even[m] > 0.42 {
			t.Errorf("equal models: %s got %.2f", m, even[m])
		}
	}
	for i := 0; i < 10; i++ {
		n.sig.Record("a", signals.Result{Latency: time.Second})
	}
	slow := share(t, n, e, 3000)
	if slow["a"] > 0.05 {
		t.Errorf("5x slower model still got %.3f of traffic", slow["a"])
	}
	if slow["a"] == 0 {
		t.Error("explore should keep measuring the slow model")
	}
}

func TestStrategies(t *testing.T) {
	tests := []struct{ strategy, want string }{
		{"latency", "b"}, {"p95", "b"}, {"ttft", "c"}, {"least_busy", "c"}, {"cost", "b"},
	}
	for _, tc := range tests {
		n := build(t, `{"candidates":["a","b","c"],"explore":0,"strategy":"`+tc.strategy+`"}`)
		n.sig.Record("a", signals.Result{Latency: 900 * time.Millisecond, TTFT: 400 * time.Millisecond})
		n.sig.Record("b", signals.Result{Latency: 100 * time.Millisecond, TTFT: 90 * time.Millisecond})
		n.sig.Record("c", signals.Result{Latency: 300 * time.Millisecond, TTFT: 50 * time.Millisecond})
		n.sig.Begin("a")
		n.sig.Begin("b")
		e := &exec{}
		if _, err := n.Serve(context.Background(), newCall(e, "x")); err != nil {
			t.Fatal(err)
		}
		if e.calls[0] != tc.want {
			t.Errorf("%s chose %s, want %s", tc.strategy, e.calls[0], tc.want)
		}
	}
}

func TestHealthFilterAndPanic(t *testing.T) {
	n := build(t, `{"candidates":["a","b"],"explore":0}`)
	n.brk.Report("a", health.Outcome{Failure: true})
	e := &exec{}
	got := share(t, n, e, 50)
	if got["a"] != 0 {
		t.Errorf("open circuit still chosen %.2f", got["a"])
	}
	n.brk.Report("b", health.Outcome{Failure: true})
	e.calls, e.panics = nil, nil
	c := newCall(e, "x")
	if _, err := n.Serve(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(e.panics) != 1 || !e.panics[0] {
		t.Errorf("want one call in panic mode, got %v", e.panics)
	}
	if d := c.Trace.Snapshot().Decisions; len(d) == 0 || !strings.Contains(d[0].Reason, "panic") {
		t.Errorf("trace lacks panic: %+v", d)
	}
}

func TestFiltersAndFailover(t *testing.T) {
	n := build(t, `{"candidates":["small","tools"],"explore":0}`)
	e := &exec{}
	c := newCall(e, strings.Repeat("word ", 300))
	if _, err := n.Serve(context.Background(), c); err != nil || e.calls[0] != "tools" {
		t.Fatalf("long prompt went to %v (%v)", e.calls, err)
	}
	c = newCall(e, strings.Repeat("word ", 300))
	c.Request.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f"}}}
	n2 := build(t, `{"candidates":["small"]}`)
	_, err := n2.Serve(context.Background(), c)
	if le := llm.AsError(err); le.Status != http.StatusBadRequest || !strings.Contains(le.Message, "context window") {
		t.Fatalf("want 400 naming the context window, got %v", err)
	}

	n = build(t, `{"candidates":["a","b","c"],"explore":0,"strategy":"cost"}`)
	e = &exec{fail: map[string]error{
		"b": &llm.Error{Status: 503, Class: llm.ClassTransient, Message: "down"},
	}}
	out, err := n.Serve(context.Background(), newCall(e, "x"))
	if err != nil || out.Model != "c" || strings.Join(e.calls, ",") != "b,c" {
		t.Fatalf("failover: %v %v calls %v", out, err, e.calls)
	}
	e = &exec{fail: map[string]error{"b": &llm.Error{Status: 400, Class: llm.ClassCaller, Message: "bad"}}}
	if _, err := n.Serve(context.Background(), newCall(e, "x")); err == nil || len(e.calls) != 1 {
		t.Fatalf("caller error must not fail over: %v %v", err, e.calls)
	}
}

func TestSticky(t *testing.T) {
	n := build(t, `{"candidates":["a","b","c"],"strategy":"weight","sticky":"session","explore":0}`)
	e := &exec{}
	first := ""
	for i := 0; i < 20; i++ {
		c := newCall(e, "hello")
		c.Caller.Session = "s1"
		out, err := n.Serve(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = out.Model
		} else if out.Model != first {
			t.Fatalf("session moved from %s to %s while healthy", first, out.Model)
		}
	}
	n.brk.Report(first, health.Outcome{Failure: true}) // unhealthy: the session moves
	c := newCall(e, "hello")
	c.Caller.Session = "s1"
	out, _ := n.Serve(context.Background(), c)
	if out.Model == first {
		t.Fatal("session stayed on a model whose circuit is open")
	}
	// Prefix stickiness keys on the conversation's start.
	p := build(t, `{"candidates":["a","b","c"],"strategy":"weight","sticky":"prefix","explore":0}`)
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		c := newCall(e, "same start")
		c.Request.Messages = append(c.Request.Messages, llm.Message{Role: "assistant", Content: "x"},
			llm.Message{Role: "user", Content: strings.Repeat("turn ", i)})
		out, _ := p.Serve(context.Background(), c)
		seen[out.Model] = true
	}
	if len(seen) != 1 {
		t.Errorf("prefix-sticky conversation spread over %v", seen)
	}
}

func BenchmarkServe(b *testing.B) {
	n, _ := New(builder{}, "r", json.RawMessage(`{"candidates":["a","b","c"]}`))
	nd := n.(*Node)
	nd.sig = signals.New(signals.Options{})
	nd.brk = health.New(health.Options{})
	e := &exec{}
	c := newCall(e, "x")
	b.ReportAllocs()
	for b.Loop() {
		e.calls, e.panics = e.calls[:0], e.panics[:0]
		c.Trace = trace.New(time.Now())
		_, _ = nd.Serve(context.Background(), c)
	}
}
