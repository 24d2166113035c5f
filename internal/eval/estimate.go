package eval

import (
	"fmt"
	"math"

	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/tokens"
)

// DefaultOutputTokens is the estimate when the data set has no answer text
// at all: one token, which is exact for RouteLLM's MMLU answers (generated
// with max_new_tokens=1: the answer letter).
const DefaultOutputTokens = 1

// Estimate says how many output tokens eval charges one record model's
// answers that the data set holds no text for (MMLU holds none), and why.
// The prompt tokens of such an answer are counted from the request as for
// any other; only the answer's length is estimated.
type Estimate struct {
	RecordModel  string `json:"record_model"`
	OutputTokens int    `json:"output_tokens"`
	// Basis is "flag" (--output-tokens), "model" (the mean length of this
	// model's recorded answers in the data set), "all models" (the mean
	// over every model's recorded answers, when this one has none) or
	// "default" (DefaultOutputTokens, when the data set has no texts).
	Basis string `json:"basis"`
	// WithText and WithoutText count this model's answers (one per prompt
	// turn of a record it has an entry for) with and without text.
	WithText    int `json:"answers_with_text"`
	WithoutText int `json:"answers_without_text"`
}

// estimates computes the output-token estimate of every record model. A
// positive flag overrides the derived estimates.
func estimates(records []dataset.Record, flag int) map[string]*Estimate {
	type acc struct{ tokens, n, missing int }
	per := map[string]*acc{}
	all := acc{}
	for i := range records {
		r := &records[i]
		for name := range r.Models {
			a := per[name]
			if a == nil {
				a = &acc{}
				per[name] = a
			}
			for turn := range r.Prompt {
				if text, ok := r.Answer(name, turn); ok {
					n := tokens.Count(text)
					a.tokens, a.n = a.tokens+n, a.n+1
					all.tokens, all.n = all.tokens+n, all.n+1
				} else {
					a.missing++
				}
			}
		}
	}
	out := map[string]*Estimate{}
	for name, a := range per {
		e := &Estimate{RecordModel: name, WithText: a.n, WithoutText: a.missing}
		switch {
		case flag > 0:
			e.OutputTokens, e.Basis = flag, "flag"
		case a.n > 0:
			e.OutputTokens, e.Basis = meanTokens(a.tokens, a.n), "model"
		case all.n > 0:
			e.OutputTokens, e.Basis = meanTokens(all.tokens, all.n), "all models"
		default:
			e.OutputTokens, e.Basis = DefaultOutputTokens, "default"
		}
		out[name] = e
	}
	return out
}

func meanTokens(total, n int) int { return max(1, int(math.Round(float64(total)/float64(n)))) }

// String describes the estimate for reports.
func (e *Estimate) String() string {
	switch e.Basis {
	case "flag":
		return fmt.Sprintf("%d tokens (--output-tokens)", e.OutputTokens)
	case "model":
		return fmt.Sprintf("%d tokens (mean of its %d recorded answers)", e.OutputTokens, e.WithText)
	case "all models":
		return fmt.Sprintf("%d tokens (mean of all models' recorded answers)", e.OutputTokens)
	}
	return fmt.Sprintf("%d token (no answer texts in the data set)", e.OutputTokens)
}
