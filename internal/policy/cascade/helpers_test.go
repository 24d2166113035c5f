package cascade

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/trace"
)

// fakeModel is an in-memory provider answering with a fixed text, whole or
// as a stream of small chunks followed by a usage chunk.
type fakeModel struct {
	text string
	err  error // every call fails with it
	// hangAfter > 0 makes a stream block after that many chunks until
	// its context ends.
	hangAfter int
	// breakAfter > 0 makes a stream fail after that many chunks.
	breakAfter int
	// chunk is the stream's chunk size in bytes; default 8.
	chunk int

	calls, opened, closed atomic.Int64
	// sent counts the chunks streams sent; streamLen is the length of the
	// last stream (chunks, usage chunk included).
	sent, streamLen atomic.Int64
	mu              sync.Mutex
	reqs            []*llm.Request
}

func (f *fakeModel) usage() llm.Usage {
	u := llm.Usage{PromptTokens: 10, CompletionTokens: len(f.text)/4 + 1}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func (f *fakeModel) record(req *llm.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
}

func (f *fakeModel) lastRequest() *llm.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

func logprobsFor(text string) *llm.Logprobs {
	lp := &llm.Logprobs{}
	for _, w := range strings.Fields(text) {
		lp.Content = append(lp.Content, llm.TokenLogprob{Token: w, Logprob: -0.1})
	}
	return lp
}

var errBroken = errors.New("connection reset")

func (f *fakeModel) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.record(req)
	if f.err != nil {
		return nil, f.err
	}
	if f.hangAfter > 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ch := llm.Choice{Message: llm.Message{Role: llm.RoleAssistant, Content: f.text}, FinishReason: llm.FinishStop}
	if req.Logprobs {
		ch.Logprobs = logprobsFor(f.text)
	}
	return &llm.Response{ID: "r", Model: req.Model, Choices: []llm.Choice{ch}, Usage: f.usage()}, nil
}

func (f *fakeModel) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	f.record(req)
	if f.err != nil {
		return nil, f.err
	}
	size := f.chunk
	if size <= 0 {
		size = 8
	}
	var chunks []*llm.Chunk
	for i := 0; i < len(f.text); i += size {
		part := f.text[i:min(i+size, len(f.text))]
		cc := llm.ChunkChoice{Delta: llm.Delta{Content: part}}
		if req.Logprobs {
			cc.Logprobs = logprobsFor(part)
		}
		chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{cc}})
	}
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{{FinishReason: llm.FinishStop}}})
	u := f.usage()
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{}, Usage: &u})
	f.opened.Add(1)
	f.streamLen.Store(int64(len(chunks)))
	return &fakeStream{ctx: ctx, f: f, chunks: chunks}, nil
}

type fakeStream struct {
	ctx    context.Context
	f      *fakeModel
	chunks []*llm.Chunk
	next   int
	once   sync.Once
}

func (s *fakeStream) Recv() (*llm.Chunk, error) {
	if s.f.hangAfter > 0 && s.next >= s.f.hangAfter {
		<-s.ctx.Done()
		return nil, s.ctx.Err()
	}
	if s.f.breakAfter > 0 && s.next >= s.f.breakAfter {
		return nil, errBroken
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	ch := s.chunks[s.next]
	s.next++
	s.f.sent.Add(1)
	return ch, nil
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { s.f.closed.Add(1) })
	return nil
}

// env is a fleet of fake models behind the real executor, and a builder
// that builds tiers as model nodes.
type env struct {
	models map[string]*fakeModel
	cat    map[string]*catalog.Model
	exec   *executor.Executor
}

func newEnv(models map[string]*fakeModel) *env {
	e := &env{models: models, cat: map[string]*catalog.Model{}}
	targets := map[string]executor.Target{}
	for name, f := range models {
		price := catalog.Price{Input: catalog.RateFromUSD(0.25), Output: catalog.RateFromUSD(0.25)}
		if strings.HasPrefix(name, "strong") {
			price = catalog.Price{Input: catalog.RateFromUSD(10), Output: catalog.RateFromUSD(30)}
		}
		m := &catalog.Model{Name: name, Provider: "fake", Upstream: name, Price: price,
			Capabilities: map[catalog.Capability]bool{catalog.CapLogprobs: true}}
		e.cat[name] = m
		targets[name] = executor.Target{Model: m, Provider: f}
	}
	e.exec = executor.New(targets, executor.Options{MaxRetries: -1, Rand: func() float64 { return 0 }})
	return e
}

func (e *env) HasModel(name string) bool { _, ok := e.cat[name]; return ok }

func (e *env) Model(name string) (*catalog.Model, bool) { m, ok := e.cat[name]; return m, ok }

func (e *env) Path(p string) string { return p }

// Build builds model names and {model: ...} blocks, the only subtrees the
// tests need.
func (e *env) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		if inner, ok := m["model"]; ok && len(m) == 1 {
			return model.New(e, conf.Join(path, "model"), inner)
		}
		return nil, conf.Errorf(path, "the test builder builds model names only")
	}
	return model.New(e, path, raw)
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	n, err := New(e, "routes.r.cascade", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n.(*Node)
}

func (e *env) call(stream bool) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser, Content: "what is 2+2?"}}, Stream: stream},
		Exec:    e.exec,
		Trace:   trace.New(time.Now()),
		Caller:  policy.Caller{Tier: "free"},
	}
}

// testGate is a gate kind for these tests, registered as "test":
//
//	scores:  the score of each answering model (default 1)
//	forbid:  score 0 when the text holds this; judges prefixes (a hit is final)
//	require: score 1 only when the text holds this; judges prefixes (a hit is final)
//	prefix:  judge prefixes by scores too (otherwise skip them)
//	error:   fail to run
//	skip:    never judge
//	logprobs: prepare the request to ask for logprobs
//	block:   wait for the end of the context
type testGate struct {
	gate.Base
	cfg testGateConfig
}

type testGateConfig struct {
	gate.Common
	Scores   map[string]float64 `json:"scores"`
	Forbid   string             `json:"forbid"`
	Require  string             `json:"require"`
	Prefix   bool               `json:"prefix"`
	Error    bool               `json:"error"`
	Skip     bool               `json:"skip"`
	Logprobs bool               `json:"logprobs"`
	Block    bool               `json:"block"`
}

// checks counts Check calls on test gates, for the prefix tests.
var checks atomic.Int64

func init() {
	gate.Register("test", func(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
		var cfg testGateConfig
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		base, err := cfg.Common.Base(path, "test", 0.5)
		if err != nil {
			return nil, err
		}
		return &testGate{Base: base, cfg: cfg}, nil
	})
}

var errGate = errors.New("the gate broke")

func (g *testGate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	checks.Add(1)
	text := a.Text()
	switch {
	case g.cfg.Block:
		<-ctx.Done()
		return gate.Verdict{}, ctx.Err()
	case g.cfg.Error:
		return gate.Verdict{}, errGate
	case g.cfg.Skip:
		return g.Skip(c, "never judges"), nil
	case g.cfg.Forbid != "":
		if strings.Contains(text, g.cfg.Forbid) {
			return g.Verdict(c, 0, "says "+g.cfg.Forbid), nil
		}
		if a.Partial {
			return g.Skip(c, "not seen yet"), nil
		}
		return g.Verdict(c, 1, "clean"), nil
	case g.cfg.Require != "":
		if strings.Contains(text, g.cfg.Require) {
			return g.Verdict(c, 1, "says "+g.cfg.Require), nil
		}
		if a.Partial {
			return g.Skip(c, "not seen yet"), nil
		}
		return g.Verdict(c, 0, "missing "+g.cfg.Require), nil
	}
	if a.Partial && !g.cfg.Prefix {
		return g.Skip(c, "judges whole answers"), nil
	}
	score := 1.0
	if s, ok := g.cfg.Scores[a.Model]; ok {
		score = s
	}
	return g.Verdict(c, score, "scored by model"), nil
}

func (g *testGate) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	if !g.cfg.Logprobs || req.Logprobs {
		return req
	}
	r := req.Clone()
	r.Logprobs = true
	return r
}

// drain reads a stream to its end and returns its text.
func drain(t testing.TB, s llm.Stream) (string, []*llm.Chunk) {
	t.Helper()
	var b strings.Builder
	var chunks []*llm.Chunk
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		chunks = append(chunks, ch)
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return b.String(), chunks
}

// decisions returns the trace's decisions of kind, as "decision@node".
func decisions(tr *trace.Trace, kind string) []string {
	var out []string
	for _, d := range tr.Snapshot().Decisions {
		if d.Kind == kind {
			out = append(out, d.Decision+"@"+d.Node)
		}
	}
	return out
}

// checkLedger checks that every attempt is finished (none pending) and
// that the trace's total cost is the sum of each model's calls, each
// counted once.
func checkLedger(t *testing.T, tr *trace.Trace, wantCalls map[string]int) {
	t.Helper()
	v := tr.Snapshot()
	got := map[string]int{}
	var sum catalog.Micros
	for _, a := range v.Attempts {
		got[a.Model]++
		sum += a.CostMicros
		if a.Outcome == trace.OutcomePending {
			t.Errorf("attempt on %s still pending: its usage was never counted", a.Model)
		}
		if a.Outcome != trace.OutcomeError && a.CostMicros <= 0 {
			t.Errorf("attempt on %s cost %d, want it paid for", a.Model, a.CostMicros)
		}
	}
	for m, n := range wantCalls {
		if got[m] != n {
			t.Errorf("%d attempts on %s, want %d (attempts %+v)", got[m], m, n, v.Attempts)
		}
	}
	if _, total := tr.Totals(); total != sum {
		t.Errorf("total cost %d, sum of attempts %d", total, sum)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
