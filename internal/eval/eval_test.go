package eval

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/split"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/trace"
)

// The tiny data set (testdata/tiny.jsonl) by hand. Every prompt and
// answer word is one cl100k token; a one-turn request's prompt is 8 tokens
// (3 for the reply primer, 3 per message, 1 for "user", 1 for the word);
// the second turn of t/6 (user, assistant, user) is 18.
//
//	record  strong (big: $10/$30 per 1M)        weak (small: $1/$2 per 1M)
//	t/1     q 1,   8+1 tokens   = 110 µ$        q 0,   8+1  = 10 µ$
//	t/2     q 1,   8+7 tokens   = 290 µ$        q 1,   8+1  = 10 µ$
//	t/3     q 0,   8+1          = 110 µ$        q 0,   8+1  = 10 µ$
//	t/4     q 1,   8+2 estimate = 140 µ$        q 0,   8+1 estimate = 10 µ$
//	t/5     q 1,   8+1          = 110 µ$        no label, 8+1 = 10 µ$
//	t/6     q 0.5, 8+1 + 18+1   = 320 µ$        q 0.5, 8+1 + 18+1 = 30 µ$
//
// Estimates: big has 6 answer texts of 12 tokens (mean 2); small 6 of 6
// tokens (mean 1); t/4 has no text, so it is charged the estimate.
var (
	strongCost = []int64{110, 290, 110, 140, 110, 320}
	weakCost   = []int64{10, 10, 10, 10, 10, 30}
	strongQ    = []float64{1, 1, 0, 1, 1, 0.5}
	weakQ      = []float64{0, 1, 0, 0, math.NaN(), 0.5} // NaN: no label
	// Modeled latency of the first turn: strong ttft 100ms + 100ms per
	// token after the first, weak 50ms + 50ms.
	strongLatency = []float64{100, 700, 100, 200, 100, 100}
)

func tinyOptions(t testing.TB) Options {
	t.Helper()
	var opts Options
	if err := Load(filepath.Join("testdata", "tiny.yaml"), &opts); err != nil {
		t.Fatal(err)
	}
	opts.Dataset = filepath.Join("testdata", "tiny.jsonl")
	opts.Concurrency = 3
	return opts
}

func evaluate(t *testing.T, route string, sweep *Sweep, mod func(*Options)) *Report {
	t.Helper()
	opts := tinyOptions(t)
	opts.Route = route
	if mod != nil {
		mod(&opts)
	}
	ev, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ev.Evaluate(context.Background(), sweep)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func check(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestHandAssumptions(t *testing.T) {
	for _, w := range []string{"one", "two", "three", "four", "five", "six", "seven", "yes", "no", "ok", "user", "assistant"} {
		if n := tokens.Count(w); n != 1 {
			t.Fatalf("%q is %d tokens; the hand sums assume 1", w, n)
		}
	}
	if n := tokens.Count("yes yes yes yes yes yes yes"); n != 7 {
		t.Fatalf("seven yeses are %d tokens", n)
	}
}

func TestStrongOnly(t *testing.T) {
	rep := evaluate(t, "strong", nil, nil)
	if rep.Strong != "large" || rep.Weak != "little" {
		t.Fatalf("strong/weak = %s/%s", rep.Strong, rep.Weak)
	}
	s := rep.Summary
	if s.N != 6 || s.Labeled != 6 || s.Unlabeled != 0 || s.Failed != 0 || s.EstimatedAnswers != 1 {
		t.Fatalf("counts %+v", s)
	}
	check(t, "quality", s.Quality, 4.5/6)
	if s.CostMicros != 1080 {
		t.Errorf("cost %d µ$, want 1080", s.CostMicros)
	}
	check(t, "cost_usd", s.CostUSD, 0.00108)
	check(t, "cost per request", s.CostPerRequestUSD, 0.00108/6)
	check(t, "strong share", s.StrongShare, 1)
	check(t, "cost share", s.CostShare, 1)
	if s.PGR == nil || *s.PGR != 1 {
		t.Errorf("PGR %v", s.PGR)
	}
	// Latencies 100,100,100,100,200,700: linear interpolation between ranks.
	check(t, "p50", s.LatencyMS.P50, 100)
	check(t, "p90", s.LatencyMS.P90, 450)
	check(t, "p99", s.LatencyMS.P99, 675)
	check(t, "mean latency", s.LatencyMS.Mean, 1300.0/6)
	m := s.ByModel["large"]
	// Six routed requests and the second turn of t/6.
	if m.Answered != 6 || m.Calls != 7 || m.AnsweredShare != 1 || m.CallShare != 1 {
		t.Errorf("by model %+v", m)
	}
	check(t, "strong model cost", m.CostUSD, 0.00108)
}

func TestWeakOnlyCountsUnlabeled(t *testing.T) {
	s := evaluate(t, "weak", nil, nil).Summary
	if s.N != 6 || s.Labeled != 5 || s.Unlabeled != 1 || s.Failed != 0 {
		t.Fatalf("counts %+v", s)
	}
	check(t, "quality", s.Quality, 1.5/5)
	if s.CostMicros != 80 {
		t.Errorf("cost %d µ$, want 80", s.CostMicros)
	}
	check(t, "cost share", s.CostShare, 80.0/1080)
	check(t, "strong share", s.StrongShare, 0)
	if s.PGR == nil || *s.PGR != 0 {
		t.Errorf("PGR %v", s.PGR)
	}
	check(t, "p99", s.LatencyMS.P99, 50)
	if s.Random == nil {
		t.Fatal("no random router match")
	}
	// At its own cost share the random router sends nothing to strong.
	check(t, "random share at cost", s.Random.StrongShareAtCostShare, 0)
	check(t, "random quality at cost", s.Random.QualityAtCostShare, 0.3)
}

func TestCallsVersusAnswers(t *testing.T) {
	// fallback: [flaky, strong]: flaky fails every call (not retried), so
	// strong answers everything; the calls are split 6 to 7.
	s := evaluate(t, "fallback", nil, nil).Summary
	if s.Labeled != 6 || s.Failed != 0 {
		t.Fatalf("counts %+v", s)
	}
	check(t, "quality", s.Quality, 0.75)
	if s.CostMicros != 1080 {
		t.Errorf("cost %d", s.CostMicros)
	}
	check(t, "answered by strong", s.ByModel["large"].AnsweredShare, 1)
	check(t, "calls to strong", s.ByModel["large"].CallShare, 7.0/13)
	check(t, "calls to flaky", s.ByModel["flaky"].CallShare, 6.0/13)
	check(t, "answered by flaky", s.ByModel["flaky"].AnsweredShare, 0)
	check(t, "strong share", s.StrongShare, 1)
	// Failed attempts take no modeled time.
	check(t, "p90", s.LatencyMS.P90, 450)
}

func TestFailuresAreCounted(t *testing.T) {
	s := evaluate(t, "broken", nil, nil).Summary
	if s.N != 6 || s.Failed != 6 || s.Labeled != 0 {
		t.Fatalf("counts %+v", s)
	}
	total := 0
	for _, n := range s.Errors {
		total += n
	}
	if total != 6 {
		t.Fatalf("errors %v", s.Errors)
	}
}

// splitAssignment returns, per record, whether the random route (share,
// seed) sends its first turn to the strong model, computed with the split
// node itself.
func splitAssignment(t *testing.T, share float64, seed int) []bool {
	t.Helper()
	raw := json.RawMessage(`{"share":` + jsonNum(share) + `,"a":"s","b":"w","seed":` + jsonNum(float64(seed)) + `}`)
	n, err := split.New(nameBuilder{}, "p", raw)
	if err != nil {
		t.Fatal(err)
	}
	var out []bool
	for _, p := range []string{"one", "two", "three", "four", "five", "six"} {
		c := &policy.Call{Request: &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: p}}}, Trace: trace.New(time.Now())}
		o, err := n.Serve(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Model == "s")
	}
	return out
}

type nameBuilder struct{}

func (nameBuilder) HasModel(string) bool { return true }
func (nameBuilder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, conf.Errorf(path, "names only")
	}
	return named(name), nil
}

type named string

func (n named) Serve(context.Context, *policy.Call) (*policy.Outcome, error) {
	return &policy.Outcome{Model: string(n)}, nil
}

func jsonNum(v float64) string { b, _ := json.Marshal(v); return string(b) }

// expected returns what the random route must give for an assignment.
func expected(strong []bool) (quality float64, labeled int, cost int64, share float64) {
	sum := 0.0
	for i, s := range strong {
		q := weakQ[i]
		cost += weakCost[i]
		if s {
			q = strongQ[i]
			cost += strongCost[i] - weakCost[i]
			share++
		}
		if !math.IsNaN(q) {
			sum += q
			labeled++
		}
	}
	return sum / float64(labeled), labeled, cost, share / float64(len(strong))
}

func TestRandomRouteMatchesItsAssignment(t *testing.T) {
	rep := evaluate(t, "random", &Sweep{Values: []float64{0, 0.5, 1}, Seeds: 3}, nil)
	s := rep.Summary
	q, labeled, cost, share := expected(splitAssignment(t, 0.5, 0))
	check(t, "quality", s.Quality, q)
	check(t, "strong share", s.StrongShare, share)
	if s.Labeled != labeled || s.CostMicros != cost {
		t.Errorf("labeled %d cost %d, want %d %d", s.Labeled, s.CostMicros, labeled, cost)
	}
	check(t, "cost share", s.CostShare, float64(cost)/1080)
	// The random router at the same cost share.
	r := 80.0 / 1080
	wantShare := min(1, max(0, (float64(cost)/1080-r)/(1-r)))
	check(t, "random share at cost", s.Random.StrongShareAtCostShare, wantShare)
	check(t, "random quality at cost", s.Random.QualityAtCostShare, 0.3+wantShare*(0.75-0.3))
	check(t, "random quality at share", s.Random.QualityAtStrongShare, 0.3+share*(0.75-0.3))

	// The sweep: each point the mean of seeds 0, 1 and 2.
	c := rep.Curve
	if c == nil || len(c.Points) != 3 || c.Seeds != 3 || rep.Knob == nil || rep.Knob.Field != "share" || *rep.Knob.Value != 0.5 {
		t.Fatalf("curve %+v knob %+v", c, rep.Knob)
	}
	ends := map[float64][2]float64{0: {0.3, 0}, 1: {0.75, 1}}
	for _, p := range c.Points {
		if want, ok := ends[p.Knob]; ok {
			check(t, "end quality", p.Quality, want[0])
			check(t, "end share", p.StrongShare, want[1])
			continue
		}
		var qs, shares []float64
		var pgrs []float64
		for seed := range 3 {
			q, _, _, sh := expected(splitAssignment(t, 0.5, seed))
			qs, shares = append(qs, q), append(shares, sh)
			pgrs = append(pgrs, (q-0.3)/(0.75-0.3))
		}
		mq, _ := meanStd(qs)
		ms, _ := meanStd(shares)
		check(t, "mid quality", p.Quality, mq)
		check(t, "mid share", p.StrongShare, ms)
		check(t, "mid PGR", *p.PGR, (mq-0.3)/0.45)
		// APGR is the mean over seeds of each seed's curve area.
		var apgrs []float64
		for seed := range 3 {
			a, _ := APGR([]XY{{0, 0}, {shares[seed], pgrs[seed]}, {1, 1}})
			apgrs = append(apgrs, a)
		}
		ma, sd := meanStd(apgrs)
		check(t, "APGR", *c.APGR, ma)
		check(t, "APGR std", *c.APGRStd, sd)
		cpt, _ := CPT([]XY{{0, 0}, {ms, p.PGR2()}, {1, 1}}, 0.5)
		check(t, "CPT50", *c.CPT50, cpt)
	}
	if len(c.Frontier) == 0 || c.Frontier[0].Model != "little" && c.Frontier[0].Label != "point" {
		t.Errorf("frontier %+v", c.Frontier)
	}
}

// PGR2 dereferences a point's PGR for tests.
func (p Point) PGR2() float64 { return *p.PGR }

func TestExcludeContaminatedAndLimit(t *testing.T) {
	rep := evaluate(t, "strong", nil, func(o *Options) { o.ExcludeContaminated = true })
	if rep.N != 5 || rep.ExcludedContaminated != 1 || rep.CostMicros != 760 {
		t.Fatalf("n %d excluded %d cost %d", rep.N, rep.ExcludedContaminated, rep.CostMicros)
	}
	rep = evaluate(t, "strong", nil, func(o *Options) { o.Limit = 2 })
	if rep.N != 2 || rep.CostMicros != 400 {
		t.Fatalf("n %d cost %d", rep.N, rep.CostMicros)
	}
}

func TestOutputTokensFlag(t *testing.T) {
	// t/4 charged 5 output tokens instead of the estimate of 2: 3 × $30/1M more.
	rep := evaluate(t, "strong", nil, func(o *Options) { o.OutputTokens = 5 })
	if rep.CostMicros != 1080+90 {
		t.Fatalf("cost %d", rep.CostMicros)
	}
}

func TestFleetRewrite(t *testing.T) {
	rep := evaluate(t, "strong", nil, nil)
	byName := map[string]ModelInfo{}
	for _, m := range rep.Models {
		byName[m.Name] = m
	}
	if m := byName["large"]; m.Provider != "replay" || m.RecordModel != "big" || m.OutputTokensEstimate != 2 || m.Note != "" {
		t.Errorf("strong %+v", m)
	}
	if m := byName["little"]; m.OutputTokensEstimate != 1 {
		t.Errorf("weak %+v", m)
	}
	if m := byName["flaky"]; m.Provider != "sim" || m.RecordModel != "" || !strings.Contains(m.Note, "unlabeled") {
		t.Errorf("flaky %+v", m)
	}
	// A live model the data set has answers for is replayed.
	if m := byName["live"]; m.Provider != "replay" || m.RecordModel != "small" || !strings.Contains(m.Note, "openai") {
		t.Errorf("live %+v", m)
	}
	if len(rep.Baselines) != 4 {
		t.Fatalf("baselines %+v", rep.Baselines)
	}
	live := rep.Baselines[3]
	if live.CostMicros != 80 || !near(live.Quality, 0.3) || live.Unlabeled != 1 {
		t.Errorf("live baseline %+v", live)
	}
	flaky := rep.Baselines[2]
	if flaky.Failed != 6 {
		t.Errorf("flaky baseline %+v", flaky)
	}
	var est *Estimate
	for _, e := range rep.Estimates {
		if e.RecordModel == "big" {
			est = e
		}
	}
	if est == nil || est.OutputTokens != 2 || est.Basis != "model" || est.WithText != 6 || est.WithoutText != 1 {
		t.Errorf("estimate %+v", est)
	}
}

func TestExplicitStrongWeak(t *testing.T) {
	rep := evaluate(t, "weak", nil, func(o *Options) { o.Strong, o.Weak = "live", "little" })
	// live answers exactly like weak: no gap, no PGR.
	if rep.Strong != "live" || rep.PGR != nil {
		t.Fatalf("strong %s PGR %v", rep.Strong, rep.PGR)
	}
	check(t, "cost share", rep.CostShare, 1)
}

func TestNoKnobIsASinglePoint(t *testing.T) {
	rep := evaluate(t, "fallback", &Sweep{}, nil)
	if rep.Knob != nil || rep.Curve == nil || len(rep.Curve.Points) != 1 {
		t.Fatalf("knob %+v curve %+v", rep.Knob, rep.Curve)
	}
	if rep.Curve.APGR != nil {
		t.Errorf("APGR of one point: %v", *rep.Curve.APGR)
	}
	b, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(b), `"points":[{"knob":null`) {
		t.Fatalf("json %v %.200s", err, b)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"unknown route", func(o *Options) { o.Route = "nope" }, `no route or model "nope"`},
		{"unknown strong", func(o *Options) { o.Route, o.Strong = "strong", "gpt-9" }, `no model "gpt-9"`},
		{"no data set", func(o *Options) { o.Route, o.Dataset = "strong", "" }, "no data set"},
		{"missing data set", func(o *Options) { o.Route, o.Dataset = "strong", "testdata/missing.jsonl" }, "missing.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tinyOptions(t)
			tt.mod(&opts)
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSweepOutsideRange(t *testing.T) {
	opts := tinyOptions(t)
	opts.Route = "random"
	ev, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Evaluate(context.Background(), &Sweep{Values: []float64{0.5, 2}}); err == nil || !strings.Contains(err.Error(), "outside [0,1]") {
		t.Fatalf("err = %v", err)
	}
}

func TestCalibrate(t *testing.T) {
	opts := tinyOptions(t)
	opts.Route = "random"
	ev, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ev.Calibrate(context.Background(), Target{Metric: MetricStrongShare, Value: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// With six records the share moves in sixths; the split's buckets make
	// 3 of 6 reachable for some share, which bisection must find.
	if math.Abs(cal.Achieved-0.5) > 1.0/12 {
		t.Fatalf("achieved %v at %v", cal.Achieved, cal.Knob)
	}
	if !strings.HasPrefix(cal.Line, "routes.random.split.share: ") || cal.Kind != "split" {
		t.Fatalf("line %q", cal.Line)
	}
	_, _, _, share := expected(splitAssignment(t, cal.Knob, 0))
	check(t, "share at the calibrated knob", share, cal.Achieved)
	if !strings.Contains(string(cal.RouteConfig), `"share":`+jsonNum(cal.Knob)) {
		t.Errorf("route config %s", cal.RouteConfig)
	}

	// Cost share; out of reach; a route without a knob.
	cal, err = ev.Calibrate(context.Background(), Target{Metric: MetricCostShare, Value: 0.5})
	if err != nil || math.Abs(cal.Summary.CostShare-cal.Achieved) > 1e-12 {
		t.Fatalf("cost calibration %+v %v", cal, err)
	}
	if _, err := ev.Calibrate(context.Background(), Target{Metric: MetricCostShare, Value: 0.01}); err == nil || !strings.Contains(err.Error(), "out of reach") {
		t.Fatalf("err = %v", err)
	}
	// A knob that lowers the strong share as it rises.
	opts.Route = "ab"
	ev, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cal, err = ev.Calibrate(context.Background(), Target{Metric: MetricStrongShare, Value: 1.0 / 3})
	if err != nil || math.Abs(cal.Achieved-1.0/3) > 1.0/12 {
		t.Fatalf("falling knob: %+v %v", cal, err)
	}
	opts.Route = "fallback"
	ev, _ = New(opts)
	if _, err := ev.Calibrate(context.Background(), Target{Metric: MetricStrongShare, Value: 0.5}); err == nil || !strings.Contains(err.Error(), "no knob") {
		t.Fatalf("err = %v", err)
	}
}

func TestProgress(t *testing.T) {
	var last, total int64
	rep := evaluate(t, "strong", nil, func(o *Options) {
		o.Concurrency = 1
		o.Progress = func(d, tot int64) { last, total = d, tot }
	})
	// Four baselines and the route, six records each.
	if last != 30 || total != 30 || rep.N != 6 {
		t.Fatalf("progress %d/%d", last, total)
	}
}

func (nameBuilder) Model(string) (*catalog.Model, bool) { return nil, false }

func (nameBuilder) Path(p string) string { return p }
