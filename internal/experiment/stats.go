package experiment

import "math"

// The layout of an arm's statistics vector: additive sums only, so that
// the vectors of several replicas (or of one replica before and after a
// restart) merge by addition.
const (
	iRequests = iota // requests finished on the arm
	iErrors          // status >= 500, or an upstream failure without an answer
	iCanceled        // status 499: the client went away
	iCostN           // requests with a cost (every finished request)
	iCostSum         // Σ cost in USD
	iCostSq          // Σ cost²
	iLatN            // requests with a latency (successful ones)
	iLatSum          // Σ latency in ms
	iLatSq           // Σ latency²
	iFbN             // feedback scores
	iFbSum           //
	iFbSq            //
	iGateN           // gate verdicts (pass or fail) under the arm
	iGateSum         //
	iGateSq          //
	iHist            // first latency histogram bucket
)

// Latency histogram: bucket 0 holds latencies below 1 ms, bucket i (1 ≤ i
// < HistBuckets-1) holds [g^(i-1), g^i) ms with g = 2^(1/4) (a bucket is
// 19% wide, so a percentile read from it is within ±9% of the truth), and
// the last bucket everything from g^(HistBuckets-2) ms (2^20 ms, 17.5 min)
// up.
const (
	HistBuckets = 82
	histGrowth  = 1.189207115002721 // 2^(1/4)
)

// Len is the length of an arm's statistics vector.
const Len = iHist + HistBuckets

// Observation is one finished request on an arm.
type Observation struct {
	// Status is the HTTP status sent to the client.
	Status int
	// Failed marks an upstream failure that is not a 5xx (an upstream
	// 429 passed to the client, say); it counts as an error.
	Failed bool
	// CostUSD is what the request cost over every attempt.
	CostUSD float64
	// LatencyMS is the time to the last byte; it is recorded for
	// successful requests (status < 400) only.
	LatencyMS float64
	// Gates are the scores of the gate verdicts made under the arm.
	Gates []float64
}

// IsError reports whether o counts as an error: a status of 500 or more,
// or an upstream failure. A 499 (canceled) is never an error.
func (o Observation) IsError() bool {
	return o.Status != 499 && (o.Status >= 500 || o.Failed)
}

// Add adds o to the statistics vector delta (of length Len). Non-finite
// or negative costs and latencies are left out of their sums.
func (o Observation) Add(delta []float64) {
	if len(delta) < Len {
		return
	}
	delta[iRequests]++
	switch {
	case o.Status == 499:
		delta[iCanceled]++
	case o.IsError():
		delta[iErrors]++
	}
	if c := o.CostUSD; c >= 0 && !math.IsInf(c, 1) {
		delta[iCostN]++
		delta[iCostSum] += c
		delta[iCostSq] += c * c
	}
	if l := o.LatencyMS; o.Status > 0 && o.Status < 400 && l >= 0 && !math.IsInf(l, 1) {
		delta[iLatN]++
		delta[iLatSum] += l
		delta[iLatSq] += l * l
		delta[iHist+histBucket(l)]++
	}
	for _, g := range o.Gates {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			continue
		}
		delta[iGateN]++
		delta[iGateSum] += g
		delta[iGateSq] += g * g
	}
}

// FeedbackDelta adds a feedback score to delta, replacing previous (the
// request's earlier score) when it is not nil: the earlier score is
// subtracted, so a request counts once with its latest score.
func FeedbackDelta(delta []float64, score float64, previous *float64) {
	if len(delta) < Len || math.IsNaN(score) || math.IsInf(score, 0) {
		return
	}
	if previous != nil && !math.IsNaN(*previous) && !math.IsInf(*previous, 0) {
		p := *previous
		delta[iFbN]--
		delta[iFbSum] -= p
		delta[iFbSq] -= p * p
	}
	delta[iFbN]++
	delta[iFbSum] += score
	delta[iFbSq] += score * score
}

func histBucket(ms float64) int {
	if ms < 1 {
		return 0
	}
	i := 1 + int(math.Log(ms)/math.Log(histGrowth))
	return min(i, HistBuckets-1)
}

// histValue is the value reported for bucket i: its geometric midpoint.
func histValue(i int) float64 {
	switch {
	case i <= 0:
		return 0.5
	case i >= HistBuckets-1:
		return math.Pow(histGrowth, float64(HistBuckets-2))
	}
	return math.Pow(histGrowth, float64(i)-0.5)
}

// Moments are the count, sum and sum of squares of a sample.
type Moments struct{ N, Sum, SumSq float64 }

// Mean returns the sample mean, 0 for an empty sample.
func (m Moments) Mean() float64 {
	if m.N <= 0 {
		return 0
	}
	return m.Sum / m.N
}

// Var returns the unbiased sample variance, 0 below two observations.
// Rounding can make the sums' difference slightly negative; it is clamped.
func (m Moments) Var() float64 {
	if m.N < 2 {
		return 0
	}
	v := (m.SumSq - m.Sum*m.Sum/m.N) / (m.N - 1)
	return math.Max(v, 0)
}

// Stats is one arm's statistics, read from its vector.
type Stats struct {
	Requests, Errors, Canceled float64
	Cost, Latency              Moments
	Feedback, Gate             Moments
	Hist                       [HistBuckets]float64
}

// Parse reads a statistics vector (of length Len; shorter vectors read
// as zeros where they end).
func Parse(v []float64) Stats {
	at := func(i int) float64 {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	s := Stats{Requests: at(iRequests), Errors: at(iErrors), Canceled: at(iCanceled),
		Cost:     Moments{at(iCostN), at(iCostSum), at(iCostSq)},
		Latency:  Moments{at(iLatN), at(iLatSum), at(iLatSq)},
		Feedback: Moments{at(iFbN), at(iFbSum), at(iFbSq)},
		Gate:     Moments{at(iGateN), at(iGateSum), at(iGateSq)},
	}
	for i := range HistBuckets {
		s.Hist[i] = at(iHist + i)
	}
	return s
}

// Percentile returns the q-quantile (q in [0,1]) of the latency
// histogram, 0 when it is empty.
func (s *Stats) Percentile(q float64) float64 {
	total := 0.0
	for _, c := range s.Hist {
		total += c
	}
	if total <= 0 {
		return 0
	}
	rank := q * total
	cum := 0.0
	for i, c := range s.Hist {
		cum += c
		if cum >= rank && c > 0 {
			return histValue(i)
		}
	}
	return histValue(HistBuckets - 1)
}

// Quality returns the arm's quality sample: feedback scores when any
// arrived on any arm (hasFeedback), else gate scores.
func (s *Stats) Quality(hasFeedback bool) Moments {
	if hasFeedback {
		return s.Feedback
	}
	return s.Gate
}
