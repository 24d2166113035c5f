package learned

import (
	"fmt"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
)

// Label rules for recorded answers.
const (
	// LabelBest: the answer is good when no recorded answer to the record
	// is better (its quality is the record's best, ties counting as
	// good): escalating would not have helped. On GSM8K an answer is
	// good when correct or when every model was wrong; on MT Bench when
	// its judge score is at least every other model's.
	LabelBest = "best"
	// LabelCorrect: the answer is good when judged correct (GSM8K,
	// MMLU); on scored data (MT Bench) when its score is at least
	// SampleOptions.MinScore.
	LabelCorrect = "correct"
)

// SampleOptions select the answers RecordSamples learns from.
type SampleOptions struct {
	// Model is the recorded model whose answers are judged: the cheap
	// model a cascade tries first. Required.
	Model string
	// Label is LabelBest (default) or LabelCorrect.
	Label string
	// MinScore is LabelCorrect's bar on scored data (1-10); default 8.
	MinScore float64
}

// RecordSamples builds gate training samples from recorded data: one per
// record with an answer of o.Model to its first turn, the example
// RecordExample of that answer, the one outcome "accept" good by o.Label.
// Records without the model's answer or without qualities are skipped
// (skipped counts them). Sample ids are record ids.
func RecordSamples(recs []dataset.Record, o SampleOptions) (samples []learn.Sample, skipped int, err error) {
	if o.Model == "" {
		return nil, 0, fmt.Errorf("learned: the model whose answers to judge is required")
	}
	if o.MinScore == 0 {
		o.MinScore = 8
	}
	switch o.Label {
	case "":
		o.Label = LabelBest
	case LabelBest, LabelCorrect:
	default:
		return nil, 0, fmt.Errorf("learned: unknown label rule %q (best or correct)", o.Label)
	}
	for i := range recs {
		rec := &recs[i]
		good, ok := Good(rec, o)
		text, has := rec.Answer(o.Model, 0)
		if !ok || !has {
			skipped++
			continue
		}
		req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: rec.Prompt[0].Content}}}
		samples = append(samples, learn.Sample{
			ID: rec.ID, X: RecordExample(o.Model, req, text), Good: map[string]bool{"accept": good},
			Group: rec.Dataset, Category: rec.Category,
		})
	}
	return samples, skipped, nil
}

// Good reports whether o.Model's recorded answer to rec is good under
// o.Label, and whether that is known.
func Good(rec *dataset.Record, o SampleOptions) (good, ok bool) {
	a, found := rec.Models[o.Model]
	if !found || a.Quality == nil {
		return false, false
	}
	q := *a.Quality
	if o.Label == LabelCorrect {
		if a.Correct != nil {
			return *a.Correct, true
		}
		return q >= o.MinScore, true
	}
	for _, other := range rec.Models {
		if other.Quality != nil && *other.Quality > q {
			return false, true
		}
	}
	return true, true
}
