package winrate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/learn"
)

// Offline evaluation marks each request with its record id; a model file
// with fold models must then answer with a fold that never saw the record.
// The data here are pure noise that a model can only memorise: each
// record has a unique word and a random outcome for the cheap model. The
// model trained on everything recalls the training records' outcomes; the
// fold that did not see a record can only guess, so the decisions it
// drives agree with the record's outcome about half the time.
func TestWinrateCrossFitsByRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 400
	samples := make([]learn.Sample, n)
	for i := range samples {
		text := fmt.Sprintf("Tell me about zq%dx.", i*7919)
		samples[i] = learn.Sample{ID: fmt.Sprintf("noise/%04d", i), X: learn.RequestExample(ct.Request(text), nil),
			Good: map[string]bool{"weak-upstream": rng.IntN(2) == 0, "strong": true}}
	}
	m, _, err := learn.Train(learn.KindWinrate, samples, learn.TrainOptions{Folds: 4, L2: []float64{1e-5},
		Featurizer: learn.Featurizer{Bits: 16, Words: 1}, Workers: 1, Calibration: learn.CalibNone})
	if err != nil {
		t.Fatal(err)
	}
	if m.Folds() != 4 {
		t.Fatalf("model has %d folds", m.Folds())
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "noise.json")); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, b: ct.NewBuilder(dir)}
	f.exec = &ct.Exec{Models: f.b.Models}
	node := f.build(t, `{"model":"noise.json","candidates":["cheap","strong"],"threshold":0.5}`)

	agree := func(ctxOf func(id string) context.Context) float64 {
		hits := 0
		for _, s := range samples {
			c := f.call(s.X.Text)
			out, err := node.Serve(ctxOf(s.ID), c)
			if err != nil {
				t.Fatal(err)
			}
			if (out.Model == "cheap") == s.Good["weak-upstream"] {
				hits++
			}
		}
		return float64(hits) / n
	}
	inSample := agree(func(string) context.Context { return context.Background() })
	outOfSample := agree(func(id string) context.Context { return learn.WithRecord(context.Background(), id) })
	t.Logf("decisions agreeing with the record's outcome: full model %.3f, by record (fold) %.3f", inSample, outOfSample)
	if inSample < 0.9 {
		t.Errorf("the full model agrees with %.3f of its training records; it should have memorised them", inSample)
	}
	if outOfSample > 0.62 {
		t.Errorf("with record ids the decisions agree with %.3f of the outcomes; a fold that never saw the record cannot know them", outOfSample)
	}
}
