package race

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

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeModel is an in-memory provider: it answers text after delay (the
// time to first chunk for a stream, then gap between chunks), or fails.
type fakeModel struct {
	text  string
	delay time.Duration
	gap   time.Duration
	err   error
	// hangAfter > 0 makes a stream block after that many chunks until its
	// context ends.
	hangAfter int

	calls, canceled, closed atomic.Int64
}

func (f *fakeModel) usage() llm.Usage {
	u := llm.Usage{PromptTokens: 10, CompletionTokens: len(f.text)/4 + 1}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func (f *fakeModel) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		f.canceled.Add(1)
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (f *fakeModel) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.calls.Add(1)
	if err := f.wait(ctx, f.delay); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	ch := llm.Choice{Message: llm.Message{Role: llm.RoleAssistant, Content: f.text}, FinishReason: llm.FinishStop}
	return &llm.Response{ID: "r", Model: req.Model, Choices: []llm.Choice{ch}, Usage: f.usage()}, nil
}

func (f *fakeModel) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	f.calls.Add(1)
	if err := f.wait(ctx, f.delay); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	var chunks []*llm.Chunk
	for i := 0; i < len(f.text); i += 4 {
		part := f.text[i:min(i+4, len(f.text))]
		chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: part}}}})
	}
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{{FinishReason: llm.FinishStop}}})
	u := f.usage()
	chunks = append(chunks, &llm.Chunk{ID: "s", Model: req.Model, Choices: []llm.ChunkChoice{}, Usage: &u})
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
		s.f.canceled.Add(1)
		return nil, s.ctx.Err()
	}
	if s.next > 0 {
		if err := s.f.wait(s.ctx, s.f.gap); err != nil {
			return nil, err
		}
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.next >= len(s.chunks) {
		return nil, io.EOF
	}
	ch := s.chunks[s.next]
	s.next++
	return ch, nil
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { s.f.closed.Add(1) })
	return nil
}

// env is a fleet of fake models behind the real executor.
type env struct {
	models  map[string]*fakeModel
	cat     map[string]*catalog.Model
	exec    *executor.Executor
	signals *signals.Registry
}

func newEnv(models map[string]*fakeModel) *env {
	e := &env{models: models, cat: map[string]*catalog.Model{}, signals: signals.New(signals.Options{})}
	targets := map[string]executor.Target{}
	for name, f := range models {
		price := catalog.Price{Input: catalog.RateFromUSD(1), Output: catalog.RateFromUSD(2)}
		m := &catalog.Model{Name: name, Provider: "fake", Upstream: name, Price: price}
		e.cat[name] = m
		targets[name] = executor.Target{Model: m, Provider: f}
	}
	e.exec = executor.New(targets, executor.Options{MaxRetries: -1, Rand: func() float64 { return 0 }, Signals: e.signals})
	return e
}

func (e *env) HasModel(name string) bool { _, ok := e.cat[name]; return ok }

func (e *env) Model(name string) (*catalog.Model, bool) { m, ok := e.cat[name]; return m, ok }

func (e *env) Path(p string) string { return p }

// Build builds model names and {model: ...} blocks.
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
	n, err := New(e, "routes.r.race", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	rn := n.(*Node)
	if rn.hedge != nil {
		rn.hedge.signals = e.signals
	}
	return rn
}

func (e *env) call(stream bool) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser, Content: "what is 2+2?"}}, Stream: stream},
		Exec:    e.exec,
		Trace:   trace.New(time.Now()),
	}
}

// testGate is registered as "test": an answer scores scores[model]
// (default 1) and passes at 0.5.
type testGate struct {
	gate.Base
	scores map[string]float64
}

func init() {
	gate.Register("test", func(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
		var cfg struct {
			gate.Common
			Scores map[string]float64 `json:"scores"`
		}
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		base, err := cfg.Common.Base(path, "test", 0.5)
		if err != nil {
			return nil, err
		}
		return &testGate{Base: base, scores: cfg.Scores}, nil
	})
}

func (g *testGate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a.Text() == "" {
		return g.Verdict(c, 0, "empty"), nil
	}
	score := 1.0
	if s, ok := g.scores[a.Model]; ok {
		score = s
	}
	return g.Verdict(c, score, "scored by model"), nil
}

// text returns an outcome's text, draining and closing a stream.
func text(t testing.TB, out *policy.Outcome) string {
	t.Helper()
	if out.Response != nil {
		return out.Response.Text()
	}
	var b strings.Builder
	for {
		ch, err := out.Stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
	if err := out.Stream.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return b.String()
}

// decisions returns the trace's race decisions as "decision:candidate".
func decisions(tr *trace.Trace) []string {
	var out []string
	for _, d := range tr.Snapshot().Decisions {
		if d.Kind != "race" {
			continue
		}
		s := d.Decision
		if c, ok := d.Data["candidate"].(string); ok {
			s += ":" + c
		}
		out = append(out, s)
	}
	return out
}

// ledger checks that no attempt is pending, that the total cost is the
// sum of the attempts' (each counted once), and returns the attempts per
// model and their outcomes.
func ledger(t *testing.T, tr *trace.Trace) (calls map[string]int, outcomes map[string]string, cost map[string]catalog.Micros) {
	t.Helper()
	v := tr.Snapshot()
	calls, outcomes, cost = map[string]int{}, map[string]string{}, map[string]catalog.Micros{}
	var sum catalog.Micros
	for _, a := range v.Attempts {
		calls[a.Model]++
		outcomes[a.Model] = a.Outcome
		cost[a.Model] += a.CostMicros
		sum += a.CostMicros
		if a.Outcome == trace.OutcomePending {
			t.Errorf("attempt on %s still pending", a.Model)
		}
	}
	if _, total := tr.Totals(); total != sum {
		t.Errorf("total cost %d, sum of attempts %d", total, sum)
	}
	return calls, outcomes, cost
}
