package bandit

import "math"

// Reward turns an answer's quality, cost and latency into the reward the
// bandit maximises: quality − Lambda·cost_usd − Mu·latency_s.
type Reward struct {
	Lambda float64 // per US dollar
	Mu     float64 // per second
}

// Of returns the reward of an answer of quality q in [0,1] that cost
// costUSD and took latencyS. A NaN or infinite input counts as 0.
func (w Reward) Of(q, costUSD, latencyS float64) float64 {
	return finite(q) - w.Lambda*finite(costUSD) - w.Mu*finite(latencyS)
}

// Scale maps a score on [Min, Max] to [0,1], clamped; NaN maps to 0.
type Scale struct{ Min, Max float64 }

// Map returns s mapped into [0,1].
func (sc Scale) Map(s float64) float64 {
	if sc.Max <= sc.Min || math.IsNaN(s) {
		return 0
	}
	return min(1, max(0, (s-sc.Min)/(sc.Max-sc.Min)))
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
