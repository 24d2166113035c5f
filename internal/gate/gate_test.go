package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/policy"
)

// fixed is a test gate kind: {fixed: {score: 0.7, threshold: ..., skip: false, fail: "", logprobs: false}}.
type fixed struct {
	gate.Base
	score    float64
	skip     bool
	err      string
	logprobs bool
	runs     *atomic.Int32
}

var runs atomic.Int32

func init() {
	gate.Register("fixed", func(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
		var cfg struct {
			gate.Common
			Score    float64 `json:"score"`
			Skip     bool    `json:"skip"`
			Err      string  `json:"err"`
			Logprobs bool    `json:"logprobs"`
		}
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		base, err := cfg.Common.Base(path, "fixed", 0.5)
		if err != nil {
			return nil, err
		}
		return &fixed{Base: base, score: cfg.Score, skip: cfg.Skip, err: cfg.Err, logprobs: cfg.Logprobs, runs: &runs}, nil
	})
}

func (f *fixed) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	f.runs.Add(1)
	switch {
	case f.err != "":
		return gate.Verdict{}, errors.New(f.err)
	case f.skip:
		return f.Skip(c, "cannot judge"), nil
	}
	return f.Verdict(c, f.score, "fixed"), nil
}

func (f *fixed) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	if !f.logprobs || req.Logprobs {
		return req
	}
	r := req.Clone()
	r.Logprobs = true
	return r
}

func build(t *testing.T, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{}, "routes.r.cascade.gates", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestBuildErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"empty", `null`, "routes.r.cascade.gates: a gate is required"},
		{"unknown kind", `{"shape":{}}`, `routes.r.cascade.gates.shape: unknown gate kind "shape"`},
		{"unknown kind by name", `"shape"`, `unknown gate kind "shape"`},
		{"two keys", `{"fixed":{},"all":[]}`, "exactly one key"},
		{"number", `3`, "expected a mapping"},
		{"unknown field", `{"fixed":{"scroe":1}}`, "routes.r.cascade.gates.fixed.scroe: unknown field"},
		{"threshold range", `{"fixed":{"threshold":1.5}}`, "routes.r.cascade.gates.fixed.threshold: must be in [0,1], got 1.5"},
		{"threshold type", `{"fixed":{"threshold":"high"}}`, "routes.r.cascade.gates.fixed.threshold: expected a number"},
		{"threshold no default", `{"fixed":{"threshold":{"tiers":{"pro":0.9}}}}`, "threshold.default: required"},
		{"threshold tier range", `{"fixed":{"threshold":{"default":0.5,"tiers":{"pro":2}}}}`, "threshold.tiers.pro: must be in [0,1]"},
		{"peak without load", `{"fixed":{"threshold":{"default":0.5,"peak":0.2}}}`, "threshold.peak_load: required with peak"},
		{"load without peak", `{"fixed":{"threshold":{"default":0.5,"peak_load":3}}}`, "threshold.peak: required with peak_load"},
		{"peak load zero", `{"fixed":{"threshold":{"default":0.5,"peak":0.2,"peak_load":0}}}`, "threshold.peak_load: must be at least 1"},
		{"threshold unknown field", `{"fixed":{"threshold":{"default":0.5,"tier":{}}}}`, "threshold.tier: unknown field"},
		{"empty all", `{"all":[]}`, "routes.r.cascade.gates.all: required: a non-empty list"},
		{"empty all mapping", `{"all":{"gates":[]}}`, "routes.r.cascade.gates.all.gates: required"},
		{"child error path", `{"any":[{"fixed":{}},{"fixed":{"name":"b","bad":1}}]}`, "routes.r.cascade.gates.any[1].fixed.bad: unknown field"},
		{"list child error path", `[{"fixed":{}},{"nope":{}}]`, `routes.r.cascade.gates[1].nope: unknown gate kind`},
		{"duplicate names", `[{"fixed":{}},{"fixed":{}}]`, `routes.r.cascade.gates[1]: two gates are named "fixed"`},
		{"weighted without gates", `{"weighted":{"threshold":0.5}}`, "weighted.gates: required"},
		{"weighted negative weight", `{"weighted":{"gates":[{"gate":"fixed","weight":-1}]}}`, "weighted.gates[0].weight: must be a number"},
		{"weighted zero weights", `{"weighted":{"gates":[{"gate":"fixed","weight":0}]}}`, "positive weight"},
		{"weighted missing gate", `{"weighted":{"gates":[{"weight":1}]}}`, "weighted.gates[0].gate: a gate is required"},
		{"bad name", `{"fixed":{"name":" x"}}`, "fixed.name: must not have leading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gate.Build(gatetest.Builder{}, "routes.r.cascade.gates", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var ce *conf.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err is %T, want *conf.Error", err)
			}
		})
	}
}

func TestThresholdAt(t *testing.T) {
	var th gate.Threshold
	if err := json.Unmarshal([]byte(`{"default":0.7,"tiers":{"premium":0.85,"free":0.6},"peak":0.5,"peak_load":10}`), &th); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tier     string
		inflight int64
		want     float64
	}{
		{"", 0, 0.7}, {"pro", 3, 0.7}, {"premium", 9, 0.85}, {"free", 0, 0.6},
		{"premium", 10, 0.5}, {"", 11, 0.5}, {"free", 100, 0.5},
	}
	for _, tt := range tests {
		if got := th.At(tt.tier, tt.inflight); got != tt.want {
			t.Errorf("At(%q, %d) = %v, want %v", tt.tier, tt.inflight, got, tt.want)
		}
	}
	if s := th.String(); s != "0.7, free 0.6, premium 0.85, 0.5 at 10 in flight" {
		t.Errorf("String = %q", s)
	}
	var nilT *gate.Threshold
	if nilT.At("x", 5) != 0 {
		t.Error("nil threshold is not 0")
	}
}

// TestThresholdFollowsLoad: For reads the process gauge the engine keeps.
func TestThresholdFollowsLoad(t *testing.T) {
	g := build(t, `{"fixed":{"score":0.6,"threshold":{"default":0.7,"tiers":{"free":0.5},"peak":0.55,"peak_load":3}}}`)
	c := gatetest.Call("q", "", nil)
	check := func(tier string, want bool, wantThr float64) {
		t.Helper()
		c.Caller.Tier = tier
		v := gate.Run(context.Background(), c, g, gatetest.Answer(c, "a"))
		if v.Pass != want || v.Threshold != wantThr {
			t.Fatalf("tier %q at load %d: %+v, want pass %v at %v", tier, load.Default.Level(), v, want, wantThr)
		}
	}
	check("", false, 0.7)
	check("free", true, 0.5)
	for range 3 {
		load.Default.Inc()
	}
	defer func() {
		for range 3 {
			load.Default.Dec()
		}
	}()
	check("", true, 0.55)
}

func TestCombinations(t *testing.T) {
	tests := []struct {
		name      string
		cfg       string
		pass      bool
		skipped   bool
		score     float64
		runs      int32
		childSkip []bool
	}{
		{"all pass", `[{"fixed":{"name":"a","score":0.9}},{"fixed":{"name":"b","score":0.7}}]`, true, false, 0.8, 2, []bool{false, false}},
		{"all stops at first fail", `{"all":[{"fixed":{"name":"a","score":0.1}},{"fixed":{"name":"b","score":0.9}}]}`, false, false, 0.1, 1, []bool{false, true}},
		{"all runs every gate without short circuit", `{"all":{"short_circuit":false,"gates":[{"fixed":{"name":"a","score":0.1}},{"fixed":{"name":"b","score":0.9}}]}}`, false, false, 0.5, 2, []bool{false, false}},
		{"all ignores skipped", `[{"fixed":{"name":"a","skip":true}},{"fixed":{"name":"b","score":0.9}}]`, true, false, 0.9, 2, []bool{true, false}},
		{"all skipped", `[{"fixed":{"name":"a","skip":true}},{"fixed":{"name":"b","skip":true}}]`, false, true, 0, 2, []bool{true, true}},
		{"error fails", `[{"fixed":{"name":"a","err":"boom"}},{"fixed":{"name":"b","score":0.9}}]`, false, false, 0, 1, []bool{false, true}},
		{"any stops at first pass", `{"any":[{"fixed":{"name":"a","score":0.9}},{"fixed":{"name":"b","score":0.1}}]}`, true, false, 0.9, 1, []bool{false, true}},
		{"any none", `{"any":[{"fixed":{"name":"a","score":0.2}},{"fixed":{"name":"b","score":0.1}}]}`, false, false, 0.15, 2, []bool{false, false}},
		{"weighted pass", `{"weighted":{"threshold":0.6,"gates":[{"gate":{"fixed":{"name":"a","score":0.9}},"weight":3},{"gate":{"fixed":{"name":"b","score":0.1}}}]}}`, true, false, 0.7, 2, []bool{false, false}},
		{"weighted fail", `{"weighted":{"threshold":0.75,"gates":[{"gate":{"fixed":{"name":"a","score":0.9}},"weight":3},{"gate":{"fixed":{"name":"b","score":0.1}}}]}}`, false, false, 0.7, 2, []bool{false, false}},
		{"weighted skips", `{"weighted":{"gates":[{"gate":{"fixed":{"name":"a","skip":true}},"weight":3},{"gate":{"fixed":{"name":"b","score":0.6}}}]}}`, true, false, 0.6, 2, []bool{true, false}},
		{"nested", `{"any":[{"all":{"name":"inner","gates":[{"fixed":{"name":"a","score":0.9}},{"fixed":{"name":"b","score":0.2}}]}},{"fixed":{"name":"c","score":0.8}}]}`, true, false, 0.675, 3, []bool{false, false}},
		{"by kind name", `["fixed"]`, false, false, 0, 1, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			c := gatetest.Call("q", "", nil)
			runs.Store(0)
			v, err := g.Check(context.Background(), c, gatetest.Answer(c, "a"))
			if err != nil {
				t.Fatal(err)
			}
			if v.Pass != tt.pass || v.Skipped != tt.skipped || abs(v.Score-tt.score) > 1e-9 || runs.Load() != tt.runs {
				t.Fatalf("verdict %+v after %d runs; want pass %v skipped %v score %v runs %d", v, runs.Load(), tt.pass, tt.skipped, tt.score, tt.runs)
			}
			if len(v.Verdicts) != len(tt.childSkip) {
				t.Fatalf("%d child verdicts", len(v.Verdicts))
			}
			for i, ch := range v.Verdicts {
				if ch.Skipped != tt.childSkip[i] {
					t.Errorf("child %d skipped %v: %+v", i, ch.Skipped, ch)
				}
			}
		})
	}
}

func TestErrorVerdict(t *testing.T) {
	g := build(t, `{"fixed":{"err":"upstream down"}}`)
	c := gatetest.Call("q", "", nil)
	if _, err := g.Check(context.Background(), c, gatetest.Answer(c, "a")); err == nil {
		t.Fatal("no error")
	}
	v := gate.Run(context.Background(), c, g, gatetest.Answer(c, "a"))
	if v.Pass || v.Skipped || v.Reason != "error: upstream down" || v.Gate != "fixed" {
		t.Fatalf("verdict %+v", v)
	}
	v = gate.Failed(g, context.Canceled)
	if !strings.HasPrefix(v.Reason, "not finished") {
		t.Fatalf("verdict %+v", v)
	}
}

func TestCanceledCombination(t *testing.T) {
	g := build(t, `[{"fixed":{"name":"a","score":1}},{"fixed":{"name":"b","score":1}}]`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := gatetest.Call("q", "", nil)
	if _, err := g.Check(ctx, c, gatetest.Answer(c, "a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestRecord(t *testing.T) {
	g := build(t, `{"weighted":{"name":"w","threshold":0.5,"gates":[{"gate":{"fixed":{"name":"a","score":0.9}}},{"gate":{"any":{"name":"inner","gates":[{"fixed":{"name":"b","skip":true}}]}}}]}}`)
	c := gatetest.Call("q", "", nil)
	v := gate.Run(context.Background(), c, g, gatetest.Answer(c, "a"))
	gate.Record(c, "routes.r.cascade.tiers[0]", v)
	ds := c.Trace.Snapshot().Decisions
	want := []struct{ gate, decision, parent string }{
		{"a", "pass", "w"}, {"b", "skip", "inner"}, {"inner", "skip", "w"}, {"w", "pass", ""},
	}
	if len(ds) != len(want) {
		t.Fatalf("decisions %+v", ds)
	}
	for i, w := range want {
		d := ds[i]
		if d.Kind != "gate" || d.Node != "routes.r.cascade.tiers[0]" || d.Data["gate"] != w.gate || d.Decision != w.decision {
			t.Errorf("decision %d = %+v, want %+v", i, d, w)
		}
		if p, _ := d.Data["parent"].(string); p != w.parent {
			t.Errorf("decision %d parent %q, want %q", i, p, w.parent)
		}
	}
	if ds[0].Data["threshold"] != 0.5 || ds[0].Data["score"] != 0.9 {
		t.Errorf("data %+v", ds[0].Data)
	}
	if _, ok := ds[2].Data["threshold"]; ok || ds[2].Data["rule"] != "any" {
		t.Errorf("any must record its rule and no threshold: %+v", ds[2].Data)
	}
	if _, err := json.Marshal(ds); err != nil {
		t.Fatalf("decisions do not encode: %v", err)
	}
	gate.Record(nil, "x", v) // no trace: nothing happens
}

func TestPrepare(t *testing.T) {
	g := build(t, `[{"fixed":{"name":"a","logprobs":true}},{"fixed":{"name":"b","logprobs":true}}]`)
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "x"}}}
	m := gatetest.Model("small", "openai", catalog.CapLogprobs)
	out := gate.Prepare(g, m, req)
	if !out.Logprobs || req.Logprobs || out == req {
		t.Fatalf("prepared %+v from %+v", out, req)
	}
	if gate.Prepare(g, nil, req) != req {
		t.Fatal("an unknown model must get the request unchanged")
	}
	plain := build(t, `{"fixed":{}}`)
	if gate.Prepare(plain, m, req) != req {
		t.Fatal("changed by a gate that asks for nothing")
	}
}

func TestStrip(t *testing.T) {
	lp := &llm.Logprobs{Content: []llm.TokenLogprob{{Token: "a", Logprob: -1, TopLogprobs: []llm.TopLogprob{{Token: "a"}, {Token: "b"}, {Token: "c"}}}}}
	resp := &llm.Response{Choices: []llm.Choice{
		{Index: 0, Message: llm.Message{Content: "x"}, Logprobs: lp},
		{Index: 1, Message: llm.Message{Content: "y"}, Logprobs: lp},
	}}
	two, one := 2, 1
	tests := []struct {
		name     string
		client   llm.Request
		choices  int
		logprobs bool
		top      int
		same     bool
	}{
		{"plain client", llm.Request{}, 1, false, 0, false},
		{"client wanted all", llm.Request{N: &two, Logprobs: true, TopLogprobs: intp(3)}, 2, true, 3, true},
		{"client wanted fewer alternatives", llm.Request{N: &two, Logprobs: true, TopLogprobs: &one}, 2, true, 1, false},
		{"client wanted logprobs only", llm.Request{Logprobs: true}, 1, true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := gate.Strip(&tt.client, resp)
			if (out == resp) != tt.same || len(out.Choices) != tt.choices || (out.Choices[0].Logprobs != nil) != tt.logprobs {
				t.Fatalf("Strip = %+v", out)
			}
			if tt.logprobs && len(out.Choices[0].Logprobs.Content[0].TopLogprobs) != tt.top {
				t.Fatalf("top %d", len(out.Choices[0].Logprobs.Content[0].TopLogprobs))
			}
			if len(resp.Choices) != 2 || len(lp.Content[0].TopLogprobs) != 3 {
				t.Fatal("Strip changed its input")
			}
		})
	}
	ch := &llm.Chunk{Choices: []llm.ChunkChoice{{Index: 0, Logprobs: lp}, {Index: 1}}}
	out := gate.StripChunk(&llm.Request{}, ch)
	if len(out.Choices) != 1 || out.Choices[0].Logprobs != nil || len(ch.Choices) != 2 {
		t.Fatalf("StripChunk = %+v", out)
	}
	plain := &llm.Chunk{Choices: []llm.ChunkChoice{{Index: 0}}}
	if gate.StripChunk(&llm.Request{}, plain) != plain {
		t.Fatal("StripChunk copied a chunk with nothing to strip")
	}
}

func TestKindsListed(t *testing.T) {
	ks := strings.Join(gate.Kinds(), ",")
	for _, k := range []string{"all", "any", "weighted", "fixed"} {
		if !strings.Contains(ks, k) {
			t.Errorf("kind %s missing from %s", k, ks)
		}
	}
}

func intp(v int) *int { return &v }

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
