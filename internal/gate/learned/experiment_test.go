//go:build experiment

// The learned gate's offline experiment: cross-fitted gate models on the
// weak model's recorded answers in ../shared/data, measured as the APGR,
// CPT(50%) and CPT(80%) of the cascade "weak first, escalate to strong
// when P(accept) < t" against the strong-call share. Behind the
// "experiment" build tag so CI never runs it:
//
//	go test -tags experiment -run TestExperiment -v ./internal/gate/learned
package learned

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/learn"
)

var expData = flag.String("exp.data", "../../../../shared/data", "directory of the recorded data sets")

const (
	strong = "gpt-4-1106-preview"
	weak   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

func TestExperiment(t *testing.T) {
	for _, name := range []string{"gsm8k", "mt_bench"} {
		recs, err := dataset.LoadFile(filepath.Join(*expData, name+".jsonl"))
		if err != nil {
			t.Skip(err)
		}
		for _, variant := range []struct {
			name    string
			numeric []string // nil: all
			text    bool
		}{
			{"all", nil, true},
			{"numeric only", nil, false},
		} {
			samples, _, err := RecordSamples(recs, SampleOptions{Model: weak})
			if err != nil {
				t.Fatal(err)
			}
			if !variant.text {
				for i := range samples {
					samples[i].X.Text = ""
				}
			}
			folds := 5
			if len(samples) < 100 {
				folds = 10
			}
			for _, seed := range []uint64{0, 1, 2} {
				_, rep, err := learn.Train(learn.KindGate, samples, learn.TrainOptions{Folds: folds, Seed: seed, Numeric: variant.numeric})
				if err != nil {
					t.Fatal(err)
				}
				byID := map[string]float64{}
				for i, s := range samples {
					byID[s.ID] = rep.OOF[i][0]
				}
				var score, sq, wq []float64
				for i := range recs {
					p, ok := byID[recs[i].ID]
					s, w := recs[i].Models[strong].Quality, recs[i].Models[weak].Quality
					if !ok || s == nil || w == nil {
						continue
					}
					score, sq, wq = append(score, p), append(sq, *s), append(wq, *w)
				}
				c := learn.NewCurve(score, sq, wq)
				t.Logf("%-8s %-13s seed %d: n %d AUC %.3f APGR %.3f CPT50 %.3f CPT80 %.3f", name, variant.name, seed, len(score), rep.CrossFit.AUC, c.APGR(), c.CPT(0.5), c.CPT(0.8))
			}
		}
	}
}

// TestGateContributions measures the rule gates alone as cascade scores on
// the weak model's recorded answers (no training): validator (arithmetic
// and final answer), structure-style hedging, and their product.
func TestGateContributions(t *testing.T) {
	for _, name := range []string{"gsm8k", "mt_bench"} {
		recs, err := dataset.LoadFile(filepath.Join(*expData, name+".jsonl"))
		if err != nil {
			t.Skip(err)
		}
		scores := map[string][]float64{}
		var sq, wq []float64
		for i := range recs {
			text, ok := recs[i].Answer(weak, 0)
			s, w := recs[i].Models[strong].Quality, recs[i].Models[weak].Quality
			if !ok || s == nil || w == nil {
				continue
			}
			x := RecordExample(weak, nil, text).Numeric
			arith := 1 - x["arith_wrong_share"]
			scores["validator arithmetic"] = append(scores["validator arithmetic"], arith)
			scores["validator final answer"] = append(scores["validator final answer"], x["final_stated"])
			scores["validator both (min)"] = append(scores["validator both (min)"], min(arith, x["final_stated"]))
			scores["hedges (fewer better)"] = append(scores["hedges (fewer better)"], -x["hedges"])
			scores["length (longer better)"] = append(scores["length (longer better)"], x["log_chars"])
			sq, wq = append(sq, *s), append(wq, *w)
		}
		for k, sc := range scores {
			c := learn.NewCurve(sc, sq, wq)
			t.Logf("%-8s %-24s APGR %.3f CPT50 %.3f CPT80 %.3f", name, k, c.APGR(), c.CPT(0.5), c.CPT(0.8))
		}
	}
}
