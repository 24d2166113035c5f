package experiment

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sextant-router/sextant/internal/claim"
)

// Metrics a promotion rule can decide on.
const (
	MetricCost      = "cost"       // cost per request, lower wins
	MetricQuality   = "quality"    // feedback score (gate score without feedback), higher wins
	MetricLatency   = "latency"    // mean latency, lower wins
	MetricErrorRate = "error_rate" // errors per request, lower wins
)

// Rule is an auto-promotion rule.
type Rule struct {
	Metric     string
	Confidence float64 // e.g. 0.95: the always-valid test runs at α = 1 - Confidence
	// MinRequests is the requests every arm needs before a promotion,
	// and the observations of the metric (feedback or gate scores for
	// quality, successful requests for latency) every arm needs.
	MinRequests float64
	// MaxQualityDrop, when set, blocks a cost, latency or error-rate win
	// whose observed quality is lower than the control's by more.
	MaxQualityDrop *float64
	// Effect is the relative effect the mixture is tuned to (τ =
	// Effect × the control's mean, at least Effect × the pooled standard
	// deviation); 0.1 when zero.
	Effect float64
}

// Promotion is a promotion decision, persisted by the experiment.
type Promotion struct {
	Winner   string         `json:"winner"`
	Time     time.Time      `json:"time"`
	Metric   string         `json:"metric"`
	Evidence map[string]any `json:"evidence"`
}

// ArmInput is one arm handed to Analyze.
type ArmInput struct {
	Name  string
	Share float64 // current share of traffic
	Stats Stats
}

// ArmReport is one arm in a Report.
type ArmReport struct {
	Name           string      `json:"name"`
	Share          float64     `json:"share"`
	Requests       float64     `json:"requests"`
	Errors         float64     `json:"errors"`
	Canceled       float64     `json:"canceled"`
	ErrorRate      Estimate    `json:"error_rate"`
	CostPerRequest Estimate    `json:"cost_per_request"`
	Latency        LatencyView `json:"latency"`
	Feedback       Estimate    `json:"feedback"`
	Gate           Estimate    `json:"gate"`
}

// Estimate is a mean or rate with its confidence interval; N is the
// sample size. Infinite bounds (too little data) are reported as null.
type Estimate struct {
	N    float64     `json:"n"`
	Mean float64     `json:"mean"`
	CI   *[2]float64 `json:"ci"`
}

// LatencyView summarizes latency in milliseconds.
type LatencyView struct {
	N    float64 `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
}

// Comparison is one arm against the control on one metric.
type Comparison struct {
	Arm         string      `json:"arm"`
	Control     string      `json:"control"`
	Metric      string      `json:"metric"`
	Diff        float64     `json:"diff"`
	CI          *[2]float64 `json:"ci"`
	PValue      float64     `json:"p_value"`
	Significant bool        `json:"significant"`
}

// Report is an experiment's state, as GET /v1/experiments/{name} shows it.
type Report struct {
	Name        string         `json:"name"`
	Route       string         `json:"route"`
	Node        string         `json:"node"`
	Key         string         `json:"key"`
	Confidence  float64        `json:"confidence"`
	Arms        []ArmReport    `json:"arms"`
	Comparisons []Comparison   `json:"comparisons"`
	Promotion   *PromotionView `json:"promotion"`
	Ramp        any            `json:"ramp,omitempty"`
}

// PromotionView is the promotion rule and its state.
type PromotionView struct {
	Metric   string     `json:"metric"`
	Promoted *Promotion `json:"promoted"`
	// Status says why no promotion happened yet.
	Status string `json:"status,omitempty"`
}

func ci(iv Interval) *[2]float64 {
	if math.IsInf(iv.Lo, 0) || math.IsInf(iv.Hi, 0) || math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return nil
	}
	return &[2]float64{iv.Lo, iv.Hi}
}

func estimate(m Moments, conf float64) Estimate {
	mean, iv := MeanCI(m, conf)
	return Estimate{N: m.N, Mean: mean, CI: ci(iv)}
}

// Analyze computes every arm's estimates at level conf and compares each
// arm with the control (the first arm) on cost, latency, error rate and
// quality (feedback scores, or gate scores when no feedback arrived).
// Significant means p < 1-conf in that fixed-horizon test; promotions use
// the sequential test instead (Decide).
func Analyze(arms []ArmInput, conf float64) ([]ArmReport, []Comparison) {
	out := make([]ArmReport, len(arms))
	hasFb := hasFeedback(arms)
	for i, a := range arms {
		s := a.Stats
		rate, riv := WilsonCI(s.Errors, s.Requests, conf)
		out[i] = ArmReport{Name: a.Name, Share: a.Share, Requests: s.Requests, Errors: s.Errors, Canceled: s.Canceled,
			ErrorRate:      Estimate{N: s.Requests, Mean: rate, CI: ci(riv)},
			CostPerRequest: estimate(s.Cost, conf),
			Latency: LatencyView{N: s.Latency.N, Mean: s.Latency.Mean(), P50: s.Percentile(0.5),
				P95: s.Percentile(0.95), P99: s.Percentile(0.99)},
			Feedback: estimate(s.Feedback, conf),
			Gate:     estimate(s.Gate, conf),
		}
	}
	var cmp []Comparison
	if len(arms) < 2 {
		return out, cmp
	}
	c := arms[0].Stats
	for _, a := range arms[1:] {
		s := a.Stats
		for _, m := range []string{MetricCost, MetricLatency, MetricErrorRate, MetricQuality} {
			var t Test
			switch m {
			case MetricCost:
				t = Welch(s.Cost, c.Cost, conf)
			case MetricLatency:
				t = Welch(s.Latency, c.Latency, conf)
			case MetricErrorRate:
				t = TwoProportions(s.Errors, s.Requests, c.Errors, c.Requests, conf)
			case MetricQuality:
				t = Welch(s.Quality(hasFb), c.Quality(hasFb), conf)
			}
			cmp = append(cmp, Comparison{Arm: a.Name, Control: arms[0].Name, Metric: m, Diff: t.Diff, CI: ci(t.CI),
				PValue: t.PValue, Significant: t.PValue < 1-conf})
		}
	}
	return out, cmp
}

func hasFeedback(arms []ArmInput) bool {
	for _, a := range arms {
		if a.Stats.Feedback.N > 0 {
			return true
		}
	}
	return false
}

// sample returns the per-request sample of metric on s.
func sample(s *Stats, metric string, hasFb bool) Moments {
	switch metric {
	case MetricCost:
		return s.Cost
	case MetricLatency:
		return s.Latency
	case MetricErrorRate:
		// Errors are 0/1 observations: Σx = Σx² = errors.
		return Moments{N: s.Requests, Sum: s.Errors, SumSq: s.Errors}
	}
	return s.Quality(hasFb)
}

// Decide applies rule to the arms (the first is the control) and returns
// the promotion when one arm wins, or nil and why not. Each challenger is
// compared with the control by the mixture SPRT (MixtureSPRT) at α/(k-1)
// for k arms (Bonferroni), which stays valid under continuous checking. A
// challenger wins when its test crosses in its favour (the largest
// improvement among several); the control wins when it beats every
// challenger. A cost, latency or error-rate winner must not have lost
// more than MaxQualityDrop of observed quality against the loser(s).
func Decide(rule Rule, arms []ArmInput, now time.Time) (*Promotion, string) {
	if len(arms) < 2 {
		return nil, "a promotion needs two arms"
	}
	for _, a := range arms {
		if a.Stats.Requests < rule.MinRequests {
			return nil, fmt.Sprintf("waiting for %v requests on every arm", rule.MinRequests)
		}
	}
	hasFb := hasFeedback(arms)
	// The metric's own sample (feedback scores for quality, successful
	// requests for latency) needs MinRequests too: the plug-in variance
	// of a handful of scores makes the mixture ratio meaningless.
	for _, a := range arms {
		if sample(&a.Stats, rule.Metric, hasFb).N < rule.MinRequests {
			return nil, fmt.Sprintf("waiting for %v %s observations on every arm", rule.MinRequests, rule.Metric)
		}
	}
	alpha := (1 - rule.Confidence) / float64(len(arms)-1)
	effect := rule.Effect
	if effect <= 0 {
		effect = 0.1
	}
	lower := rule.Metric != MetricQuality
	c := arms[0].Stats
	cm := sample(&c, rule.Metric, hasFb)
	type win struct {
		i            int
		lambda, diff float64
	}
	var best *win
	controlWins := 0
	for i := 1; i < len(arms); i++ {
		s := arms[i].Stats
		am := sample(&s, rule.Metric, hasFb)
		pooled := math.Sqrt((am.Var() + cm.Var()) / 2)
		tau := effect * math.Max(math.Abs(cm.Mean()), pooled)
		lambda := MixtureSPRT(am, cm, tau)
		if lambda < 1/alpha {
			continue
		}
		diff := am.Mean() - cm.Mean()
		better := diff > 0
		if lower {
			better = diff < 0
		}
		if !better {
			controlWins++
			continue
		}
		if best == nil || math.Abs(diff) > math.Abs(best.diff) {
			best = &win{i, lambda, diff}
		}
	}
	winner := -1
	var ev map[string]any
	switch {
	case best != nil:
		winner = best.i
		ev = map[string]any{"control": arms[0].Name, "diff": best.diff, "likelihood_ratio": math.Min(best.lambda, math.MaxFloat64), "threshold": 1 / alpha}
	case controlWins == len(arms)-1:
		winner = 0
		ev = map[string]any{"beats": len(arms) - 1, "threshold": 1 / alpha}
	default:
		return nil, "no arm has won yet"
	}
	if rule.MaxQualityDrop != nil && rule.Metric != MetricQuality {
		wq := arms[winner].Stats.Quality(hasFb)
		if wq.N == 0 {
			return nil, "waiting for quality data (max_quality_drop)"
		}
		for j, a := range arms {
			if j == winner {
				continue
			}
			q := a.Stats.Quality(hasFb)
			if q.N == 0 {
				return nil, "waiting for quality data (max_quality_drop)"
			}
			if drop := q.Mean() - wq.Mean(); drop > *rule.MaxQualityDrop {
				return nil, fmt.Sprintf("arm %s wins on %s but loses %.4f quality against %s", arms[winner].Name, rule.Metric, drop, a.Name)
			}
		}
	}
	ev["n"] = requestsOf(arms)
	return &Promotion{Winner: arms[winner].Name, Time: now.UTC(), Metric: rule.Metric, Evidence: ev}, ""
}

func requestsOf(arms []ArmInput) map[string]float64 {
	m := make(map[string]float64, len(arms))
	for _, a := range arms {
		m[a.Name] = a.Stats.Requests
	}
	return m
}

// Source is a live experiment (a built split node).
type Source interface {
	// Report returns the experiment's state at now.
	Report(now time.Time) Report
	// Ramp sets a manual share ({"share": s} for the ramped arm) or
	// weights ({"weights": {arm: w}}); the change is shared by replicas.
	// It returns ErrPromoted once the experiment has promoted a winner.
	Ramp(share *float64, weights map[string]float64) error
}

// ErrPromoted is Ramp's error for an experiment that has promoted its
// winner: every request goes to the winner, and a ramp would change
// nothing.
var ErrPromoted = errors.New("the experiment has promoted its winner; every request goes to it")

// Registry maps experiment names to live experiments (see package
// claim: a split offers itself when built and claims its name when it
// serves). Safe for concurrent use.
type Registry = claim.Registry[Source]

// Default is the process-wide registry split nodes register with.
var Default = &Registry{}
