package winrate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/eval"
	"github.com/sextant-router/sextant/internal/learn"
)

// `sextant eval` of a winrate route over the data its model was trained
// on is out-of-sample: eval marks every request with its record id, and
// the file's fold model that never saw the record answers. The records are
// noise only memory can predict (a unique word each, a random outcome for
// the weak model), so a router that remembers them recovers most of the
// quality gap, and one that cannot does no better than chance: PGR about
// its strong share, as the random router. The same file without its fold
// models shows what in-sample evaluation would have reported.
func TestEvalIsCrossFitted(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var (
		lines   []string
		samples []learn.Sample
	)
	for i := range 300 {
		id, text := fmt.Sprintf("noise/%04d", i), fmt.Sprintf("Tell me about zq%dx.", i*7919)
		weakGood := rng.IntN(2) == 0
		q := map[bool]float64{true: 1, false: 0}[weakGood]
		rec := map[string]any{"id": id, "dataset": "noise", "category": "noise", "contaminated": false,
			"prompt": []map[string]string{{"role": "user", "content": text}},
			"models": map[string]any{
				"strong-upstream": map[string]any{"quality": 1.0, "correct": true, "response": []string{"yes"}},
				"weak-upstream":   map[string]any{"quality": q, "correct": weakGood, "response": []string{"yes"}},
			}}
		b, _ := json.Marshal(rec)
		lines = append(lines, string(b))
		samples = append(samples, learn.Sample{ID: id, X: learn.RequestExample(ct.Request(text), nil),
			Good: map[string]bool{"weak-upstream": weakGood, "strong-upstream": true}})
	}
	data := filepath.Join(dir, "noise.jsonl")
	if err := os.WriteFile(data, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _, err := learn.Train(learn.KindWinrate, samples, learn.TrainOptions{Folds: 4, L2: []float64{1e-5}, Workers: 1,
		Featurizer: learn.Featurizer{Bits: 16, Words: 1}, Calibration: learn.CalibNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(filepath.Join(dir, "folds.json")); err != nil {
		t.Fatal(err)
	}
	if err := m.WithoutFolds().Save(filepath.Join(dir, "nofolds.json")); err != nil {
		t.Fatal(err)
	}
	cfg := `
models:
  - {name: strong, provider: replay, upstream: strong-upstream, price: {input: 10, output: 30}, options: {dataset: noise.jsonl}}
  - {name: weak, provider: replay, upstream: weak-upstream, price: {input: 0.24, output: 0.24}, options: {dataset: noise.jsonl}}
routes:
  folds: {winrate: {model: folds.json, candidates: [weak, strong], threshold: 0.5}}
  nofolds: {winrate: {model: nofolds.json, candidates: [weak, strong], threshold: 0.5}}
`
	cfgPath := filepath.Join(dir, "eval.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(route string) *eval.Report {
		var opts eval.Options
		if err := eval.Load(cfgPath, &opts); err != nil {
			t.Fatal(err)
		}
		opts.Route, opts.Dataset, opts.Strong, opts.Weak = route, data, "strong", "weak"
		e, err := eval.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Evaluate(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.PGR == nil {
			t.Fatal("no PGR")
		}
		return rep
	}
	in, out := run("nofolds"), run("folds")
	t.Logf("in-sample PGR %.3f at strong share %.3f; cross-fitted PGR %.3f at strong share %.3f",
		*in.PGR, in.StrongShare, *out.PGR, out.StrongShare)
	if *in.PGR < 0.9 {
		t.Errorf("in-sample PGR %.3f: the full model should have memorised the records", *in.PGR)
	}
	if gain := *out.PGR - out.StrongShare; gain > 0.15 {
		t.Errorf("cross-fitted PGR %.3f at strong share %.3f: %.3f better than chance, so eval let the model see the records it scores", *out.PGR, out.StrongShare, gain)
	}
}
