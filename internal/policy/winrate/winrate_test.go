package winrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// fixture holds synthetic models trained in a temporary directory.
type fixture struct {
	dir  string
	text *learn.Model // win.json: labels mid-upstream, strong, weak-upstream
	b    *ct.Builder
	exec *ct.Exec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	path, _ := ct.Train(t, dir, "win.json", learn.KindWinrate, 160, false)
	m, err := learn.Load(path) // as the node sees it (weights quantized in the file)
	if err != nil {
		t.Fatal(err)
	}
	ct.Train(t, dir, "vec.json", learn.KindWinrate, 160, true)
	ct.Train(t, dir, "cls.json", learn.KindClassifier, 60, false)
	b := ct.NewBuilder(dir)
	return &fixture{dir: dir, text: m, b: b, exec: &ct.Exec{Models: b.Models}}
}

func (f *fixture) build(t *testing.T, cfg string) *Node {
	t.Helper()
	n, err := New(f.b, "routes.r.winrate", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n.(*Node)
}

func (f *fixture) call(text string) *policy.Call {
	return &policy.Call{Request: ct.Request(text), Exec: f.exec, Trace: trace.New(time.Now())}
}

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

// predict is the model's P(good) for text, computed without the node.
func (f *fixture) predict(text string) map[string]float64 {
	req := ct.Request(text)
	ex := learn.RequestExample(req, features.Extract(req))
	p := f.text.Predict(context.Background(), &ex)
	out := map[string]float64{}
	for i, l := range f.text.Labels() {
		out[l] = p[i]
	}
	return out
}

func TestWinrateChoosesCheapestQualifying(t *testing.T) {
	f := newFixture(t)
	for _, thr := range []float64{0, 0.2, 0.4, 0.5, 0.6, 0.8, 0.95, 1} {
		// Config order is not price order: the node sorts.
		n := f.build(t, fmt.Sprintf(`{"model":"win.json","candidates":["strong","cheap","mid"],"threshold":%v}`, thr))
		for i := 2000; i < 2016; i++ {
			text, _ := ct.Text(i)
			p := f.predict(text)
			want := "strong"
			switch {
			case p["weak-upstream"] >= thr:
				want = "cheap"
			case p["mid-upstream"] >= thr:
				want = "mid"
			}
			got, d := serve(t, n, f.call(text))
			if got != want || d.Decision != want || d.Kind != "winrate" {
				t.Errorf("threshold %v, %q (p=%v): served %s (decision %s), want %s", thr, text, p, got, d.Decision, want)
			}
		}
	}
}

// The synthetic data make the cheap model good on easy requests only, so
// a middling threshold separates them.
func TestWinrateSeparatesEasyFromHard(t *testing.T) {
	f := newFixture(t)
	n := f.build(t, `{"model":"win.json","candidates":["cheap","strong"],"threshold":0.5}`)
	for i := 3000; i < 3020; i++ {
		text, hard := ct.Text(i)
		got, _ := serve(t, n, f.call(text))
		if want := map[bool]string{false: "cheap", true: "strong"}[hard]; got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

func TestWinrateTrace(t *testing.T) {
	f := newFixture(t)
	n := f.build(t, `{"model":"win.json","candidates":["cheap",{"model":"mid","label":"mid-upstream"},"strong"],"threshold":0.99}`)
	text, _ := ct.Text(3001) // hard
	p := f.predict(text)
	_, d := serve(t, n, f.call(text))
	if d.Node != "routes.r.winrate" || d.Decision != "strong" || !strings.Contains(d.Reason, "no cheaper candidate reaches threshold 0.99") {
		t.Errorf("decision %+v", d)
	}
	if d.Data["model"] != "win.json" || d.Data["threshold"] != 0.99 || d.Data["chosen"] != "strong" {
		t.Errorf("data %v", d.Data)
	}
	cands := d.Data["candidates"].([]map[string]any)
	if len(cands) != 3 {
		t.Fatalf("candidates %v", cands)
	}
	for i, want := range []struct {
		model, label string
	}{{"cheap", "weak-upstream"}, {"mid", "mid-upstream"}, {"strong", "strong"}} {
		c := cands[i]
		if c["model"] != want.model || c["label"] != want.label || c["p"] != p[want.label] {
			t.Errorf("candidate %d: %v, want %s/%s p=%v", i, c, want.model, want.label, p[want.label])
		}
	}
	if cands[0]["price_per_mtok"] != 0.48 || cands[2]["price_per_mtok"] != 40.0 {
		t.Errorf("prices %v %v", cands[0]["price_per_mtok"], cands[2]["price_per_mtok"])
	}
}

func TestWinrateStrongestNeedsNoLabel(t *testing.T) {
	f := newFixture(t)
	opus := *f.b.Models["strong"]
	opus.Name, opus.Upstream = "opus", "not-in-the-data"
	f.b.Models["opus"] = &opus
	n := f.build(t, `{"model":"win.json","candidates":["cheap","opus"],"threshold":1}`)
	text, _ := ct.Text(3001)
	got, d := serve(t, n, f.call(text))
	if got != "opus" {
		t.Errorf("served %s", got)
	}
	cands := d.Data["candidates"].([]map[string]any)
	if _, ok := cands[1]["p"]; ok {
		t.Errorf("unlabelled strongest has a probability: %v", cands[1])
	}
}

func TestWinrateEmbedding(t *testing.T) {
	f := newFixture(t)
	n := f.build(t, `{"model":{"file":"vec.json"},"candidates":["cheap","strong"]}`)
	easy, _ := ct.Text(3000)
	if got, _ := serve(t, n, f.call(easy)); got != "cheap" {
		t.Errorf("easy request served by %s", got)
	}
	if len(f.exec.Embeds) != 1 || f.exec.Embeds[0] != easy {
		t.Errorf("embedded %q", f.exec.Embeds)
	}
	// Without an embedding there is no prediction: the strongest serves.
	f.exec.EmbedErr = errors.New("embeddings down")
	got, d := serve(t, n, f.call(easy))
	if got != "strong" || !strings.Contains(d.Reason, "no prediction, so the strongest: embed the request with embed: embeddings down") {
		t.Errorf("served %s, decision %+v", got, d)
	}
}

func TestWinrateCanceled(t *testing.T) {
	f := newFixture(t)
	f.exec.EmbedErr = context.Canceled
	n := f.build(t, `{"model":"vec.json","candidates":["cheap","strong"]}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Serve(ctx, f.call("hi")); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if len(f.exec.Calls) != 0 {
		t.Errorf("called %v after cancel", f.exec.Calls)
	}
}

func TestWinrateConfigErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, cfg, want string }{
		{"no model", `{"candidates":["cheap","strong"]}`, "routes.r.winrate.model: required"},
		{"missing file", `{"model":"nope.json","candidates":["cheap","strong"]}`, "routes.r.winrate.model.file: learn: open"},
		{"classifier file", `{"model":"cls.json","candidates":["cheap","strong"]}`, "routes.r.winrate.model.file: cls.json is a classifier model, want a winrate model"},
		{"one candidate", `{"model":"win.json","candidates":["strong"]}`, "routes.r.winrate.candidates: at least two"},
		{"unknown candidate", `{"model":"win.json","candidates":["cheap","gpt-5"]}`, `routes.r.winrate.candidates[1]: unknown model "gpt-5"`},
		{"twice", `{"model":"win.json","candidates":["cheap","cheap"]}`, `routes.r.winrate.candidates[1]: model "cheap" is a candidate twice`},
		{"bad label", `{"model":"win.json","candidates":[{"model":"cheap","label":"llama"},"strong"]}`, `routes.r.winrate.candidates[0].label: "llama" is not a label of win.json (labels: mid-upstream, strong, weak-upstream)`},
		{"object without model", `{"model":"win.json","candidates":[{"label":"strong"},"strong"]}`, "routes.r.winrate.candidates[0].model: required"},
		{"bad route", `{"model":"win.json","candidates":[{"model":"cheap","route":{"x":1}},"strong"]}`, "routes.r.winrate.candidates[0].route: test builder"},
		{"threshold", `{"model":"win.json","candidates":["cheap","strong"],"threshold":1.2}`, "routes.r.winrate.threshold: must be in [0,1], got 1.2"},
		{"unknown field", `{"model":"win.json","candidates":["cheap","strong"],"margin":1}`, "routes.r.winrate.margin: unknown field"},
		{"candidate field", `{"model":"win.json","candidates":[{"model":"cheap","weight":1},"strong"]}`, "routes.r.winrate.candidates[0].weight: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(f.b, "routes.r.winrate", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A candidate that matches no label is an error unless it is the
// strongest, and the error points at the candidate as configured.
func TestWinrateUnlabelledCandidate(t *testing.T) {
	f := newFixture(t)
	m := *f.b.Models["mid"]
	m.Name, m.Upstream = "other", "other-upstream"
	f.b.Models["other"] = &m
	_, err := New(f.b, "routes.r.winrate", json.RawMessage(`{"model":"win.json","candidates":["strong","other","cheap"]}`))
	want := `routes.r.winrate.candidates[1]: model "other" (upstream "other-upstream") is not a label of win.json`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestWinrateKnob(t *testing.T) {
	s, ok := knob.Lookup("winrate")
	if !ok || s.Field != "threshold" || s.Min != 0 || s.Max != 1 {
		t.Fatalf("knob %+v %v", s, ok)
	}
	if len(s.Default) != 101 || s.Default[1] != 0.01 || s.Default[100] != 1 {
		t.Errorf("sweep %v", s.Default)
	}
	f := newFixture(t)
	route, err := s.Set(json.RawMessage(`{"winrate":{"model":"win.json","candidates":["cheap","strong"]}}`), 0.37)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	json.Unmarshal(route, &top)
	if n := f.build(t, string(top["winrate"])); n.threshold != 0.37 {
		t.Errorf("threshold %v", n.threshold)
	}
}
