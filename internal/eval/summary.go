package eval

import (
	"math"
	"sort"

	"github.com/sextant-router/sextant/internal/catalog"
)

// Summary is what one run of every record through one route gave.
type Summary struct {
	// N is the number of records sent.
	N int `json:"n"`
	// Labeled counts the records whose answering model has a quality label
	// for them; Unlabeled those answered by a model without one (a sim
	// stand-in, or a record lacking that model's label); Failed those that
	// got no answer (Errors breaks them down by error code).
	// Labeled + Unlabeled + Failed = N.
	Labeled   int            `json:"labeled"`
	Unlabeled int            `json:"unlabeled"`
	Failed    int            `json:"failed"`
	Errors    map[string]int `json:"errors,omitempty"`
	// FollowupFailed counts multi-turn records whose later turn failed.
	FollowupFailed int `json:"followup_failed,omitempty"`
	// Quality is the mean quality label over the labeled records.
	Quality float64 `json:"quality"`
	// PGR is the performance gap recovered against the weak-only and
	// strong-only qualities; null when they are equal.
	PGR *float64 `json:"pgr"`
	// CostUSD is the cost of every attempt of every request (usage × the
	// config's prices, rounded to the micro-dollar per attempt), and
	// CostMicros the same in integer micro-dollars.
	CostUSD           float64 `json:"cost_usd"`
	CostMicros        int64   `json:"cost_micros"`
	CostPerRequestUSD float64 `json:"cost_per_request_usd"`
	// StrongShare is the share of records whose routed request called the
	// strong model at least once; CostShare is CostUSD over the
	// strong-only cost of the same records.
	StrongShare float64 `json:"strong_share"`
	CostShare   float64 `json:"cost_share"`
	// ByModel has, per catalog model, the share of records it answered and
	// the share of all model calls made to it.
	ByModel map[string]ModelStats `json:"by_model,omitempty"`
	// LatencyMS has percentiles of the modeled latency of the routed
	// requests that got an answer.
	LatencyMS Latency `json:"latency_ms"`
	// EstimatedAnswers counts calls answered with an estimated usage
	// because the data set has no answer text (see Estimate).
	EstimatedAnswers int `json:"estimated_answers"`
	// Random is the random router at this run's strong-call share and at
	// its cost share; nil for the single-model baselines.
	Random *RandomAt `json:"random,omitempty"`
}

// ModelStats is one model's part in a run.
type ModelStats struct {
	Answered      int     `json:"answered"`
	AnsweredShare float64 `json:"answered_share"`
	Calls         int     `json:"calls"`
	CallShare     float64 `json:"call_share"`
	CostUSD       float64 `json:"cost_usd"`
	// Quality is the mean label of the labeled answers it gave; null when
	// it gave none.
	Quality *float64 `json:"quality"`
}

// Latency holds modeled latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Mean float64 `json:"mean"`
}

// RandomAt is the random router (see randomLine) matched to a run.
type RandomAt struct {
	// QualityAtStrongShare is its quality at the run's strong-call share.
	QualityAtStrongShare float64 `json:"quality_at_strong_share"`
	// StrongShareAtCostShare is the strong-call share at which it costs
	// what the run cost, and QualityAtCostShare its quality there.
	StrongShareAtCostShare float64 `json:"strong_share_at_cost_share"`
	QualityAtCostShare     float64 `json:"quality_at_cost_share"`
}

// refs are the reference points a run is measured against.
type refs struct {
	strong, weak   int            // fleet indexes
	strongCost     catalog.Micros // the strong-only cost of the records
	qStrong, qWeak float64
	line           randomLine
	hasLine        bool
}

// summarize aggregates outcomes. Sums run in record order, so the result
// does not depend on the order in which the records were answered.
func (e *Evaluator) summarize(outs []outcome, r *refs) Summary {
	s := Summary{N: len(outs), ByModel: map[string]ModelStats{}}
	answered := make([]int, len(e.fleet))
	calls := make([]int, len(e.fleet))
	costs := make([]catalog.Micros, len(e.fleet))
	qsum := make([]float64, len(e.fleet))
	qn := make([]int, len(e.fleet))
	var total catalog.Micros
	var qualitySum float64
	var latencies []float64
	strongCalled, allCalls := 0, 0
	for i := range outs {
		o := &outs[i]
		total += o.cost
		s.EstimatedAnswers += o.estimated
		for m, u := range o.use {
			calls[m] += int(u.calls)
			costs[m] += u.cost
			allCalls += int(u.calls)
		}
		if r != nil && o.use[r.strong].calls > 0 {
			strongCalled++
		}
		if o.followupFailed {
			s.FollowupFailed++
		}
		if o.model < 0 {
			s.Failed++
			if s.Errors == nil {
				s.Errors = map[string]int{}
			}
			s.Errors[o.errCode]++
			continue
		}
		answered[o.model]++
		latencies = append(latencies, o.latencyMS)
		if !o.labeled {
			s.Unlabeled++
			continue
		}
		s.Labeled++
		qualitySum += o.quality
		qsum[o.model] += o.quality
		qn[o.model]++
	}
	if s.Labeled > 0 {
		s.Quality = qualitySum / float64(s.Labeled)
	}
	s.CostMicros = int64(total)
	s.CostUSD = total.USD()
	if s.N > 0 {
		s.CostPerRequestUSD = total.USD() / float64(s.N)
		s.StrongShare = float64(strongCalled) / float64(s.N)
	}
	for m, fm := range e.fleet {
		ms := ModelStats{Answered: answered[m], Calls: calls[m], CostUSD: costs[m].USD()}
		if s.N > 0 {
			ms.AnsweredShare = float64(answered[m]) / float64(s.N)
		}
		if allCalls > 0 {
			ms.CallShare = float64(calls[m]) / float64(allCalls)
		}
		if qn[m] > 0 {
			q := qsum[m] / float64(qn[m])
			ms.Quality = &q
		}
		s.ByModel[fm.Name] = ms
	}
	sort.Float64s(latencies)
	s.LatencyMS = Latency{P50: Percentile(latencies, 50), P90: Percentile(latencies, 90), P99: Percentile(latencies, 99)}
	if len(latencies) > 0 {
		sum := 0.0
		for _, l := range latencies {
			sum += l
		}
		s.LatencyMS.Mean = sum / float64(len(latencies))
	}
	if r != nil {
		e.measure(&s, r)
	}
	return s
}

// measure sets the fields that depend on the strong and weak references.
func (e *Evaluator) measure(s *Summary, r *refs) {
	if r.strongCost > 0 {
		s.CostShare = float64(s.CostMicros) / float64(r.strongCost)
	}
	if p, ok := PGR(s.Quality, r.qWeak, r.qStrong); ok && s.Labeled > 0 {
		s.PGR = &p
	}
	if r.hasLine {
		sc := r.line.shareAtCost(s.CostShare)
		s.Random = &RandomAt{
			QualityAtStrongShare:   r.line.atShare(s.StrongShare),
			StrongShareAtCostShare: sc,
			QualityAtCostShare:     r.line.atShare(sc),
		}
	}
}

// average returns the mean of runs of one point over several seeds:
// shares, qualities, costs and latencies are averaged, counts are the
// per-run mean rounded to the nearest integer.
func average(runs []Summary) Summary {
	if len(runs) == 1 {
		return runs[0]
	}
	k := float64(len(runs))
	out := Summary{N: runs[0].N, ByModel: map[string]ModelStats{}}
	var labeled, unlabeled, failed, follow, est int
	qsum, qn := map[string]float64{}, map[string]int{}
	var micros int64
	for _, r := range runs {
		labeled += r.Labeled
		unlabeled += r.Unlabeled
		failed += r.Failed
		follow += r.FollowupFailed
		est += r.EstimatedAnswers
		micros += r.CostMicros
		out.Quality += r.Quality / k
		out.StrongShare += r.StrongShare / k
		out.CostShare += r.CostShare / k
		out.CostPerRequestUSD += r.CostPerRequestUSD / k
		out.LatencyMS.P50 += r.LatencyMS.P50 / k
		out.LatencyMS.P90 += r.LatencyMS.P90 / k
		out.LatencyMS.P99 += r.LatencyMS.P99 / k
		out.LatencyMS.Mean += r.LatencyMS.Mean / k
		for name, m := range r.ByModel {
			a := out.ByModel[name]
			a.Answered += m.Answered
			a.Calls += m.Calls
			a.AnsweredShare += m.AnsweredShare / k
			a.CallShare += m.CallShare / k
			a.CostUSD += m.CostUSD / k
			out.ByModel[name] = a
			if m.Quality != nil {
				qsum[name] += *m.Quality
				qn[name]++
			}
		}
		for code, n := range r.Errors {
			if out.Errors == nil {
				out.Errors = map[string]int{}
			}
			out.Errors[code] += n
		}
	}
	mean := func(n int) int { return int(math.Round(float64(n) / k)) }
	out.Labeled, out.Unlabeled, out.Failed, out.FollowupFailed, out.EstimatedAnswers = mean(labeled), mean(unlabeled), mean(failed), mean(follow), mean(est)
	for code, n := range out.Errors {
		out.Errors[code] = mean(n)
	}
	for name, m := range out.ByModel {
		m.Answered, m.Calls = mean(m.Answered), mean(m.Calls)
		if qn[name] > 0 {
			q := qsum[name] / float64(qn[name])
			m.Quality = &q
		}
		out.ByModel[name] = m
	}
	out.CostMicros = int64(math.Round(float64(micros) / k))
	out.CostUSD = catalog.Micros(out.CostMicros).USD()
	return out
}
