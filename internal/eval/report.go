package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/sextant-router/sextant/internal/catalog"
)

// Report is the result of an evaluation: the route as configured, every
// model alone, the random router and, when swept, the cost–quality curve.
// Its JSON form is what `sextant eval --format json` prints.
type Report struct {
	Config  string `json:"config,omitempty"`
	Route   string `json:"route"`
	Dataset string `json:"dataset"`
	// ExcludedContaminated counts records left out as contaminated.
	ExcludedContaminated int `json:"excluded_contaminated,omitempty"`
	// Strong and Weak are the catalog models PGR and cost share are
	// measured against.
	Strong string `json:"strong"`
	Weak   string `json:"weak"`
	// Summary is the route as configured.
	Summary
	Knob *KnobInfo `json:"knob,omitempty"`
	// Baselines has every model of the config answering every record
	// alone, in config order.
	Baselines    []Baseline    `json:"baselines"`
	RandomRouter *RandomRouter `json:"random_router,omitempty"`
	// Curve is set when the route's knob was swept.
	*Curve
	Models    []ModelInfo `json:"models"`
	Estimates []*Estimate `json:"estimates"`
	// Learning is the online-learning simulation, set when the route
	// holds a bandit.
	Learning *Learning `json:"learning,omitempty"`
}

// Baseline is one model answering every record alone.
type Baseline struct {
	Model       string `json:"model"`
	RecordModel string `json:"record_model,omitempty"`
	Summary
}

// RandomRouter is the random router between the weak and the strong model
// (each request to the strong one with probability s), in expectation: its
// curve is the straight line between the weak-only and strong-only points,
// so its APGR is 0.5 and CPT(x) is x against strong-call share. It is
// what ../shared/data/baselines.json averages 200 simulations to.
type RandomRouter struct {
	APGR      float64 `json:"apgr"`
	CPT50     float64 `json:"cpt50"`
	CPT80     float64 `json:"cpt80"`
	APGRCost  float64 `json:"apgr_cost"`
	CPT50Cost float64 `json:"cpt50_cost"`
	CPT80Cost float64 `json:"cpt80_cost"`
	// WeakCostShare is the weak model's cost relative to the strong one:
	// where the random router's cost-share axis starts.
	WeakCostShare float64 `json:"weak_cost_share"`
}

// Curve is a sweep of the route's knob.
type Curve struct {
	// Points are the sweep's points in sweep order.
	Points []Point `json:"points"`
	// Seeds is how many seeds each point was averaged over (randomized
	// kinds with --seeds), 1 otherwise.
	Seeds int `json:"seeds"`
	// APGR, CPT50 and CPT80 are against strong-call share (shares in
	// [0,1]); null when undefined (no quality gap, a curve of no width, or
	// a PGR never reached). Over several seeds APGR is the mean of the
	// seeds' APGRs and APGRStd their standard deviation; the CPTs are
	// those of the mean curve, as in baselines.json.
	APGR    *float64 `json:"apgr"`
	APGRStd *float64 `json:"apgr_std,omitempty"`
	CPT50   *float64 `json:"cpt50"`
	CPT80   *float64 `json:"cpt80"`
	// The same against cost share.
	APGRCost  *float64 `json:"apgr_cost"`
	CPT50Cost *float64 `json:"cpt50_cost"`
	CPT80Cost *float64 `json:"cpt80_cost"`
	// Frontier is the Pareto frontier of quality against cost share over
	// the points, the route as configured and the single models, by cost.
	Frontier []FrontierPoint `json:"frontier"`
}

// Point is one knob value of a sweep.
type Point struct {
	Knob float64 `json:"knob"`
	Summary
}

// FrontierPoint is a point of the Pareto frontier.
type FrontierPoint struct {
	// Label is "point", "configured" or "model".
	Label       string   `json:"label"`
	Knob        *float64 `json:"knob,omitempty"`
	Model       string   `json:"model,omitempty"`
	CostShare   float64  `json:"cost_share"`
	StrongShare float64  `json:"strong_share"`
	Quality     float64  `json:"quality"`
}

// ModelInfo says how eval ran a model of the config.
type ModelInfo struct {
	Name        string `json:"name"`
	Provider    string `json:"provider"`
	RecordModel string `json:"record_model,omitempty"`
	Note        string `json:"note,omitempty"`
	// OutputTokensEstimate is charged for its answers without text.
	OutputTokensEstimate int `json:"output_tokens_estimate"`
}

// Sweep asks for a sweep of the route's knob.
type Sweep struct {
	// Values are the knob values; nil means the kind's default range.
	Values []float64
	// Seeds, for a randomized kind (one whose knob has a seed), averages
	// every point over seeds 0..Seeds-1; default 1 (the configured seed).
	Seeds int
}

// baselines runs every model alone, picks the strong and weak models and
// returns the references.
func (e *Evaluator) baselines(ctx context.Context, sr *snapshotRoute) ([]Baseline, *refs, error) {
	outs := make([][]outcome, len(e.fleet))
	for i, m := range e.fleet {
		o, err := e.run(ctx, sr.snap, m.Name)
		if err != nil {
			return nil, nil, err
		}
		outs[i] = o
	}
	cost := func(i int) catalog.Micros {
		var c catalog.Micros
		for _, o := range outs[i] {
			c += o.cost
		}
		return c
	}
	r := &refs{strong: -1, weak: -1}
	if e.opts.Strong != "" {
		r.strong = e.index[e.opts.Strong]
	}
	if e.opts.Weak != "" {
		r.weak = e.index[e.opts.Weak]
	}
	if r.strong < 0 || r.weak < 0 {
		// The labeled models with the highest and lowest cost; unlabeled
		// ones only when none is labeled. Ties go to config order.
		labeled := false
		for _, m := range e.fleet {
			labeled = labeled || m.RecordModel != ""
		}
		hi, lo := -1, -1
		for i, m := range e.fleet {
			if labeled && m.RecordModel == "" {
				continue
			}
			if hi < 0 || cost(i) > cost(hi) {
				hi = i
			}
			if lo < 0 || cost(i) < cost(lo) {
				lo = i
			}
		}
		if r.strong < 0 {
			r.strong = hi
		}
		if r.weak < 0 {
			r.weak = lo
		}
	}
	r.strongCost = cost(r.strong)
	plain := make([]Summary, len(e.fleet))
	for i := range e.fleet {
		plain[i] = e.summarize(outs[i], nil)
	}
	r.qStrong, r.qWeak = plain[r.strong].Quality, plain[r.weak].Quality
	if r.strongCost > 0 {
		r.line = randomLine{qWeak: r.qWeak, qStrong: r.qStrong, r: float64(cost(r.weak)) / float64(r.strongCost)}
		r.hasLine = r.strong != r.weak
	}
	var out []Baseline
	for i, m := range e.fleet {
		s := e.summarize(outs[i], r)
		s.ByModel, s.Random = nil, nil
		out = append(out, Baseline{Model: m.Name, RecordModel: m.RecordModel, Summary: s})
	}
	return out, r, nil
}

// Evaluate runs the baselines and the route as configured and, when sweep
// is not nil, sweeps the route's knob.
func (e *Evaluator) Evaluate(ctx context.Context, sweep *Sweep) (*Report, error) {
	info, hasKnob := e.Knob()
	var values []float64
	seeds := 1
	if sweep != nil && hasKnob {
		values = sweep.Values
		if values == nil {
			values = info.Default
		}
		for _, v := range values {
			if v < info.Min || v > info.Max {
				return nil, fmt.Errorf("eval: sweep value %v of %s.%s is outside [%v,%v]", v, info.Kind, info.Field, info.Min, info.Max)
			}
		}
		if sweep.Seeds > 1 && info.spec.SeedField != "" {
			seeds = sweep.Seeds
		}
	}
	e.plan(len(e.fleet) + 1 + len(values)*seeds + e.learningRuns())
	sr, err := e.snapshot(e.route)
	if err != nil {
		return nil, err
	}
	base, r, err := e.baselines(ctx, sr)
	if err != nil {
		return nil, err
	}
	outs, err := e.runOn(ctx, sr)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Config: e.opts.ConfigName, Route: e.opts.Route, Dataset: e.opts.Dataset, ExcludedContaminated: e.dropped,
		Strong: e.fleet[r.strong].Name, Weak: e.fleet[r.weak].Name,
		Summary: e.summarize(outs, r), Baselines: base,
	}
	if hasKnob {
		rep.Knob = info
	}
	if r.hasLine {
		rep.RandomRouter = randomRouter(r.line.r)
	}
	for _, m := range e.fleet {
		rep.Models = append(rep.Models, ModelInfo{Name: m.Name, Provider: m.Provider, RecordModel: m.RecordModel, Note: m.Note, OutputTokensEstimate: m.estimate})
	}
	for _, name := range sortedKeys(e.estimates) {
		rep.Estimates = append(rep.Estimates, e.estimates[name])
	}
	if e.bandit != nil {
		if rep.Learning, err = e.learningReport(ctx, outs); err != nil {
			return nil, err
		}
	}
	if sweep == nil {
		return rep, nil
	}
	rep.Curve = &Curve{Seeds: seeds}
	if !hasKnob {
		// A kind without a knob is a single point.
		rep.Curve.Points = []Point{{Knob: math.NaN(), Summary: rep.Summary}}
	}
	perSeed := make([][]Summary, seeds)
	for _, v := range values {
		runs := make([]Summary, seeds)
		for s := range seeds {
			sum, err := e.runKnob(ctx, info, v, seeds > 1, uint64(s), r)
			if err != nil {
				return nil, err
			}
			runs[s] = sum
			perSeed[s] = append(perSeed[s], sum)
		}
		avg := average(runs)
		e.measure(&avg, r)
		rep.Curve.Points = append(rep.Curve.Points, Point{Knob: v, Summary: avg})
	}
	e.curveMetrics(rep, perSeed)
	return rep, nil
}

// runKnob evaluates the route with its knob set to v (and its seed, when
// seeded).
func (e *Evaluator) runKnob(ctx context.Context, info *KnobInfo, v float64, seeded bool, seed uint64, r *refs) (Summary, error) {
	raw, err := info.spec.Set(e.route, v)
	if err == nil && seeded {
		raw, err = info.spec.SetSeed(raw, seed)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("eval: set the knob of route %s: %w", e.opts.Route, err)
	}
	sr, err := e.snapshot(raw)
	if err != nil {
		return Summary{}, fmt.Errorf("eval: route %s with %s=%v: %w", e.opts.Route, info.Field, v, err)
	}
	outs, err := e.runOn(ctx, sr)
	if err != nil {
		return Summary{}, err
	}
	return e.summarize(outs, r), nil
}

func randomRouter(r float64) *RandomRouter {
	share := []XY{{0, 0}, {1, 1}}
	cost := []XY{{r, 0}, {1, 1}}
	rr := &RandomRouter{WeakCostShare: r}
	rr.APGR, _ = APGR(share)
	rr.CPT50, _ = CPT(share, 0.5)
	rr.CPT80, _ = CPT(share, 0.8)
	rr.APGRCost, _ = APGR(cost)
	rr.CPT50Cost, _ = CPT(cost, 0.5)
	rr.CPT80Cost, _ = CPT(cost, 0.8)
	return rr
}

// curveMetrics fills APGR, CPT and the frontier of a swept report.
func (e *Evaluator) curveMetrics(rep *Report, perSeed [][]Summary) {
	c := rep.Curve
	byShare, byCost := curveXY(c.Points)
	opt := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	if byShare != nil {
		c.APGR = opt(APGR(byShare))
		c.CPT50 = opt(CPT(byShare, 0.5))
		c.CPT80 = opt(CPT(byShare, 0.8))
		c.APGRCost = opt(APGR(byCost))
		c.CPT50Cost = opt(CPT(byCost, 0.5))
		c.CPT80Cost = opt(CPT(byCost, 0.8))
	}
	if len(perSeed) > 1 && perSeed[0] != nil {
		var apgrs []float64
		for _, runs := range perSeed {
			pts := make([]Point, len(runs))
			for i, s := range runs {
				pts[i] = Point{Summary: s}
			}
			xy, _ := curveXY(pts)
			if a, ok := APGR(xy); ok && xy != nil {
				apgrs = append(apgrs, a)
			}
		}
		if len(apgrs) == len(perSeed) {
			mean, std := meanStd(apgrs)
			c.APGR, c.APGRStd = &mean, &std
		}
	}
	// Frontier over everything measured.
	var cands []FrontierPoint
	for _, p := range c.Points {
		if math.IsNaN(p.Knob) {
			continue
		}
		k := p.Knob
		cands = append(cands, FrontierPoint{Label: "point", Knob: &k, CostShare: p.CostShare, StrongShare: p.StrongShare, Quality: p.Quality})
	}
	cands = append(cands, FrontierPoint{Label: "configured", Knob: knobValue(rep.Knob), CostShare: rep.CostShare, StrongShare: rep.StrongShare, Quality: rep.Quality})
	for _, b := range rep.Baselines {
		if b.Labeled == 0 {
			continue
		}
		cands = append(cands, FrontierPoint{Label: "model", Model: b.Model, CostShare: b.CostShare, StrongShare: b.StrongShare, Quality: b.Quality})
	}
	cost := make([]float64, len(cands))
	quality := make([]float64, len(cands))
	for i, fp := range cands {
		cost[i], quality[i] = fp.CostShare, fp.Quality
	}
	c.Frontier = []FrontierPoint{}
	for _, i := range Pareto(cost, quality) {
		c.Frontier = append(c.Frontier, cands[i])
	}
}

func knobValue(k *KnobInfo) *float64 {
	if k == nil {
		return nil
	}
	return k.Value
}

// curveXY returns the PGR curve against strong-call share and against cost
// share, nil when PGR is undefined.
func curveXY(pts []Point) (byShare, byCost []XY) {
	for _, p := range pts {
		if p.PGR == nil {
			return nil, nil
		}
		byShare = append(byShare, XY{p.StrongShare, *p.PGR})
		byCost = append(byCost, XY{p.CostShare, *p.PGR})
	}
	return byShare, byCost
}

// meanStd returns the mean and the sample standard deviation.
func meanStd(v []float64) (float64, float64) {
	mean := 0.0
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// MarshalJSON keeps NaN knobs (a route without a knob) out of the JSON.
func (p Point) MarshalJSON() ([]byte, error) {
	type plain Point
	if math.IsNaN(p.Knob) {
		return json.Marshal(struct {
			Knob *float64 `json:"knob"`
			Summary
		}{nil, p.Summary})
	}
	return json.Marshal(plain(p))
}
