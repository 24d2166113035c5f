package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

// fakeKind is a learner kind with the bandit's config shape, registered
// for these tests only: it picks a fixed arm, the arm a table names per
// prompt (an oracle), or an ε-greedy arm from the quality feedback it got.
const fakeKind = "evaltestbandit"

func init() {
	policy.Register(fakeKind, newFake)
	learnerKinds[fakeKind] = func(map[string]any) bool { return true }
	banditKinds[fakeKind] = true
	namedKinds[fakeKind] = true
}

type fakeConfig struct {
	Arms     []json.RawMessage `json:"arms"`
	Lambda   float64           `json:"lambda"`
	Mu       float64           `json:"mu"`
	Feedback *struct {
		Min float64 `json:"min"`
		Max float64 `json:"max"`
	} `json:"feedback"`
	Seed   uint64         `json:"seed"`
	Name   string         `json:"name"`
	Mode   string         `json:"mode"` // fixed, oracle or greedy
	Fixed  int            `json:"fixed"`
	Oracle map[string]int `json:"oracle"` // prompt → arm
}

type fake struct {
	cfg   fakeConfig
	id    string
	arms  []policy.Node
	stats *tally.Vector // per arm: feedback sum, feedback count
	mu    sync.Mutex
	rng   *rand.Rand
}

// seen records, per learner id and prompt, how many feedbacks the learner
// had when it routed the prompt.
var seen sync.Map // id + "|" + prompt → float64

func newFake(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	f := &fake{}
	if err := json.Unmarshal(raw, &f.cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, a := range f.cfg.Arms {
		n, err := b.Build(fmt.Sprintf("%s.arms[%d]", path, i), a)
		if err != nil {
			return nil, err
		}
		f.arms = append(f.arms, n)
	}
	f.id = fakeKind + "/" + f.cfg.Name
	var err error
	if f.stats, err = tally.Default.Open(f.id, 2*len(f.arms)); err != nil {
		return nil, err
	}
	f.rng = rand.New(rand.NewPCG(f.cfg.Seed, 1))
	learning.Default.Register(f.id, f)
	return f, nil
}

func (f *fake) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	prompt := c.Request.Messages[0].Content
	v := f.stats.Values(nil)
	count := 0.0
	for j := range f.arms {
		count += v[2*j+1]
	}
	seen.Store(f.id+"|"+prompt, count)
	var i int
	switch f.cfg.Mode {
	case "fixed":
		i = f.cfg.Fixed
	case "oracle":
		i = f.cfg.Oracle[prompt]
	default:
		f.mu.Lock()
		explore := f.rng.Float64() < 0.4
		r := f.rng.IntN(len(f.arms))
		f.mu.Unlock()
		i = r
		if !explore {
			best := -1.0
			for j := range f.arms {
				mean := 2.0 // untried arms first
				if v[2*j+1] > 0 {
					mean = v[2*j] / v[2*j+1]
				}
				if mean > best {
					best, i = mean, j
				}
			}
		}
	}
	c.Trace.Decide(trace.Decision{Node: "fake", Kind: fakeKind, Decision: fmt.Sprint(i),
		Data: map[string]any{learning.DataKey: f.id, "arm": i}})
	return f.arms[i].Serve(ctx, c)
}

func (f *fake) Finished(*store.Decision) {}

func (f *fake) Feedback(d *store.Decision, score float64, _ *float64) {
	for _, dec := range d.Trace.Decisions {
		if id, _ := dec.Data[learning.DataKey].(string); id == f.id {
			arm, _ := dec.Data["arm"].(int)
			f.stats.AddAt(2*arm, score)
			f.stats.AddAt(2*arm+1, 1)
		}
	}
}

// withRoutes returns the tiny options with extra routes.
func withRoutes(t *testing.T, routes map[string]string) Options {
	t.Helper()
	opts := tinyOptions(t)
	f := *opts.File
	f.Routes = map[string]json.RawMessage{}
	for k, v := range opts.File.Routes {
		f.Routes[k] = v
	}
	for k, v := range routes {
		f.Routes[k] = json.RawMessage(v)
	}
	opts.File = &f
	return opts
}

func learnRun(t *testing.T, opts Options, route string) *Report {
	t.Helper()
	opts.Route = route
	ev, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ev.Evaluate(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Learning == nil {
		t.Fatalf("route %s: no learning report", route)
	}
	return rep
}

// The tiny data set's rewards with λ = 1000 per dollar, μ = 0, by record
// (routed costs: large 110, 290, 110, 140, 110, 110 µ$; little 10 µ$
// each; little has no label for t/5, which scores 0):
//
//	large   0.89  0.71 -0.11  0.86  0.89  0.39   total 3.63
//	little -0.01  0.99 -0.01 -0.01 -0.01  0.49   total 1.44
//	oracle  0.89  0.99 -0.01  0.86  0.89  0.49   total 4.11
func TestRegret(t *testing.T) {
	oracle := `{"one":0,"two":1,"three":1,"four":0,"five":0,"six":1}`
	route := func(mode string) string {
		return `{"` + fakeKind + `": {"arms": ["large", "little"], "lambda": 1000, "mode": "` + mode + `", "oracle": ` + oracle + `}}`
	}
	for _, tc := range []struct {
		name, route                   string
		reward, regretFixed, regretOr []float64 // by step
		fixedArm                      string
	}{
		{"fixed large", route("fixed"),
			[]float64{0.89, 1.60, 1.49, 2.35, 3.24, 3.63},
			[]float64{0, 0, 0, 0, 0, 0},
			[]float64{0, 0.28, 0.38, 0.38, 0.38, 0.48}, "large"},
		{"oracle", route("oracle"),
			[]float64{0.89, 1.88, 1.87, 2.73, 3.62, 4.11},
			[]float64{0, -0.28, -0.38, -0.38, -0.38, -0.48},
			[]float64{0, 0, 0, 0, 0, 0}, "large"},
		{"fixed little", strings.Replace(route("fixed"), `"mode"`, `"fixed": 1, "mode"`, 1),
			[]float64{-0.01, 0.98, 0.97, 0.96, 0.95, 1.44},
			[]float64{0.90, 0.62, 0.52, 1.39, 2.29, 2.19},
			[]float64{0.90, 0.90, 0.90, 1.77, 2.67, 2.67}, "large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := learnRun(t, withRoutes(t, map[string]string{"b": tc.route}), "b").Learning
			st := l.Steps
			for i := range tc.reward {
				check(t, fmt.Sprintf("reward[%d]", i), round6(st.Reward[i]), tc.reward[i])
				check(t, fmt.Sprintf("regret fixed[%d]", i), round6(st.BestFixed[i]-st.Reward[i]), tc.regretFixed[i])
				check(t, fmt.Sprintf("regret oracle[%d]", i), round6(st.Oracle[i]-st.Reward[i]), tc.regretOr[i])
			}
			if l.BestArm != "large" || len(l.Arms) != 2 {
				t.Fatalf("best arm %q, arms %+v", l.BestArm, l.Arms)
			}
			check(t, "large total", round6(l.Arms[0].Reward), 3.63)
			check(t, "little total", round6(l.Arms[1].Reward), 1.44)
			if len(l.Checkpoints) != 1 {
				t.Fatalf("checkpoints %+v", l.Checkpoints)
			}
			cp := l.Checkpoints[0]
			if cp.Requests != 6 || cp.FixedArm != tc.fixedArm {
				t.Fatalf("checkpoint %+v", cp)
			}
			check(t, "checkpoint regret fixed", round6(cp.RegretFixed), tc.regretFixed[5])
			check(t, "checkpoint regret oracle", round6(cp.RegretOracle), tc.regretOr[5])
			check(t, "oracle reward", round6(cp.Oracle.Reward), 4.11)
			if l.Lambda != 1000 || l.FeedbackMax != 1 || l.FeedbackDelay != 3 || l.Seeds != 1 { // tinyOptions has concurrency 3
				t.Errorf("terms %+v", l)
			}
		})
	}
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// A learner's latency term uses the modeled latency and its quality the
// feedback range.
func TestRewardTerms(t *testing.T) {
	// large's first-turn latency 100, 700, 100, 200, 100, 100 ms; with
	// μ = 1 per second, feedback range [0, 2] halves the labels.
	r := `{"` + fakeKind + `": {"arms": ["large"], "mu": 1, "feedback": {"min": 0, "max": 2}, "mode": "fixed"}}`
	l := learnRun(t, withRoutes(t, map[string]string{"b": r}), "b").Learning
	want := (1+1+0+1+1+0.5)/2 - (0.1 + 0.7 + 0.1 + 0.2 + 0.1 + 0.1)
	check(t, "reward", round6(l.Steps.Reward[5]), round6(want))
	check(t, "quality", l.Checkpoints[0].Route.Quality, 4.5/6)
	check(t, "cost", l.Checkpoints[0].Route.CostUSD, 0.00108)
}

// The ordered simulation is a function of the seed: the same seed gives
// the same run, a learner starts from nothing in every run (the second
// run would differ if the first one's statistics carried over), and the
// seeds' band holds their mean.
func TestOnlineDeterministic(t *testing.T) {
	r := `{"` + fakeKind + `": {"arms": ["large", "little"], "lambda": 1000, "mode": "greedy", "seed": 3}}`
	for _, tc := range []struct {
		name         string
		delay, seeds int
	}{
		{"immediate", 1, 1},
		{"delayed", 3, 1},
		{"seeds", 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := withRoutes(t, map[string]string{"g": r})
			opts.Concurrency, opts.Seeds = tc.delay, tc.seeds
			a := learnRun(t, opts, "g")
			b := learnRun(t, opts, "g")
			if !reflect.DeepEqual(a.Learning, b.Learning) || !reflect.DeepEqual(a.Summary, b.Summary) {
				t.Fatalf("two runs differ:\n%+v\n%+v", a.Learning.Steps, b.Learning.Steps)
			}
			if a.Learning.Seeds != tc.seeds || a.Learning.FeedbackDelay != tc.delay {
				t.Errorf("seeds %d delay %d", a.Learning.Seeds, a.Learning.FeedbackDelay)
			}
			st := a.Learning.Steps
			for i := range st.Reward {
				if st.RewardMin[i] > st.Reward[i]+1e-12 || st.Reward[i] > st.RewardMax[i]+1e-12 {
					t.Fatalf("step %d: mean %v outside [%v, %v]", i, st.Reward[i], st.RewardMin[i], st.RewardMax[i])
				}
			}
		})
	}
}

// Feedback arrives delay records later: the learner routing record i has
// had the feedback of records 0..i-delay (record t/5 answered by little
// has no label and gives none).
func TestFeedbackDelay(t *testing.T) {
	prompts := []string{"one", "two", "three", "four", "five", "six"}
	for _, delay := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			name := fmt.Sprintf("delay%d", delay)
			r := `{"` + fakeKind + `": {"arms": ["large"], "mode": "fixed", "name": "` + name + `"}}`
			opts := withRoutes(t, map[string]string{"d": r})
			opts.Concurrency = delay
			opts.Route = "d"
			ev, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			sr, err := ev.snapshot(ev.route)
			if err != nil {
				t.Fatal(err)
			}
			if !sr.online {
				t.Fatal("route not detected as learning")
			}
			if _, err := ev.runOn(context.Background(), sr); err != nil {
				t.Fatal(err)
			}
			// The fresh name of this run.
			var id string
			seen.Range(func(k, _ any) bool {
				key := k.(string)
				if strings.HasSuffix(key, "-"+name+"|one") {
					id = strings.TrimSuffix(key, "|one")
				}
				return true
			})
			if id == "" {
				t.Fatal("the learner routed nothing")
			}
			for i, p := range prompts {
				v, _ := seen.Load(id + "|" + p)
				if want := float64(max(0, i-delay+1)); v != want {
					t.Errorf("record %d: %v feedbacks seen, want %v", i, v, want)
				}
			}
		})
	}
}

func TestLearnsDetection(t *testing.T) {
	for _, tc := range []struct {
		route string
		want  bool
	}{
		{`"large"`, false},
		{`{"split": {"share": 0.5, "a": "large", "b": "little"}}`, false},
		{`{"split": {"share": 0.5, "a": "large", "b": "little", "promote": {}}}`, true},
		{`{"bandit": {"arms": ["large", "little"]}}`, true},
		{`{"fallback": ["flaky", {"bandit": {"arms": ["large"]}}]}`, true},
		{`{"bandit": {"arms": [{"name": "x", "route": {"split": {"share": 1, "a": "large", "b": "little", "promote": {}}}}]}}`, true},
		{`{"rules": {"rules": [{"when": "true", "route": {"` + fakeKind + `": {"arms": ["large"]}}}], "default": "little"}}`, true},
	} {
		if got := learns(json.RawMessage(tc.route)); got != tc.want {
			t.Errorf("learns(%s) = %v, want %v", tc.route, got, tc.want)
		}
	}
}

func TestFindBanditNested(t *testing.T) {
	route := json.RawMessage(`{"fallback": ["flaky", {"bandit": {"arms": ["large", {"fallback": ["flaky", "little"]}], "lambda": 2, "mu": 0.5, "feedback": {"min": 1, "max": 10}}}]}`)
	b, err := findBandit(route, "r")
	if err != nil {
		t.Fatal(err)
	}
	if b.where != "routes.r.fallback[1].bandit" || b.lambda != 2 || b.mu != 0.5 || b.fmin != 1 || b.fmax != 10 {
		t.Fatalf("%+v", b)
	}
	if !reflect.DeepEqual(b.labels, []string{"large", "arms[1] (fallback)"}) {
		t.Fatalf("labels %v", b.labels)
	}
	got, err := replaceAt(route, b.at, b.arms[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fallback":["flaky",{"fallback":["flaky","little"]}]}`; string(got) != want {
		t.Fatalf("replaced: %s, want %s", got, want)
	}
	named, err := findBandit(json.RawMessage(`{"bandit": {"arms": [{"name": "cheap", "route": "little"}, {"route": {"fallback": ["flaky", "large"]}}]}}`), "r")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(named.labels, []string{"cheap", "arms[1] (fallback)"}) || string(named.arms[0]) != `"little"` {
		t.Fatalf("named arms: labels %v, arms %s", named.labels, named.arms)
	}
	for _, bad := range []string{
		`{"bandit": {"arms": []}}`,
		`{"bandit": {"arms": ["large"], "lambda": "x"}}`,
		`{"bandit": {"arms": ["large"], "feedback": {"min": 1, "max": 1}}}`,
	} {
		if _, err := findBandit(json.RawMessage(bad), "r"); err == nil || !strings.Contains(err.Error(), "routes.r.bandit") {
			t.Errorf("findBandit(%s) = %v, want an error naming routes.r.bandit", bad, err)
		}
	}
}

// A split with a promote rule learns: it runs in order, under a fresh
// experiment name every run, so two runs agree.
func TestSplitPromoteOnline(t *testing.T) {
	r := `{"split": {"key": "user", "arms": [{"name": "cheap", "route": "little"}, {"name": "dear", "route": "large"}], "promote": {"metric": "cost", "min_requests": 2, "confidence": 0.6}}}`
	opts := withRoutes(t, map[string]string{"ab2": r})
	opts.Route = "ab2"
	var runs []Summary
	for range 2 {
		ev, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := ev.snapshot(ev.route)
		if err != nil {
			t.Fatal(err)
		}
		if !sr.online {
			t.Fatal("a split with promote is not run online")
		}
		rep, err := ev.Evaluate(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Learning != nil {
			t.Error("a split has no bandit to measure")
		}
		runs = append(runs, rep.Summary)
	}
	if !reflect.DeepEqual(runs[0], runs[1]) {
		t.Fatalf("two runs differ:\n%+v\n%+v", runs[0], runs[1])
	}
}
