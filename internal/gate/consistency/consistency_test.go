package consistency

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var models = map[string]*catalog.Model{
	"small": gatetest.Model("small", "openai"),
	"sim":   gatetest.Model("sim", "sim"),
	"emb":   gatetest.Model("emb", "openai", catalog.CapEmbeddings),
}

func build(t testing.TB, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{Models: models}, "g", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{
		{`{"consistency":{"samples":0}}`, "g.consistency.samples: must be in [1,16]"},
		{`{"consistency":{"model":"nope"}}`, `g.consistency.model: unknown model "nope"`},
		{`{"consistency":{"sampling":"batch"}}`, "g.consistency.sampling: unknown value"},
		{`{"consistency":{"inline":true,"sampling":"parallel"}}`, "g.consistency.inline:"},
		{`{"consistency":{"temperature":3}}`, "g.consistency.temperature: must be in [0,2]"},
		{`{"consistency":{"compare":"vote"}}`, "g.consistency.compare: unknown value"},
		{`{"consistency":{"compare":"embedding"}}`, "g.consistency.embedding_model: required"},
		{`{"consistency":{"compare":"embedding","embedding_model":"small"}}`, "does not have the embeddings capability"},
		{`{"consistency":{"compare":"final","embedding_model":"emb"}}`, "only used with compare: embedding"},
		{`{"consistency":{"similarity":2}}`, "g.consistency.similarity: must be in [-1,1]"},
		{`{"consistency":{"max_tokens":0}}`, "g.consistency.max_tokens: must be at least 1"},
	} {
		if _, err := gate.Build(gatetest.Builder{Models: models}, "g", json.RawMessage(tt.cfg)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// scripted answers each call with the next of answers (cycling); with n it
// returns that many choices.
func scripted(answers ...string) *gatetest.Exec {
	var i atomic.Int32
	return &gatetest.Exec{Models: models, Chat: func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		n := 1
		if req.N != nil {
			n = *req.N
		}
		resp := &llm.Response{}
		for range n {
			k := int(i.Add(1)-1) % len(answers)
			resp.Choices = append(resp.Choices, llm.Choice{Message: llm.Message{Content: answers[k]}})
		}
		return resp, nil
	}}
}

func TestCheckFinal(t *testing.T) {
	tests := []struct {
		name     string
		cfg      string
		model    string
		answers  []string
		score    float64
		pass     bool
		calls    int
		majority float64
	}{
		{"all agree with n", `"consistency"`, "small", []string{"so #### 42", "It is 42.", "The answer is 42", "42"}, 1, true, 1, 1},
		{"half agree parallel", `"consistency"`, "sim", []string{"#### 42", "#### 41"}, 0.5, true, 4, 0.6},
		{"majority elsewhere", `{"consistency":{"samples":3,"threshold":0.6}}`, "sim", []string{"#### 7"}, 0, false, 3, 0.75},
		{"forced parallel", `{"consistency":{"sampling":"parallel","samples":2}}`, "small", []string{"42"}, 1, true, 2, 1},
		{"other model", `{"consistency":{"model":"sim","samples":2}}`, "small", []string{"42"}, 1, true, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			exec := scripted(tt.answers...)
			c := gatetest.Call("what is 6*7?", "", exec)
			a := gatetest.Answer(c, "6 * 7 = 42\n#### 42")
			a.Model = tt.model
			v, err := g.Check(context.Background(), c, a)
			if err != nil {
				t.Fatal(err)
			}
			if abs(v.Score-tt.score) > 1e-9 || v.Pass != tt.pass || exec.Calls() != tt.calls || abs(v.Metrics["majority_share"]-tt.majority) > 1e-9 {
				t.Fatalf("verdict %+v after %d calls; want score %v pass %v calls %d", v, exec.Calls(), tt.score, tt.pass, tt.calls)
			}
			for _, r := range exec.Requests {
				if r.Temperature == nil || *r.Temperature != DefaultTemperature || r.Stream {
					t.Fatalf("sample request %+v", r)
				}
			}
		})
	}
}

func TestInlineSamples(t *testing.T) {
	g := build(t, `{"consistency":{"inline":true,"samples":2}}`)
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "q"}}}
	r := gate.Prepare(g, models["small"], req)
	if r.N == nil || *r.N != 3 || r.Temperature == nil || req.N != nil {
		t.Fatalf("prepared %+v", r)
	}
	if gate.Prepare(g, models["sim"], req) != req {
		t.Fatal("asked a model without n for n")
	}
	exec := scripted("never")
	c := gatetest.Call("q", "", exec)
	a := gatetest.Answer(c, "#### 5")
	a.Response.Choices = append(a.Response.Choices, llm.Choice{Message: llm.Message{Content: "#### 5"}}, llm.Choice{Message: llm.Message{Content: "#### 6"}})
	v, err := g.Check(context.Background(), c, a)
	if err != nil || v.Score != 0.5 || exec.Calls() != 0 {
		t.Fatalf("verdict %+v, %v after %d calls", v, err, exec.Calls())
	}
}

func TestNRefusedFallsBackToParallel(t *testing.T) {
	g := build(t, `{"consistency":{"samples":2}}`)
	exec := scripted("42")
	inner := exec.Chat
	exec.Chat = func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		if req.N != nil {
			return nil, &llm.Error{Status: http.StatusBadRequest, Class: llm.ClassUnsupported, Message: "no n"}
		}
		return inner(ctx, model, req)
	}
	c := gatetest.Call("q", "", exec)
	a := gatetest.Answer(c, "#### 42")
	v, err := g.Check(context.Background(), c, a)
	if err != nil || v.Score != 1 || exec.Calls() != 3 {
		t.Fatalf("verdict %+v, %v after %d calls", v, err, exec.Calls())
	}
	// With sampling: n the refusal is the gate's error.
	g = build(t, `{"consistency":{"samples":2,"sampling":"n"}}`)
	if _, err := g.Check(context.Background(), c, a); err == nil {
		t.Fatal("n refused but no error")
	}
}

func TestFailedSamples(t *testing.T) {
	g := build(t, `{"consistency":{"samples":4}}`)
	var calls atomic.Int32
	exec := &gatetest.Exec{Models: models, Chat: func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		if calls.Add(1)%2 == 0 {
			return nil, errors.New("upstream 503")
		}
		return gatetest.Response("#### 1", ""), nil
	}}
	c := gatetest.Call("q", "", exec)
	a := gatetest.Answer(c, "#### 1")
	a.Model = "sim"
	v, err := g.Check(context.Background(), c, a)
	if err != nil || v.Metrics["samples"] != 2 || v.Score != 1 {
		t.Fatalf("half failed: %+v, %v", v, err)
	}
	exec.Chat = func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		return nil, errors.New("upstream 503")
	}
	if _, err := g.Check(context.Background(), c, a); err == nil || !strings.Contains(err.Error(), "4 of 4 samples failed") {
		t.Fatalf("err = %v", err)
	}
}

func TestCanceled(t *testing.T) {
	g := build(t, `{"consistency":{"samples":4}}`)
	exec := &gatetest.Exec{Models: models, Chat: func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	c := gatetest.Call("q", "", exec)
	a := gatetest.Answer(c, "#### 1")
	a.Model = "sim"
	done := make(chan error)
	go func() { _, err := g.Check(ctx, c, a); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestEmbeddingCompare(t *testing.T) {
	g := build(t, `{"consistency":{"samples":3,"compare":"embedding","embedding_model":"emb","similarity":0.95}}`)
	exec := scripted("Paris is the capital.", "It's Paris.", "Lyon, I think.")
	exec.Embeds = func(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		if model != "emb" {
			t.Errorf("embedded with %s", model)
		}
		vs := make([][]float32, len(req.Input))
		for i, s := range req.Input {
			if strings.Contains(s, "Paris") {
				vs[i] = []float32{1, 0.1}
			} else {
				vs[i] = []float32{0, 1}
			}
		}
		return &llm.EmbedResponse{Vectors: vs}, nil
	}
	c := gatetest.Call("capital of France?", "", exec)
	a := gatetest.Answer(c, "The capital of France is Paris.")
	a.Model = "sim"
	v, err := g.Check(context.Background(), c, a)
	if err != nil || abs(v.Score-2.0/3) > 1e-9 || !v.Pass {
		t.Fatalf("verdict %+v, %v", v, err)
	}
}

func TestPartialSkips(t *testing.T) {
	g := build(t, `"consistency"`)
	c := gatetest.Call("q", "", scripted("x"))
	a := gatetest.Answer(c, "so far")
	a.Partial = true
	if v, _ := g.Check(context.Background(), c, a); !v.Skipped {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSupportsN(t *testing.T) {
	m := gatetest.Model("x", "anthropic")
	if SupportsN(m) || !SupportsN(models["small"]) || SupportsN(nil) {
		t.Fatal("provider defaults")
	}
	m.Labels = map[string]string{"supports_n": "true"}
	if !SupportsN(m) {
		t.Fatal("label ignored")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
