package split

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/experiment"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

type rolloutConfig struct {
	Arm   string         `json:"arm"`
	From  *float64       `json:"from"`
	To    *float64       `json:"to"`
	Start string         `json:"start"`
	Over  *conf.Duration `json:"over"`
	Steps []stepConfig   `json:"steps"`
}

type stepConfig struct {
	At    string   `json:"at"`
	Share *float64 `json:"share"`
}

type promoteConfig struct {
	Metric         string   `json:"metric"`
	Confidence     *float64 `json:"confidence"`
	MinRequests    *float64 `json:"min_requests"`
	MaxQualityDrop *float64 `json:"max_quality_drop"`
	Effect         *float64 `json:"effect"`
}

// rollout is the ramped arm's share over time.
type rollout struct {
	arm      int
	from, to float64
	start    time.Time
	over     time.Duration
	steps    []step // sorted by time; when set, from/to are unused
}

type step struct {
	at    time.Time
	share float64
}

// share returns the ramped arm's share at now: linear from `from` at
// start to `to` at start+over, clamped outside; or the share of the last
// step at or before now (the first step's before it).
func (r *rollout) share(now time.Time) float64 {
	if len(r.steps) > 0 {
		s := r.steps[0].share
		for _, st := range r.steps {
			if !now.Before(st.at) {
				s = st.share
			}
		}
		return s
	}
	if r.over <= 0 || !now.Before(r.start.Add(r.over)) {
		if now.Before(r.start) {
			return r.from
		}
		return r.to
	}
	f := float64(now.Sub(r.start)) / float64(r.over)
	f = math.Max(0, math.Min(1, f))
	return r.from + (r.to-r.from)*f
}

// state is the experiment's shared state, cached from tally values.
type state struct {
	checking sync.Mutex
	ramp     atomic.Pointer[cached[rampValue]]
	promo    atomic.Pointer[cached[experiment.Promotion]]
}

type cached[T any] struct {
	raw []byte
	val *T
}

// rampValue is a manual ramp as stored.
type rampValue struct {
	Share   *float64           `json:"share,omitempty"`
	Weights map[string]float64 `json:"weights,omitempty"`
	Time    time.Time          `json:"time"`
}

func (n *Node) rampKey() string  { return "experiment/" + n.name + "/ramp" }
func (n *Node) promoKey() string { return "experiment/" + n.name + "/promotion" }

// load reads key's value through the cache c (decoding only on change).
func load[T any](p *atomic.Pointer[cached[T]], key string) *T {
	raw, ok := tally.Default.Get(key)
	if !ok || len(raw) == 0 {
		return nil
	}
	if c := p.Load(); c != nil && string(c.raw) == string(raw) {
		return c.val
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		v = nil
	}
	p.Store(&cached[T]{raw: raw, val: v})
	return v
}

// experimentName derives the default name: the route's name when the
// split is the route's root ("routes.X" or "routes.X.split"), else the
// path.
func experimentName(path string) (name, route string) {
	rest, ok := strings.CutPrefix(path, "routes.")
	if !ok {
		return path, ""
	}
	route = routeOf(rest)
	root := strings.TrimSuffix(rest, ".split")
	if root == route && !strings.ContainsAny(root, "[") {
		return route, route
	}
	return path, route
}

// routeOf returns the route name at the start of rest (a config path
// after "routes."). Route names may hold dots ("gpt-4.1-ab"), so the name
// ends before the first segment that is a registered policy kind; without
// one (or past a "["), at the first dot.
func routeOf(rest string) string {
	for i := 0; i < len(rest); i++ {
		if rest[i] == '[' {
			break
		}
		if rest[i] != '.' {
			continue
		}
		seg := rest[i+1:]
		if j := strings.IndexAny(seg, ".["); j >= 0 {
			seg = seg[:j]
		}
		if _, ok := policy.Lookup(seg); ok {
			return rest[:i]
		}
	}
	route, _, _ := strings.Cut(rest, ".")
	return route
}

func (n *Node) setupExperiment(path string, cfg *config) error {
	n.name, n.route = experimentName(path)
	if cfg.Name != "" {
		n.name = cfg.Name
	}
	if strings.ContainsAny(n.name, "/ ") {
		return conf.Errorf(conf.Join(path, "name"), "must not contain '/' or spaces, got %q", n.name)
	}
	n.learner = "split:" + n.name
	n.exp = &state{}
	if r := cfg.Rollout; r != nil {
		rp := conf.Join(path, "rollout")
		ro := &rollout{arm: -1}
		for i, a := range n.arms {
			if a.name == r.Arm {
				ro.arm = i
			}
		}
		if ro.arm < 0 {
			return conf.Errorf(conf.Join(rp, "arm"), "no arm named %q", r.Arm)
		}
		if len(r.Steps) > 0 {
			if r.From != nil || r.To != nil || r.Start != "" || r.Over != nil {
				return conf.Errorf(rp, "use either steps or from/to/start/over, not both")
			}
			for i, st := range r.Steps {
				sp := conf.Index(conf.Join(rp, "steps"), i)
				at, err := time.Parse(time.RFC3339, st.At)
				if err != nil {
					return conf.Errorf(conf.Join(sp, "at"), "want an RFC 3339 time, got %q", st.At)
				}
				if st.Share == nil || !(*st.Share >= 0 && *st.Share <= 1) {
					return conf.Errorf(conf.Join(sp, "share"), "required, in [0,1]")
				}
				ro.steps = append(ro.steps, step{at, *st.Share})
			}
			sort.SliceStable(ro.steps, func(i, j int) bool { return ro.steps[i].at.Before(ro.steps[j].at) })
		} else {
			for _, f := range []struct {
				name string
				v    *float64
				dst  *float64
			}{{"from", r.From, &ro.from}, {"to", r.To, &ro.to}} {
				if f.v == nil || !(*f.v >= 0 && *f.v <= 1) {
					return conf.Errorf(conf.Join(rp, f.name), "required, in [0,1]")
				}
				*f.dst = *f.v
			}
			start, err := time.Parse(time.RFC3339, r.Start)
			if err != nil {
				return conf.Errorf(conf.Join(rp, "start"), "want an RFC 3339 time, got %q", r.Start)
			}
			ro.start = start
			if r.Over == nil || r.Over.D() <= 0 {
				return conf.Errorf(conf.Join(rp, "over"), "required, a positive duration such as 72h")
			}
			ro.over = r.Over.D()
		}
		n.rollout = ro
	}
	if p := cfg.Promote; p != nil {
		pp := conf.Join(path, "promote")
		rule := &experiment.Rule{Metric: p.Metric, Confidence: 0.95, MinRequests: 200}
		switch p.Metric {
		case experiment.MetricCost, experiment.MetricQuality, experiment.MetricLatency, experiment.MetricErrorRate:
		default:
			return conf.Errorf(conf.Join(pp, "metric"), "want cost, quality, latency or error_rate, got %q", p.Metric)
		}
		if p.Confidence != nil {
			if c := *p.Confidence; !(c >= 0.5 && c < 1) {
				return conf.Errorf(conf.Join(pp, "confidence"), "must be in [0.5,1), got %v", c)
			}
			rule.Confidence = *p.Confidence
		}
		if p.MinRequests != nil {
			if m := *p.MinRequests; !(m >= 2 && m <= 1e12) {
				return conf.Errorf(conf.Join(pp, "min_requests"), "must be at least 2, got %v", m)
			}
			rule.MinRequests = *p.MinRequests
		}
		if p.MaxQualityDrop != nil {
			if d := *p.MaxQualityDrop; !(d >= 0) || math.IsInf(d, 1) {
				return conf.Errorf(conf.Join(pp, "max_quality_drop"), "must be a non-negative number, got %v", d)
			}
			rule.MaxQualityDrop = p.MaxQualityDrop
		}
		if p.Effect != nil {
			if e := *p.Effect; !(e > 0 && e <= 10) {
				return conf.Errorf(conf.Join(pp, "effect"), "must be in (0,10], got %v", e)
			}
			rule.Effect = *p.Effect
		}
		n.promote = rule
	}
	for i := range n.arms {
		v, err := tally.Default.Open(n.statsKey(i), experiment.Len)
		if err != nil {
			return conf.Errorf(path, "%v", err)
		}
		n.arms[i].stats = v
	}
	learning.Default.Offer(n.learner, n)
	experiment.Default.Offer(n.name, n)
	return nil
}

// statsKey is the tally key of arm i's statistics: stable across
// reloads, restarts and replicas as long as the experiment and arm keep
// their names.
func (n *Node) statsKey(i int) string {
	return "experiment/" + n.name + "/" + n.arms[i].name + "/v1"
}

// layout is how buckets map to arms at one moment.
type layout struct {
	promoted int // the promoted arm, -1 for none
	ramped   int // the ramped arm, -1 for none
	rshare   float64
	// base, for a manual share without a rollout, is the bucket range
	// [0, base) the other arms held in the configured layout: buckets
	// below it keep their configured arm (bucket/base over the other
	// arms' weights), so the first ramp moves no one between them.
	base float64
	// weights are the arms' relative weights: all arms without a ramp,
	// the other arms with one.
	weights []float64
	total   float64
}

// layout returns the current layout: a promotion sends everything to the
// winner; otherwise a manual ramp overrides the rollout, which overrides
// the configured weights.
func (n *Node) layout(now time.Time) layout {
	l := layout{promoted: -1, ramped: -1}
	if n.exp == nil {
		return l
	}
	if p := load(&n.exp.promo, n.promoKey()); p != nil {
		if i := n.armIndex(p.Winner); i >= 0 {
			l.promoted = i
			return l
		}
	}
	r := load(&n.exp.ramp, n.rampKey())
	switch {
	case r != nil && r.Weights != nil:
		l.weights = make([]float64, len(n.arms))
		for i, a := range n.arms {
			l.weights[i] = r.Weights[a.name]
			l.total += l.weights[i]
		}
		if l.total > 0 {
			return l
		}
		l.weights, l.total = nil, 0
	case r != nil && r.Share != nil:
		l.ramped, l.rshare = n.rampedArm(), *r.Share
		if n.rollout == nil && len(n.arms) > 1 {
			l.base = math.Max(0, math.Min(1, n.arms[len(n.arms)-2].upper))
		}
	case n.rollout != nil:
		l.ramped, l.rshare = n.rollout.arm, n.rollout.share(now)
	}
	if l.ramped >= 0 {
		l.weights = make([]float64, len(n.arms))
		for i, a := range n.arms {
			if i != l.ramped {
				l.weights[i] = a.weight
				l.total += a.weight
			}
		}
		if l.total <= 0 { // only the ramped arm has weight: the others share equally
			for i := range l.weights {
				if i != l.ramped {
					l.weights[i], l.total = 1, l.total+1
				}
			}
		}
	}
	return l
}

// rampedArm is the arm a manual share ramps: the rollout's, else the last.
func (n *Node) rampedArm() int {
	if n.rollout != nil {
		return n.rollout.arm
	}
	return len(n.arms) - 1
}

// pick returns the arm for bucket. With a ramped arm the arm takes
// [1-share, 1), and the others split the rest by an independent second
// bucket b2 (below l.base, by their configured buckets): raising the
// share only moves requests into the ramped arm and never moves one
// between the other arms.
func (l layout) pick(bucket, b2 float64, n *Node) int {
	switch {
	case l.promoted >= 0:
		return l.promoted
	case l.ramped >= 0:
		if bucket >= 1-l.rshare || len(n.arms) == 1 {
			return l.ramped
		}
		if bucket < l.base {
			return cumulative(l.weights, l.total, bucket/l.base, l.ramped)
		}
		return cumulative(l.weights, l.total, b2, l.ramped)
	case l.weights != nil:
		return cumulative(l.weights, l.total, bucket, -1)
	}
	return n.pick(bucket)
}

// cumulative walks weights (skipping index skip) and returns the index
// whose range holds x in [0,1).
func cumulative(w []float64, total, x float64, skip int) int {
	cum, last := 0.0, -1
	for i, wi := range w {
		if i == skip || wi <= 0 {
			continue
		}
		cum += wi
		last = i
		if x*total < cum {
			return i
		}
	}
	if last < 0 {
		return 0
	}
	return last
}

// share returns arm i's current share of traffic.
func (l layout) share(i int, n *Node) float64 {
	switch {
	case l.promoted >= 0:
		if i == l.promoted {
			return 1
		}
		return 0
	case l.ramped >= 0:
		if i == l.ramped {
			return l.rshare
		}
		return (1 - l.rshare) * l.weights[i] / l.total
	case l.weights != nil:
		return l.weights[i] / l.total
	}
	lo := 0.0
	if i > 0 {
		lo = math.Min(1, n.arms[i-1].upper)
	}
	return math.Min(1, n.arms[i].upper) - lo
}

func (n *Node) armIndex(name string) int {
	for i, a := range n.arms {
		if a.name == name {
			return i
		}
	}
	return -1
}

// decided returns the arm this node chose in d's trace, -1 if none.
func (n *Node) decided(d *store.Decision) int {
	if d == nil {
		return -1
	}
	for _, dec := range d.Trace.Decisions {
		if dec.Node != n.path || dec.Kind != "split" {
			continue
		}
		if id, _ := dec.Data[learning.DataKey].(string); id != n.learner {
			continue
		}
		name, _ := dec.Data["arm"].(string)
		if name == "" {
			name = dec.Decision
		}
		return n.armIndex(name)
	}
	return -1
}

// Finished adds the request's cost, latency, status and the gate scores
// under its arm to the arm's statistics, then checks the promotion rule.
func (n *Node) Finished(d *store.Decision) {
	i := n.decided(d)
	if i < 0 {
		return
	}
	o := experiment.Observation{Status: d.Status, CostUSD: d.CostMicros.USD(), LatencyMS: d.LatencyMS}
	if d.Status >= 400 && d.Status != 499 && d.Model == "" {
		for _, at := range d.Trace.Attempts {
			if at.Outcome == trace.OutcomeError {
				o.Failed = true
			}
		}
	}
	prefix := n.arms[i].path
	for _, dec := range d.Trace.Decisions {
		if dec.Kind != gate.DecisionKind || (dec.Decision != "pass" && dec.Decision != "fail") {
			continue
		}
		if dec.Node != prefix && !strings.HasPrefix(dec.Node, prefix+".") && !strings.HasPrefix(dec.Node, prefix+"[") {
			continue
		}
		if _, nested := dec.Data["parent"]; nested {
			continue
		}
		if s, ok := dec.Data["score"].(float64); ok {
			o.Gates = append(o.Gates, s)
		}
	}
	delta := make([]float64, experiment.Len)
	o.Add(delta)
	n.arms[i].stats.Add(delta)
	n.checkPromotion(time.Now())
}

// Feedback adds score to the arm's feedback, replacing previous.
func (n *Node) Feedback(d *store.Decision, score float64, previous *float64) {
	i := n.decided(d)
	if i < 0 {
		return
	}
	delta := make([]float64, experiment.Len)
	experiment.FeedbackDelta(delta, score, previous)
	n.arms[i].stats.Add(delta)
	n.checkPromotion(time.Now())
}

func (n *Node) inputs(now time.Time) []experiment.ArmInput {
	l := n.layout(now)
	in := make([]experiment.ArmInput, len(n.arms))
	var buf []float64
	for i, a := range n.arms {
		buf = a.stats.Values(buf)
		in[i] = experiment.ArmInput{Name: a.name, Share: l.share(i, n), Stats: experiment.Parse(buf)}
	}
	return in
}

// checkPromotion applies the promotion rule; one check runs at a time
// and a promoted experiment is not checked again.
func (n *Node) checkPromotion(now time.Time) {
	if n.promote == nil || !n.exp.checking.TryLock() {
		return
	}
	defer n.exp.checking.Unlock()
	if load(&n.exp.promo, n.promoKey()) != nil {
		return
	}
	p, _ := experiment.Decide(*n.promote, n.inputs(now), now)
	if p == nil {
		return
	}
	b, err := json.Marshal(p)
	if err == nil {
		err = tally.Default.Put(n.promoKey(), b)
	}
	if err != nil {
		slog.Error("experiment: could not store the promotion", "experiment", n.name, "err", err)
		return
	}
	slog.Info("experiment promoted its winner", "experiment", n.name, "route", n.route, "winner", p.Winner,
		"metric", p.Metric, "evidence", p.Evidence)
}

// Report returns the experiment's statistics, comparisons and state.
func (n *Node) Report(now time.Time) experiment.Report {
	conf := 0.95
	if n.promote != nil {
		conf = n.promote.Confidence
	}
	in := n.inputs(now)
	arms, cmp := experiment.Analyze(in, conf)
	r := experiment.Report{Name: n.name, Route: n.route, Node: n.path, Key: n.key, Confidence: conf, Arms: arms, Comparisons: cmp}
	if n.promote != nil {
		pv := &experiment.PromotionView{Metric: n.promote.Metric}
		pv.Promoted = load(&n.exp.promo, n.promoKey())
		if pv.Promoted == nil {
			_, pv.Status = experiment.Decide(*n.promote, in, now)
		}
		r.Promotion = pv
	} else if p := load(&n.exp.promo, n.promoKey()); p != nil {
		r.Promotion = &experiment.PromotionView{Metric: p.Metric, Promoted: p}
	}
	if rv := load(&n.exp.ramp, n.rampKey()); rv != nil {
		r.Ramp = rv
	}
	return r
}

// Ramp stores a manual ramp: share for the ramped arm (the rollout's
// arm, else the last arm), or weights by arm name. Replicas read it on
// their next request.
func (n *Node) Ramp(share *float64, weights map[string]float64) error {
	if load(&n.exp.promo, n.promoKey()) != nil {
		return experiment.ErrPromoted
	}
	v := rampValue{Time: time.Now().UTC()}
	switch {
	case share != nil && weights != nil:
		return fmt.Errorf("give either share or weights, not both")
	case share != nil:
		if s := *share; !(s >= 0 && s <= 1) {
			return fmt.Errorf("share must be in [0,1], got %v", s)
		}
		v.Share = share
	case weights != nil:
		total := 0.0
		for name, w := range weights {
			if n.armIndex(name) < 0 {
				return fmt.Errorf("no arm named %q", name)
			}
			if !(w >= 0 && w <= 1e9) {
				return fmt.Errorf("weight of %q must be in [0,1e9], got %v", name, w)
			}
			total += w
		}
		if total <= 0 {
			return fmt.Errorf("at least one arm needs a positive weight")
		}
		v.Weights = weights
	default:
		return fmt.Errorf("give share or weights")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tally.Default.Put(n.rampKey(), b)
}

var (
	_ learning.Learner  = (*Node)(nil)
	_ experiment.Source = (*Node)(nil)
)
