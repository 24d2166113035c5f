package eval

import (
	"context"
	"fmt"
	"math"
)

// Learning is the online-learning simulation of a route holding a bandit:
// the route's cumulative quality, cost and reward request by request, and
// its regret against the best fixed arm and against the oracle. Its JSON
// form is the "learning" member of `sextant eval --format json`.
//
// Reward is what the bandit maximises: per request, quality − λ·cost −
// μ·latency, with λ and μ from the bandit's config, quality the answering
// model's recorded label mapped from the bandit's feedback range
// [feedback.min, feedback.max] onto [0,1] (clamped; 0 for a request
// without a label or an answer), cost in US dollars of the routed request
// (the first turn: what the bandit's decision records) and latency the
// routed request's modeled latency in seconds.
type Learning struct {
	// Node is the config path of the bandit and Kind its kind.
	Node string `json:"node"`
	Kind string `json:"kind"`
	// Lambda, Mu, FeedbackMin and FeedbackMax are the reward's terms as
	// configured.
	Lambda      float64 `json:"lambda"`
	Mu          float64 `json:"mu"`
	FeedbackMin float64 `json:"feedback_min"`
	FeedbackMax float64 `json:"feedback_max"`
	// FeedbackDelay is how many records are routed before a record's
	// feedback arrives (1: before the next one).
	FeedbackDelay int `json:"feedback_delay"`
	// Seeds is how many seeds the route's curve is the mean of.
	Seeds int `json:"seeds"`
	// Arms has each arm answering every record alone (the route with the
	// bandit replaced by the arm), in config order.
	Arms []ArmResult `json:"arms"`
	// BestArm is the arm with the highest total reward over all records:
	// the best fixed arm in hindsight.
	BestArm string `json:"best_arm"`
	// Checkpoints summarise the curves after 500, 1,000 and all requests
	// (those not beyond the data set).
	Checkpoints []Checkpoint `json:"checkpoints"`
	// Steps are the curves at every request.
	Steps Steps `json:"steps"`
}

// Totals are cumulative figures over the first Requests records.
type Totals struct {
	Requests int `json:"requests"`
	// Quality is the mean recorded label over the labeled answers (the
	// data set's scale, as Summary.Quality).
	Quality float64 `json:"quality"`
	// CostUSD is the cost of every attempt of every turn, as
	// Summary.CostUSD.
	CostUSD float64 `json:"cost_usd"`
	// Reward is the summed reward, RewardPerRequest its mean.
	Reward           float64 `json:"reward"`
	RewardPerRequest float64 `json:"reward_per_request"`
}

// ArmResult is one arm answering alone.
type ArmResult struct {
	Arm string `json:"arm"`
	Totals
}

// Checkpoint compares the route with the best fixed arm and the oracle
// after Requests records.
type Checkpoint struct {
	Requests int `json:"requests"`
	// Route is the route's mean over the seeds; RewardMin and RewardMax
	// bound its reward over them (equal to Route.Reward with one seed).
	Route     Totals  `json:"route"`
	RewardMin float64 `json:"reward_min"`
	RewardMax float64 `json:"reward_max"`
	// FixedArm is the arm with the best reward over these records, alone.
	FixedArm string `json:"fixed_arm"`
	Fixed    Totals `json:"fixed"`
	// Oracle takes, per record, the arm with the best reward.
	Oracle Totals `json:"oracle"`
	// RegretFixed and RegretOracle are the reward those would have got
	// beyond the route's (negative: the route did better).
	RegretFixed  float64 `json:"regret_fixed"`
	RegretOracle float64 `json:"regret_oracle"`
}

// Steps holds, for t = 1..N, cumulative values over the first t records.
type Steps struct {
	// Reward is the route's summed reward (mean over seeds), RewardMin
	// and RewardMax its range over the seeds.
	Reward    []float64 `json:"reward"`
	RewardMin []float64 `json:"reward_min"`
	RewardMax []float64 `json:"reward_max"`
	// Quality is the route's summed normalized quality (in [0,1] per
	// request) and CostUSD its summed cost (mean over seeds).
	Quality []float64 `json:"quality"`
	CostUSD []float64 `json:"cost_usd"`
	// BestFixed is the best arm's summed reward over the first t records
	// (the arm may change with t) and Oracle the oracle's.
	BestFixed []float64 `json:"best_fixed"`
	Oracle    []float64 `json:"oracle"`
	// Arms is each arm's summed reward, in config order.
	Arms [][]float64 `json:"arms"`
}

// checkpointsAt are the request counts the learning curve is summarised
// at, with the whole data set.
var checkpointsAt = []int{500, 1000}

// recordReward is one record's figures as the reward sees them.
type recordReward struct {
	reward, qn, costUSD float64
	label               float64
	labeled             bool
}

// rewards turns a run's outcomes into per-record rewards.
func (b *banditNode) rewards(outs []outcome) []recordReward {
	out := make([]recordReward, len(outs))
	for i := range outs {
		o := &outs[i]
		r := recordReward{costUSD: o.cost.USD(), label: o.quality, labeled: o.labeled}
		if o.labeled {
			r.qn = min(1, max(0, (o.quality-b.fmin)/(b.fmax-b.fmin)))
		}
		r.reward = r.qn - b.lambda*o.routedCost.USD() - b.mu*o.latencyMS/1000
		out[i] = r
	}
	return out
}

// learningReport runs every arm of the route's bandit alone and, with
// several seeds, the route once per seed, and measures the route's runs
// (routeOuts: the configured run, used when there is one seed) against
// them.
func (e *Evaluator) learningReport(ctx context.Context, routeOuts []outcome) (*Learning, error) {
	b := e.bandit
	arms := make([][]recordReward, len(b.arms))
	for j, arm := range b.arms {
		variant, err := replaceAt(e.route, b.at, arm)
		if err != nil {
			return nil, err
		}
		sr, err := e.snapshot(variant)
		if err != nil {
			return nil, fmt.Errorf("eval: %s arm %s: %w", b.where, b.labels[j], err)
		}
		outs, err := e.runOn(ctx, sr)
		if err != nil {
			return nil, err
		}
		arms[j] = b.rewards(outs)
	}
	runs := [][]recordReward{b.rewards(routeOuts)}
	if s := e.opts.Seeds; s > 1 {
		runs = runs[:0]
		for seed := range uint64(s) {
			sr, err := e.snapshotSeeded(e.route, &seed)
			if err != nil {
				return nil, err
			}
			outs, err := e.runOn(ctx, sr)
			if err != nil {
				return nil, err
			}
			runs = append(runs, b.rewards(outs))
		}
	}
	l := b.measure(runs, arms)
	l.FeedbackDelay = e.feedbackDelay()
	return l, nil
}

// learningRuns is how many record runs learningReport makes.
func (e *Evaluator) learningRuns() int {
	if e.bandit == nil {
		return 0
	}
	n := len(e.bandit.arms)
	if e.opts.Seeds > 1 {
		n += e.opts.Seeds
	}
	return n
}

// cum is a running total of records' figures.
type cum struct {
	n, labeled          int
	label, cost, reward float64
}

func (c *cum) add(r *recordReward) {
	c.n++
	c.cost += r.costUSD
	c.reward += r.reward
	if r.labeled {
		c.labeled++
		c.label += r.label
	}
}

func (c *cum) totals() Totals {
	t := Totals{Requests: c.n, CostUSD: c.cost, Reward: c.reward}
	if c.labeled > 0 {
		t.Quality = c.label / float64(c.labeled)
	}
	if c.n > 0 {
		t.RewardPerRequest = c.reward / float64(c.n)
	}
	return t
}

// measure computes the curves and checkpoints of the route's runs (one per
// seed) against the arms, all over the same records.
func (b *banditNode) measure(runs, arms [][]recordReward) *Learning {
	n := len(runs[0])
	l := &Learning{Node: b.where, Kind: b.kind, Lambda: b.lambda, Mu: b.mu, FeedbackMin: b.fmin, FeedbackMax: b.fmax, Seeds: len(runs)}
	st := &l.Steps
	st.Reward, st.RewardMin, st.RewardMax = make([]float64, n), make([]float64, n), make([]float64, n)
	st.Quality, st.CostUSD = make([]float64, n), make([]float64, n)
	st.BestFixed, st.Oracle = make([]float64, n), make([]float64, n)
	st.Arms = make([][]float64, len(arms))
	k := float64(len(runs))
	want := map[int]bool{n: true}
	for _, c := range checkpointsAt {
		if c < n {
			want[c] = true
		}
	}
	routeCum := make([]cum, len(runs))
	armCum := make([]cum, len(arms))
	var oracle cum
	for j := range arms {
		st.Arms[j] = make([]float64, n)
	}
	for i := range n {
		lo, hi := math.Inf(1), math.Inf(-1)
		for s, run := range runs {
			routeCum[s].add(&run[i])
			st.Reward[i] += routeCum[s].reward / k
			st.Quality[i] += run[i].qn / k
			st.CostUSD[i] += run[i].costUSD / k
			lo, hi = min(lo, routeCum[s].reward), max(hi, routeCum[s].reward)
		}
		st.RewardMin[i], st.RewardMax[i] = lo, hi
		if i > 0 {
			st.Quality[i] += st.Quality[i-1]
			st.CostUSD[i] += st.CostUSD[i-1]
		}
		best := 0
		for j := range arms {
			armCum[j].add(&arms[j][i])
			st.Arms[j][i] = armCum[j].reward
			if arms[j][i].reward > arms[best][i].reward {
				best = j
			}
		}
		oracle.add(&arms[best][i])
		st.Oracle[i] = oracle.reward
		fixed := bestArm(armCum)
		st.BestFixed[i] = armCum[fixed].reward
		if want[i+1] {
			cp := Checkpoint{Requests: i + 1, RewardMin: lo, RewardMax: hi, FixedArm: b.labels[fixed],
				Fixed: armCum[fixed].totals(), Oracle: oracle.totals()}
			cp.Route = meanTotals(routeCum)
			cp.RegretFixed = cp.Fixed.Reward - cp.Route.Reward
			cp.RegretOracle = cp.Oracle.Reward - cp.Route.Reward
			l.Checkpoints = append(l.Checkpoints, cp)
		}
	}
	for j := range arms {
		l.Arms = append(l.Arms, ArmResult{Arm: b.labels[j], Totals: armCum[j].totals()})
	}
	l.BestArm = b.labels[bestArm(armCum)]
	return l
}

// bestArm returns the arm with the highest summed reward (the first on a
// tie).
func bestArm(c []cum) int {
	best := 0
	for j := range c {
		if c[j].reward > c[best].reward {
			best = j
		}
	}
	return best
}

// meanTotals averages the seeds' totals.
func meanTotals(c []cum) Totals {
	var out Totals
	k := float64(len(c))
	for i := range c {
		t := c[i].totals()
		out.Requests = t.Requests
		out.Quality += t.Quality / k
		out.CostUSD += t.CostUSD / k
		out.Reward += t.Reward / k
		out.RewardPerRequest += t.RewardPerRequest / k
	}
	return out
}
