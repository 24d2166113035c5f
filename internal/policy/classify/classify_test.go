package classify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

type fixture struct {
	b    *ct.Builder
	exec *ct.Exec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ct.Train(t, dir, "cls.json", learn.KindClassifier, 120, false)
	ct.Train(t, dir, "vec.json", learn.KindClassifier, 120, true)
	ct.Train(t, dir, "win.json", learn.KindWinrate, 40, false)
	b := ct.NewBuilder(dir)
	return &fixture{b: b, exec: &ct.Exec{Models: b.Models}}
}

func (f *fixture) build(t *testing.T, cfg string) *Node {
	t.Helper()
	n, err := New(f.b, "routes.r.classify", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n.(*Node)
}

func (f *fixture) call(msgs ...llm.Message) *policy.Call {
	return &policy.Call{Request: &llm.Request{Messages: msgs}, Exec: f.exec, Trace: trace.New(time.Now())}
}

func user(text string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: text} }

func serve(t *testing.T, n *Node, c *policy.Call) (string, trace.Decision) {
	t.Helper()
	out, err := n.Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Trace.Snapshot().Decisions
	if len(d) != 1 {
		t.Fatalf("%d decisions", len(d))
	}
	return out.Model, d[0]
}

func TestClassifyRoutes(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("Explain how a compiler turns source into machine code, step by step, and why each stage exists. ", 30)
	tests := []struct {
		name, cfg string
		msgs      []llm.Message
		model     string // served
		route     string // decision
		label     string
	}{
		{"rules: simple", `{"classifier":{"rules":{}},"routes":{"simple":"cheap","complex":"strong"}}`,
			[]llm.Message{user("What is the capital of France?")}, "cheap", "simple", "simple"},
		{"rules: complex", `{"classifier":{"rules":{}},"routes":{"simple":"cheap","complex":"strong"}}`,
			[]llm.Message{user(long)}, "strong", "complex", "complex"},
		{"unmapped label to the default fallback, the most expensive route", `{"classifier":{"rules":{"preset":"domain"}},"routes":{"code":"mid","general":"cheap"}}`,
			[]llm.Message{user("Write a poem and an essay about the sea.")}, "mid", FallbackRoute, "writing"},
		{"explicit fallback", `{"classifier":{"rules":{"preset":"domain"}},"routes":{"general":"cheap"},"fallback":"strong"}`,
			[]llm.Message{user("Write a poem and an essay about the sea.")}, "strong", FallbackRoute, "writing"},
		{"below min_confidence", `{"classifier":{"rules":{}},"routes":{"simple":"cheap","complex":"mid"},"min_confidence":0.99,"fallback":"strong"}`,
			[]llm.Message{user("What is the capital of France?")}, "strong", FallbackRoute, "simple"},
		{"min_confidence 0 keeps every label", `{"classifier":{"rules":{}},"routes":{"simple":"cheap","complex":"strong"},"min_confidence":0}`,
			[]llm.Message{user("Solve 3x + 2 = 11 step by step, then explain why.")}, "", "", ""},
		{"learned text model: easy", `{"classifier":{"model":"cls.json"},"routes":{"easy":"cheap","hard":"strong"}}`,
			[]llm.Message{user("Question 5000 about the weather please.")}, "cheap", "easy", "easy"},
		{"learned text model: hard", `{"classifier":{"model":"cls.json"},"routes":{"easy":"cheap","hard":"strong"}}`,
			[]llm.Message{user("Question 5001 about the theorem please.")}, "strong", "hard", "hard"},
		{"embedding model", `{"classifier":{"model":{"file":"vec.json","embed_model":"embed"}},"routes":{"easy":"cheap","hard":"strong"},"min_confidence":0.5}`,
			[]llm.Message{user("Question 5001 about the theorem please.")}, "strong", "hard", "hard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := f.build(t, tt.cfg)
			got, d := serve(t, n, f.call(tt.msgs...))
			if d.Kind != "classify" || d.Node != "routes.r.classify" {
				t.Errorf("decision %+v", d)
			}
			if tt.route == "" { // the label's own route, whatever it is
				if d.Decision != d.Data["label"] {
					t.Errorf("min_confidence 0 fell back: %+v", d)
				}
				return
			}
			if got != tt.model || d.Decision != tt.route || d.Data["label"] != tt.label || d.Data["route"] != tt.route {
				t.Errorf("served %s, decision %s (label %v): want %s, %s (label %s); reason %s", got, d.Decision, d.Data["label"], tt.model, tt.route, tt.label, d.Reason)
			}
			probs := d.Data["probs"].(map[string]float64)
			if p := d.Data["prob"].(float64); probs[tt.label] != p || p <= 0 || p > 1 {
				t.Errorf("prob %v, probs %v", p, probs)
			}
			if d.Data["classifier"] == "" || d.Reason == "" {
				t.Errorf("decision lacks classifier or reason: %+v", d)
			}
		})
	}
}

func TestClassifyReasons(t *testing.T) {
	f := newFixture(t)
	n := f.build(t, `{"classifier":{"rules":{}},"routes":{"simple":"cheap","complex":"strong"},"min_confidence":0.99,"fallback":"mid"}`)
	_, d := serve(t, n, f.call(user("What is the capital of France?")))
	want := "below min_confidence 0.99, so fallback mid; simple score 0.00 = bias 0.00"
	if !strings.Contains(d.Reason, want) {
		t.Errorf("reason %q, want it to contain %q", d.Reason, want)
	}
	if d.Data["classifier"] != "rules:complexity" || d.Data["min_confidence"] != 0.99 {
		t.Errorf("data %v", d.Data)
	}
}

func TestClassifyClassifierFailureFallsBack(t *testing.T) {
	f := newFixture(t)
	f.exec.EmbedErr = errors.New("embeddings down")
	n := f.build(t, `{"classifier":{"model":"vec.json"},"routes":{"easy":"cheap","hard":"mid"},"fallback":"strong"}`)
	got, d := serve(t, n, f.call(user("Question 5000 about the weather please.")))
	if got != "strong" || d.Decision != FallbackRoute || !strings.Contains(d.Reason, "no classification: embed the request with embed: embeddings down") {
		t.Errorf("served %s, decision %+v", got, d)
	}
	// A canceled request stops there.
	f.exec.EmbedErr = context.Canceled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := len(f.exec.Calls)
	if _, err := n.Serve(ctx, f.call(user("hi"))); !errors.Is(err, context.Canceled) || len(f.exec.Calls) != calls {
		t.Errorf("err = %v, calls %v", err, f.exec.Calls[calls:])
	}
}

func TestClassifyConfigErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, cfg, want string }{
		{"no classifier", `{"routes":{"simple":"cheap"}}`, "routes.r.classify.classifier: required"},
		{"bad classifier", `{"classifier":{"oracle":{}},"routes":{"simple":"cheap"}}`, `routes.r.classify.classifier.oracle: unknown classifier`},
		{"classifier error", `{"classifier":{"rules":{"preset":"vibes"}},"routes":{"simple":"cheap"}}`, "routes.r.classify.classifier.rules.preset: unknown preset"},
		{"no routes", `{"classifier":{"rules":{}}}`, "routes.r.classify.routes: required: a mapping from labels (simple, complex) to routes"},
		{"unknown label", `{"classifier":{"rules":{"preset":"domain"}},"routes":{"maths":"cheap"}}`,
			`routes.r.classify.routes.maths: "maths" is not a label of rules:domain (labels: general, code, math, writing)`},
		{"bad route", `{"classifier":{"rules":{}},"routes":{"simple":"gpt-9"}}`, `routes.r.classify.routes.simple: unknown model "gpt-9"`},
		{"min_confidence", `{"classifier":{"rules":{}},"routes":{"simple":"cheap"},"min_confidence":-0.1}`, "routes.r.classify.min_confidence: must be in [0,1]"},
		{"bad fallback", `{"classifier":{"rules":{}},"routes":{"simple":"cheap"},"fallback":"gpt-9"}`, `routes.r.classify.fallback: unknown model "gpt-9"`},
		{"subtree route needs a fallback", `{"classifier":{"rules":{}},"routes":{"simple":{"fallback":["cheap"]}}}`, "routes.r.classify.fallback: required when a route is not a plain model name"},
		{"winrate file", `{"classifier":{"model":"win.json"},"routes":{"simple":"cheap"}}`, "win.json is a winrate model, want a classifier model"},
		{"unknown field", `{"classifier":{"rules":{}},"routes":{"simple":"cheap"},"threshold":0.5}`, "routes.r.classify.threshold: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(f.b, "routes.r.classify", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestClassifyKnob(t *testing.T) {
	s, ok := knob.Lookup("classify")
	if !ok || s.Field != "min_confidence" || s.Min != 0 || s.Max != 1 || len(s.Default) != 51 {
		t.Fatalf("knob %+v %v", s, ok)
	}
}
