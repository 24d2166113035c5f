package logprob

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

func build(t testing.TB, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{
		{`{"logprob":{"metric":"median"}}`, `g.logprob.metric: unknown metric "median"`},
		{`{"logprob":{"top_logprobs":21}}`, "g.logprob.top_logprobs: must be in [0,20]"},
		{`{"logprob":{"metric":"margin","top_logprobs":1}}`, "needs at least 2"},
		{`{"logprob":{"min_tokens":0}}`, "g.logprob.min_tokens: must be at least 1"},
	} {
		if _, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// answerWith returns an answer of n tokens each with logprob lp and a
// runner-up gap alternatives below.
func answerWith(n int, lp, gap float64) *gate.Answer {
	a := gatetest.Answer(nil, "x")
	l := &llm.Logprobs{}
	for range n {
		l.Content = append(l.Content, llm.TokenLogprob{Token: "t", Logprob: lp,
			TopLogprobs: []llm.TopLogprob{{Token: "t", Logprob: lp}, {Token: "u", Logprob: lp - gap}}})
	}
	a.Response.Choices[0].Logprobs = l
	return a
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		a       *gate.Answer
		score   float64
		pass    bool
		skipped bool
	}{
		{"confident", `"logprob"`, answerWith(20, -0.1, 3), math.Exp(-0.1), true, false},
		{"unsure", `"logprob"`, answerWith(20, -1.5, 0.1), math.Exp(-1.5), false, false},
		{"threshold", `{"logprob":{"threshold":0.2}}`, answerWith(20, -1.5, 0.1), math.Exp(-1.5), true, false},
		{"min metric", `{"logprob":{"metric":"min","threshold":0.3}}`, answerWith(20, -1, 1), math.Exp(-1), true, false},
		{"margin", `{"logprob":{"metric":"margin","threshold":0.9}}`, answerWith(20, -0.1, 3), 1 - math.Exp(-3), true, false},
		{"small margin", `{"logprob":{"metric":"margin"}}`, answerWith(20, -0.1, 0.2), 1 - math.Exp(-0.2), false, false},
		{"no logprobs", `"logprob"`, gatetest.Answer(nil, "x"), 0, false, true},
		{"too few tokens", `"logprob"`, answerWith(3, -0.1, 3), 0, false, true},
		{"few tokens allowed", `{"logprob":{"min_tokens":3}}`, answerWith(3, -0.1, 3), math.Exp(-0.1), true, false},
		{"margin without alternatives", `{"logprob":{"metric":"margin"}}`, func() *gate.Answer {
			a := answerWith(20, -0.1, 3)
			for i := range a.Response.Choices[0].Logprobs.Content {
				a.Response.Choices[0].Logprobs.Content[i].TopLogprobs = nil
			}
			return a
		}(), 0, false, true},
		{"no answer", `"logprob"`, &gate.Answer{}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			v, err := g.Check(context.Background(), gatetest.Call("q", "", nil), tt.a)
			if err != nil {
				t.Fatal(err)
			}
			if v.Skipped != tt.skipped || v.Pass != tt.pass || math.Abs(v.Score-tt.score) > 1e-9 {
				t.Fatalf("verdict %+v; want score %v pass %v skipped %v", v, tt.score, tt.pass, tt.skipped)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	with := gatetest.Model("small", "openai", catalog.CapLogprobs)
	without := gatetest.Model("claude", "anthropic")
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "q"}}}
	mean := build(t, `"logprob"`)
	margin := build(t, `{"logprob":{"metric":"margin","top_logprobs":5}}`)

	if r := gate.Prepare(mean, without, req); r != req {
		t.Fatal("asked a model without logprobs for them")
	}
	r := gate.Prepare(mean, with, req)
	if r == req || !r.Logprobs || r.TopLogprobs != nil || req.Logprobs {
		t.Fatalf("prepared %+v", r)
	}
	if gate.Prepare(mean, with, r) != r {
		t.Fatal("prepared an already prepared request again")
	}
	r = gate.Prepare(margin, with, req)
	if !r.Logprobs || r.TopLogprobs == nil || *r.TopLogprobs != 5 {
		t.Fatalf("prepared %+v", r)
	}
	ten := 10
	asked := &llm.Request{Logprobs: true, TopLogprobs: &ten}
	if gate.Prepare(margin, with, asked) != asked {
		t.Fatal("lowered the client's own top_logprobs")
	}
}

func BenchmarkLogprob(b *testing.B) {
	g := build(b, `{"logprob":{"metric":"margin"}}`)
	a := answerWith(500, -0.3, 1)
	c := gatetest.Call("q", "", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		g.Check(ctx, c, a)
	}
}
