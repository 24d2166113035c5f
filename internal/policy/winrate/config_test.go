package winrate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/config"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

const fleet = `
models:
  - name: cheap
    provider: sim
    upstream: weak-upstream
    price: {input: 0.24, output: 0.24}
    options: {seed: 1, ttft: 1ms, tokens_per_second: 100000, output_tokens: {min: 1, max: 2}}
  - name: strong
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 2, ttft: 1ms, tokens_per_second: 100000, output_tokens: {min: 1, max: 2}}
routes:
  wr:
    winrate:
      model: models/win.json
      candidates: [cheap, strong]
`

// trainTo writes a win-rate model to path; inverted, the cheap model is
// good on the hard requests instead of the easy ones.
func trainTo(t *testing.T, path string, inverted bool) {
	t.Helper()
	samples := ct.Samples(learn.KindWinrate, 120, false)
	if inverted {
		for i := range samples {
			samples[i].Good["weak-upstream"] = !samples[i].Good["weak-upstream"]
		}
	}
	m, _, err := learn.Train(learn.KindWinrate, samples, learn.TrainOptions{Folds: 2, L2: []float64{1e-2}, Workers: 1,
		Featurizer: learn.Featurizer{Bits: 12, Words: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
}

func served(t *testing.T, snap *config.Snapshot, text string) string {
	t.Helper()
	c := &policy.Call{Request: ct.Request(text), Exec: snap.Executor, Trace: trace.New(time.Now())}
	out, err := snap.Routes["wr"].Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out.Model
}

// The model file is read when a config is built, relative to the config
// file: building validates it (as `config check` does), and building again
// (as a reload does) picks up a retrained file.
func TestModelFileLoadsWithTheConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sextant.yaml")
	if err := os.WriteFile(cfgPath, []byte(fleet), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfgPath, config.BuildOptions{}); err == nil || !strings.Contains(err.Error(), "routes.wr.winrate.model.file: learn: open "+filepath.Join(dir, "models", "win.json")) {
		t.Fatalf("missing model file: err = %v", err)
	}
	os.Mkdir(filepath.Join(dir, "models"), 0o755)
	modelPath := filepath.Join(dir, "models", "win.json")
	trainTo(t, modelPath, false)
	snap, err := config.Load(cfgPath, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	easy, _ := ct.Text(5000)
	hard, _ := ct.Text(5001)
	if e, h := served(t, snap, easy), served(t, snap, hard); e != "cheap" || h != "strong" {
		t.Fatalf("easy to %s, hard to %s", e, h)
	}

	trainTo(t, modelPath, true) // retrained in place
	next, err := config.Load(cfgPath, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e, h := served(t, next, easy), served(t, next, hard); e != "strong" || h != "cheap" {
		t.Errorf("after retraining: easy to %s, hard to %s", e, h)
	}
	// The snapshot built before keeps its model.
	if e := served(t, snap, easy); e != "cheap" {
		t.Errorf("the old snapshot changed: easy to %s", e)
	}

	// A file of the wrong kind fails the build with the config path.
	m, _, err := learn.Train(learn.KindClassifier, ct.Samples(learn.KindClassifier, 40, false), learn.TrainOptions{Folds: 2, L2: []float64{1e-2}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfgPath, config.BuildOptions{}); err == nil || !strings.Contains(err.Error(), "routes.wr.winrate.model.file: models/win.json is a classifier model, want a winrate model") {
		t.Errorf("wrong kind: err = %v", err)
	}
}
