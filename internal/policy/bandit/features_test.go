package bandit

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/policy"
)

// vec computes x for c, failing the test on a feature error.
func vec(t testing.TB, fs *featureSpec, c *policy.Call) []float64 {
	t.Helper()
	x, err := fs.vector(context.Background(), c)
	if err != nil {
		t.Fatalf("vector: %v", err)
	}
	return x
}

// modelDir holds copies of a builtin winrate model: same.json twice under
// two names with the same bytes, and other.json, another model.
func modelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m, err := learn.Load("builtin:winrate")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"same.json", "copy.json"} {
		if err := m.Save(filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	other, err := learn.Load("builtin:gate")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(filepath.Join(dir, "other.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"format":"nope"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestModelFeatureConfigErrors(t *testing.T) {
	dir := modelDir(t)
	m, _ := learn.Load("builtin:winrate")
	first := m.Labels()[0]
	tests := []struct{ name, features, want string }{
		{"no file", `[{"model":""}]`, "f[0].model: required"},
		{"missing file", `[{"model":"nope.json"}]`, "f[0].model:"},
		{"bad file", `[{"model":"bad.json"}]`, "f[0].model:"},
		{"unknown key", `[{"model":"same.json","lables":["x"]}]`, "f[0]"},
		{"unknown label", `[{"model":"same.json","labels":["nope"]}]`, `f[0].labels[0]: "nope" is not a label`},
		{"empty labels", `[{"model":"same.json","labels":[]}]`, "f[0].labels: list at least one"},
		{"duplicate label", `[{"model":"same.json","labels":["` + first + `","` + first + `"]}]`, "f[0].labels[1]: duplicate label"},
		{"duplicate model", `[{"model":"same.json"},{"model":"same.json"}]`, "f[1]: duplicate feature"},
		{"embed_model on text", `[{"model":{"file":"same.json","embed_model":"e"}}]`, "f[0].model.embed_model:"},
		{"tier and model", `[{"model":"same.json","tier":["a"]}]`, "f[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFeatures(builder{dir: dir}, "f", json.RawMessage(tt.features))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestModelFeatureValues(t *testing.T) {
	dir := modelDir(t)
	m, err := learn.Load("builtin:winrate")
	if err != nil {
		t.Fatal(err)
	}
	labels := m.Labels()
	last := labels[len(labels)-1]
	text := "Prove that the square root of 2 is irrational, step by step."
	c := call(text, "")
	want := m.Predict(context.Background(), &learn.Example{})
	{ // the model's prediction for this request, as the node makes it
		ex := learn.RequestExample(c.Request, c.Features())
		want = m.Predict(context.Background(), &ex)
	}
	logit := func(p float64) float64 { return min(logitClip, max(-logitClip, math.Log(p/(1-p))/logitScale)) }
	tests := []struct {
		name     string
		features string
		want     []float64
	}{
		{"all labels", `[{"model":"same.json"}]`, append([]float64{1}, want...)},
		{"builtin", `[{"model":"builtin:winrate"}]`, append([]float64{1}, want...)},
		{"one label", `[{"model":"same.json","labels":["` + last + `"]}]`, []float64{1, want[len(want)-1]}},
		{"with logit", `[{"model":"same.json","labels":["` + last + `"],"logit":true}]`,
			[]float64{1, want[len(want)-1], logit(want[len(want)-1])}},
		{"after scalars and tier", `["code",{"tier":["pro"]},{"model":{"file":"same.json"},"labels":["` + last + `"]}]`,
			[]float64{1, 0, 0, want[len(want)-1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := parseFeatures(builder{dir: dir}, "f", json.RawMessage(tt.features))
			if err != nil {
				t.Fatal(err)
			}
			if fs.dim != len(tt.want) {
				t.Fatalf("dim = %d, want %d", fs.dim, len(tt.want))
			}
			x := vec(t, fs, call(text, ""))
			for i := range x {
				if math.Abs(x[i]-tt.want[i]) > 1e-12 {
					t.Fatalf("x = %v, want %v", x, tt.want)
				}
			}
		})
	}
}

// A cross-fitted model answers with the fold that never saw the record
// named by the context, so eval's features are out of fold.
func TestModelFeatureCrossFit(t *testing.T) {
	root, _ := filepath.Abs("../../../examples/models")
	m, err := learn.Load(filepath.Join(root, "gsm8k.winrate.json"))
	if err != nil || m.Folds() == 0 {
		t.Skipf("no cross-fitted example model: %v", err)
	}
	fs, err := parseFeatures(builder{dir: root}, "f", json.RawMessage(`[{"model":"gsm8k.winrate.json"}]`))
	if err != nil {
		t.Fatal(err)
	}
	c := call("Janet has 3 apples and buys 5 more. How many apples does she have?", "")
	ex := learn.RequestExample(c.Request, c.Features())
	differ := false
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		ctx := learn.WithRecord(context.Background(), id)
		x, err := fs.vector(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Predict(ctx, &ex)
		if x[1] != p[0] || x[2] != p[1] {
			t.Fatalf("record %s: x = %v, fold prediction %v", id, x, p)
		}
		differ = differ || p[0] != m.Predict(context.Background(), &ex)[0]
	}
	if !differ {
		t.Error("no record got a fold model's prediction")
	}
}

func TestModelFeatureHash(t *testing.T) {
	dir := modelDir(t)
	m, _ := learn.Load("builtin:winrate")
	last := m.Labels()[len(m.Labels())-1]
	hash := func(features string) string {
		t.Helper()
		fs, err := parseFeatures(builder{dir: dir}, "f", json.RawMessage(features))
		if err != nil {
			t.Fatal(err)
		}
		return fs.hash()
	}
	base := hash(`["code",{"model":"same.json"}]`)
	differs := []struct{ name, features string }{
		{"no model", `["code"]`},
		{"other model", `["code",{"model":"other.json"}]`},
		{"builtin", `["code",{"model":"builtin:winrate"}]`},
		{"labels", `["code",{"model":"same.json","labels":["` + last + `"]}]`},
		{"logit", `["code",{"model":"same.json","logit":true}]`},
	}
	for _, tt := range differs {
		if h := hash(tt.features); h == base {
			t.Errorf("%s: hash %s unchanged", tt.name, h)
		}
	}
	if h := hash(`["code",{"model":{"file":"same.json"}}]`); h != base {
		t.Errorf("the same file spelled as a mapping changed the hash: %s != %s", h, base)
	}
	// Retraining the file in place (new bytes, same name) changes it.
	b, _ := os.ReadFile(filepath.Join(dir, "other.json"))
	if err := os.WriteFile(filepath.Join(dir, "same.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if h := hash(`["code",{"model":"same.json"}]`); h == base {
		t.Error("a retrained model file kept the hash")
	}
}

// The model's prediction reaches the x the node decides on, records in
// its trace and learns from at feedback.
func TestModelFeatureServe(t *testing.T) {
	m, err := learn.Load("builtin:winrate")
	if err != nil {
		t.Fatal(err)
	}
	last := m.Labels()[len(m.Labels())-1]
	n := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a","b"],
		"features":[{"model":"builtin:winrate","labels":["`+last+`"]}]}`)
	text := "What is 17 times 23? Show your steps."
	c := call(text, "")
	serve(t, n, c)
	ex := learn.RequestExample(c.Request, c.Features())
	want := m.Predict(context.Background(), &ex)[len(m.Labels())-1]
	d := lastDecision(t, c)
	x, _ := d.Data["x"].([]float64)
	if len(x) != 2 || x[0] != 1 || x[1] != want {
		t.Fatalf("trace x = %v, want [1 %v]", d.Data["x"], want)
	}
	if _, ok := d.Data["feature_error"]; ok {
		t.Errorf("feature_error = %v", d.Data["feature_error"])
	}
	n.Feedback(finished(c, 200, 0, 0), 1, nil)
	arm, _ := d.Data["arm"].(string)
	s := stats(t, n, arm)
	// b holds r·x after one observation of reward 1: b = x.
	if got := s[n.layout.D*n.layout.D+1]; math.Abs(got-want) > 1e-12 {
		t.Errorf("b[1] = %v, want %v", got, want)
	}
}

// A model answer that is not a probability (NaN, out of range) counts as
// no evidence, so x stays finite and the trace stays encodable.
func TestModelFeaturePutNonProbability(t *testing.T) {
	f := &modelFeature{labels: []int{0}, logit: true}
	for _, p := range []float64{math.NaN(), math.Inf(1), -0.5, 1.5} {
		x := make([]float64, 2)
		f.put(x, []float64{p})
		if x[0] != neutralP || x[1] != 0 {
			t.Errorf("p = %v: x = %v, want [%v 0]", p, x, neutralP)
		}
	}
	x := make([]float64, 2)
	f.put(x, []float64{0.9})
	if x[0] != 0.9 || !(x[1] > 0) {
		t.Errorf("p = 0.9: x = %v", x)
	}
}
