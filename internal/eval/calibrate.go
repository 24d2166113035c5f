package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/eval/knob"
)

// Calibration metrics.
const (
	MetricStrongShare = "strong_share"
	MetricCostShare   = "cost_share"
)

// Target is what Calibrate aims for: a strong-call share or a cost share
// in [0,1].
type Target struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
}

// Calibration is the knob value that hits a target, like RouteLLM's
// threshold calibration, and what the route does there.
type Calibration struct {
	Route  string  `json:"route"`
	Kind   string  `json:"kind"`
	Field  string  `json:"field"`
	Target Target  `json:"target"`
	Knob   float64 `json:"knob"`
	// Achieved is the metric at Knob; with a finite data set it is a step
	// function of the knob, so it can miss the target by up to one
	// record's share.
	Achieved float64 `json:"achieved"`
	// Summary is the route evaluated at Knob.
	Summary Summary `json:"summary"`
	Strong  string  `json:"strong"`
	Weak    string  `json:"weak"`
	// ConfigPath and Line give the setting: "routes.r.split.share" and
	// "routes.r.split.share: 0.3012"; Route is the whole route with it.
	ConfigPath  string          `json:"config_path"`
	Line        string          `json:"line"`
	RouteConfig json.RawMessage `json:"route_config"`
	Evaluations int             `json:"evaluations"`
}

// maxBisect bounds the bisection; 2^-30 of the knob's range is far finer
// than any data set's steps.
const maxBisect = 30

// Calibrate finds the knob value of the route's top kind at which the
// route's strong-call share (or cost share) is closest to the target. It
// evaluates the route at the knob's ends, then bisects: whether the metric
// rises or falls with the knob is read from the ends, and the search stops
// when the metric is within half a record's share of the target or the
// interval is 1e-6 of the range.
func (e *Evaluator) Calibrate(ctx context.Context, t Target) (*Calibration, error) {
	if t.Metric != MetricStrongShare && t.Metric != MetricCostShare {
		return nil, fmt.Errorf("eval: unknown calibration metric %q", t.Metric)
	}
	if !(t.Value >= 0 && t.Value <= 1) {
		return nil, fmt.Errorf("eval: the target must be in [0,1], got %v", t.Value)
	}
	info, ok := e.Knob()
	if !ok {
		return nil, errors.New("eval: the route's top node has no knob to calibrate (kinds with one: " + strings.Join(knob.Kinds(), ", ") + ")")
	}
	e.plan(len(e.fleet))
	sr, err := e.snapshot(e.route)
	if err != nil {
		return nil, err
	}
	_, r, err := e.baselines(ctx, sr)
	if err != nil {
		return nil, err
	}
	c := &Calibration{Route: e.opts.Route, Kind: info.Kind, Field: info.Field, Target: t, Strong: e.fleet[r.strong].Name, Weak: e.fleet[r.weak].Name}
	metric := func(s Summary) float64 {
		if t.Metric == MetricCostShare {
			return s.CostShare
		}
		return s.StrongShare
	}
	type probe struct {
		knob float64
		sum  Summary
	}
	eval := func(v float64) (probe, error) {
		e.plan(1)
		c.Evaluations++
		s, err := e.runKnob(ctx, info, v, false, 0, r)
		return probe{v, s}, err
	}
	lo, err := eval(info.Min)
	if err != nil {
		return nil, err
	}
	hi, err := eval(info.Max)
	if err != nil {
		return nil, err
	}
	best := lo
	better := func(p probe) {
		d, bd := math.Abs(metric(p.sum)-t.Value), math.Abs(metric(best.sum)-t.Value)
		if d < bd || (d == bd && p.sum.CostMicros < best.sum.CostMicros) {
			best = p
		}
	}
	better(hi)
	mlo, mhi := metric(lo.sum), metric(hi.sum)
	if t.Value < math.Min(mlo, mhi)-1e-12 || t.Value > math.Max(mlo, mhi)+1e-12 {
		return nil, fmt.Errorf("eval: %s %v is out of reach: over %s.%s in [%v,%v] it goes from %.4f to %.4f",
			t.Metric, t.Value, info.Kind, info.Field, info.Min, info.Max, mlo, mhi)
	}
	rising := mhi >= mlo
	tol := 0.5 / float64(len(e.records))
	width := (info.Max - info.Min) * 1e-6
	for range maxBisect {
		if math.Abs(metric(best.sum)-t.Value) <= tol || hi.knob-lo.knob <= width {
			break
		}
		mid, err := eval(knob.Round((lo.knob + hi.knob) / 2))
		if err != nil {
			return nil, err
		}
		better(mid)
		if (metric(mid.sum) < t.Value) == rising {
			lo = mid
		} else {
			hi = mid
		}
	}
	c.Knob, c.Achieved, c.Summary = best.knob, metric(best.sum), best.sum
	raw, err := info.spec.Set(e.route, best.knob)
	if err != nil {
		return nil, err
	}
	c.RouteConfig = raw
	c.ConfigPath = "routes." + e.opts.Route + "." + info.Kind + "." + info.Field
	c.Line = c.ConfigPath + ": " + strconv.FormatFloat(best.knob, 'f', -1, 64)
	return c, nil
}
