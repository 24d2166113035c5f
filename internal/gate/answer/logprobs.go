package answer

import (
	"math"

	"github.com/sextant-router/sextant/internal/llm"
)

// LogprobStats summarises the log-probabilities of an answer's tokens.
type LogprobStats struct {
	Tokens int     // tokens with a log-probability
	Mean   float64 // mean log-probability of the sampled tokens (≤ 0)
	Min    float64 // lowest log-probability of a sampled token
	// Margin is the mean, over the tokens that came with at least two
	// alternatives, of the log-probability gap between the most and the
	// second most likely alternative (≥ 0, in nats); MarginTokens counts
	// those tokens. Margin is 0 when MarginTokens is 0.
	Margin       float64
	MarginTokens int
}

// Logprobs returns the statistics of l's content tokens; ok is false when
// there are none.
func Logprobs(l *llm.Logprobs) (s LogprobStats, ok bool) {
	if l == nil || len(l.Content) == 0 {
		return s, false
	}
	s.Min = math.Inf(1)
	var sum, msum float64
	for i := range l.Content {
		t := &l.Content[i]
		lp := t.Logprob
		if math.IsNaN(lp) {
			continue
		}
		lp = math.Min(lp, 0)
		s.Tokens++
		sum += lp
		s.Min = math.Min(s.Min, lp)
		if len(t.TopLogprobs) >= 2 {
			first, second := math.Inf(-1), math.Inf(-1)
			for _, a := range t.TopLogprobs {
				switch {
				case a.Logprob > first:
					first, second = a.Logprob, first
				case a.Logprob > second:
					second = a.Logprob
				}
			}
			if !math.IsInf(second, -1) {
				msum += first - second
				s.MarginTokens++
			}
		}
	}
	if s.Tokens == 0 {
		return LogprobStats{}, false
	}
	s.Mean = sum / float64(s.Tokens)
	if s.MarginTokens > 0 {
		s.Margin = msum / float64(s.MarginTokens)
	}
	return s, true
}
