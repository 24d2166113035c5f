package bandit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/bandit"
	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/policy/split"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policytest.RegisterGate("bandit_test_gate") }

// leaf answers as the model it is named after, at once.
type leaf struct{ name string }

func (l leaf) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	return &policy.Outcome{Model: l.name, Response: &llm.Response{}}, nil
}

// builder builds model names as leaves.
type builder struct{ dir string }

func (builder) HasModel(string) bool                { return true }
func (builder) Model(string) (*catalog.Model, bool) { return nil, false }
func (b builder) Path(p string) string {
	if strings.HasPrefix(p, "builtin:") {
		return p
	}
	return filepath.Join(b.dir, p)
}
func (builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, conf.Errorf(path, "test builder only knows names")
	}
	return leaf{name}, nil
}

const path = "routes.r.bandit"

func build(t testing.TB, b policy.Builder, cfg string) *Node {
	t.Helper()
	n, err := New(b, path, json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n.(*Node)
}

// unique returns a learner name no other test uses, so tests do not share
// statistics in tally.Default.
func unique(t testing.TB) string { return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()) }

func call(text, tier string) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}},
		Caller:  policy.Caller{Tier: tier},
		Trace:   trace.New(time.Now()),
	}
}

func serve(t testing.TB, n *Node, c *policy.Call) string {
	t.Helper()
	out, err := n.Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out.Model
}

// finished is the decision record of c as the engine would hand it over.
func finished(c *policy.Call, status int, cost catalog.Micros, latencyMS float64) *store.Decision {
	return &store.Decision{RequestID: fmt.Sprintf("%p", c), Status: status, CostMicros: cost, LatencyMS: latencyMS, Trace: c.Trace.Snapshot()}
}

// lastDecision returns the bandit decision in c's trace.
func lastDecision(t testing.TB, c *policy.Call) trace.Decision {
	t.Helper()
	v := c.Trace.Snapshot()
	for i := len(v.Decisions) - 1; i >= 0; i-- {
		if v.Decisions[i].Kind == Kind {
			return v.Decisions[i]
		}
	}
	t.Fatal("no bandit decision in the trace")
	return trace.Decision{}
}

func stats(t testing.TB, n *Node, arm string) []float64 {
	t.Helper()
	v, err := tally.Default.Open(StatsKey(n.id, arm, n.feats.hash()), n.layout.Len())
	if err != nil {
		t.Fatal(err)
	}
	return v.Values(nil)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "other.json"), []byte(`{"route":"x","baselines":[{"model":"z","quality":0.5,"labeled":3}]}`), 0o644)
	tests := []struct{ name, cfg, want string }{
		{"one arm", `{"arms":["a"]}`, path + ".arms: at least two arms"},
		{"no arms", `{}`, path + ".arms: at least two arms"},
		{"duplicate", `{"arms":["a","a"]}`, path + ".arms[1]: duplicate arm name \"a\""},
		{"named without route", `{"arms":["a",{"name":"b"}]}`, path + ".arms[1].route: required"},
		{"arm unknown field", `{"arms":["a",{"name":"b","route":"b","weight":1}]}`, path + ".arms[1].weight: unknown field"},
		{"subtree error", `{"arms":["a",{"k":1}]}`, path + ".arms[1]: test builder"},
		{"algorithm", `{"arms":["a","b"],"algorithm":"ucb1"}`, path + ".algorithm: unknown algorithm"},
		{"alpha with thompson", `{"arms":["a","b"],"alpha":1}`, path + ".alpha: applies to algorithm linucb only"},
		{"alpha range", `{"arms":["a","b"],"algorithm":"linucb","alpha":-1}`, path + ".alpha: must be in [0,100]"},
		{"lambda", `{"arms":["a","b"],"lambda":-1}`, path + ".lambda: must be a non-negative number"},
		{"mu", `{"arms":["a","b"],"mu":-0.5}`, path + ".mu: must be a non-negative number"},
		{"quality", `{"arms":["a","b"],"quality":"judge"}`, path + ".quality: unknown quality source"},
		{"gates with feedback", `{"arms":["a","b"],"gates":[{"bandit_test_gate":{}}]}`, path + ".gates: gates score answers for quality gate or both"},
		{"bad gate", `{"arms":["a","b"],"quality":"gate","gates":[{"nope":{}}]}`, path + ".gates[0]"},
		{"feedback scale", `{"arms":["a","b"],"feedback":{"min":5,"max":1}}`, path + ".feedback: max (1) must be greater than min (5)"},
		{"max_share", `{"arms":["a","b"],"explore":{"max_share":1.2}}`, path + ".explore.max_share: must be in [0,1]"},
		{"min_pulls", `{"arms":["a","b"],"explore":{"min_pulls":-1}}`, path + ".explore.min_pulls: must be in"},
		{"window", `{"arms":["a","b"],"explore":{"window":0}}`, path + ".explore.window: must be in"},
		{"seed", `{"arms":["a","b"],"seed":-3}`, path + ".seed: must not be negative"},
		{"unknown feature", `{"arms":["a","b"],"features":["tokens","vibes"]}`, path + ".features[1]: unknown feature \"vibes\""},
		{"duplicate feature", `{"arms":["a","b"],"features":["code","code"]}`, path + ".features[1]: duplicate feature"},
		{"bias listed", `{"arms":["a","b"],"features":["bias"]}`, path + ".features[0]: the bias is always included"},
		{"empty tier list", `{"arms":["a","b"],"features":[{"tier":[]}]}`, path + ".features[0].tier: list the tiers"},
		{"feature mapping field", `{"arms":["a","b"],"features":[{"user":["x"]}]}`, path + ".features[0].user: unknown field"},
		{"one-hot tier and a scalar", `{"arms":["a","b"],"features":[{"tier":["t"]},"tokens"]}`, ""},
		{"prior empty", `{"arms":["a","b"],"prior":{}}`, path + ".prior: give arms"},
		{"prior arm unknown", `{"arms":["a","b"],"prior":{"arms":{"c":{"quality":0.5}}}}`, path + ".prior.arms.c: no arm is named \"c\""},
		{"prior quality", `{"arms":["a","b"],"prior":{"arms":{"a":{"quality":2}}}}`, path + ".prior.arms.a.quality: required, in [0,1]"},
		{"prior weight", `{"arms":["a","b"],"prior":{"weight":-1,"arms":{"a":{"quality":1}}}}`, path + ".prior.weight: must be in"},
		{"prior eval missing", `{"arms":["a","b"],"prior":{"eval":"missing.json"}}`, path + ".prior.eval: "},
		{"prior eval no match", `{"arms":["a","b"],"prior":{"eval":"other.json"}}`, path + ".prior.eval: no arm"},
		{"unknown field", `{"arms":["a","b"],"epsilon":0.1}`, path + ".epsilon: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(builder{dir: dir}, path, json.RawMessage(tt.cfg))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// 33 one-hot tiers on top of the bias: more than maxDim.
	tiers := make([]string, 32)
	for i := range tiers {
		tiers[i] = fmt.Sprintf("%q", fmt.Sprint("t", i))
	}
	_, err := New(builder{}, path, json.RawMessage(`{"arms":["a","b"],"features":[{"tier":[`+strings.Join(tiers, ",")+`]}]}`))
	if err == nil || !strings.Contains(err.Error(), path+".features: 33 dimensions") {
		t.Errorf("33 dimensions: err = %v", err)
	}
}

func TestArmNamesAndPaths(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a",{"name":"cheap","route":"b"},{"route":"c"}]}`)
	want := []struct{ name, path string }{{"a", path + ".arms[0]"}, {"cheap", path + ".arms[1].route"}, {"c", path + ".arms[2].route"}}
	for i, w := range want {
		if n.arms[i].name != w.name || n.arms[i].path != w.path {
			t.Errorf("arm %d = %s at %s, want %s at %s", i, n.arms[i].name, n.arms[i].path, w.name, w.path)
		}
	}
	def := build(t, builder{}, `{"arms":["a","b"]}`)
	if def.ID() != path {
		t.Errorf("default id = %q, want the path", def.ID())
	}
	if _, ok := learning.Default.Lookup(def.ID()); !ok {
		t.Error("no learner registered under the node's id after it was built")
	}
	serve(t, def, call("hello", ""))
	if l, ok := learning.Default.Lookup(def.ID()); !ok || l != def {
		t.Error("node does not hold its id with learning.Default after serving")
	}
}

func TestFeatures(t *testing.T) {
	fs, err := parseFeatures(builder{}, "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fs.dim != 16 {
		t.Fatalf("default dim = %d, want 16", fs.dim)
	}
	c := call("how do I fix this?\n```go\npackage main\n```", "pro")
	x := vec(t, fs, c)
	if x[0] != 1 {
		t.Errorf("bias = %v", x[0])
	}
	byName := map[string]float64{}
	for i, n := range defaultFeatures[:11] {
		byName[n] = x[1+i]
	}
	if byName["code"] != 1 || byName["question"] != 1.0/3 || byName["tools"] != 0 || byName["tokens"] <= 0 {
		t.Errorf("features = %v", byName)
	}
	tier := x[12:]
	if s := tier[0] + tier[1] + tier[2] + tier[3]; s != 1 {
		t.Errorf("hashed tier = %v, want one bucket set", tier)
	}
	if y := vec(t, fs, call("x", "")); y[12]+y[13]+y[14]+y[15] != 0 {
		t.Errorf("no tier should set no bucket: %v", y[12:])
	}
	oh, err := parseFeatures(builder{}, "f", json.RawMessage(`[{"tier":["free","pro"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := vec(t, oh, call("x", "pro")); fmt.Sprint(got) != "[1 0 1]" {
		t.Errorf("one-hot = %v", got)
	}
	if got := vec(t, oh, call("x", "enterprise")); fmt.Sprint(got) != "[1 0 0]" {
		t.Errorf("other tier = %v", got)
	}
	bias, _ := parseFeatures(builder{}, "f", json.RawMessage(`[]`))
	if bias.dim != 1 || bias.hash() == fs.hash() || oh.hash() == fs.hash() {
		t.Errorf("bias-only dim %d; hashes %s %s %s", bias.dim, bias.hash(), fs.hash(), oh.hash())
	}
}

func TestTraceData(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a","b","c"]}`)
	c := call("hello", "")
	serve(t, n, c)
	d := lastDecision(t, c)
	if d.Node != path || d.Kind != "bandit" || d.Decision != d.Data["arm"] || d.Reason == "" {
		t.Errorf("decision = %+v", d)
	}
	if d.Data[learning.DataKey] != n.id || d.Data["algorithm"] != "thompson" {
		t.Errorf("data = %v", d.Data)
	}
	i := d.Data["arm_index"].(int)
	if n.arms[i].name != d.Decision {
		t.Errorf("arm_index %d is %s, decision %s", i, n.arms[i].name, d.Decision)
	}
	if x := d.Data["x"].([]float64); len(x) != 16 || x[0] != 1 {
		t.Errorf("x = %v", x)
	}
	if _, ok := d.Data["explore"].(bool); !ok {
		t.Errorf("explore = %v", d.Data["explore"])
	}
	arms := d.Data["arms"].([]map[string]any)
	if len(arms) != 3 {
		t.Fatalf("arms = %v", arms)
	}
	for j, a := range arms {
		for _, k := range []string{"name", "mean", "sd", "sample", "pulls"} {
			if _, ok := a[k]; !ok {
				t.Errorf("arms[%d] lacks %s: %v", j, k, a)
			}
		}
	}
	if !strings.HasPrefix(d.Reason, "sampled ") {
		t.Errorf("reason = %q", d.Reason)
	}
	// The data survives the decision log's JSON round trip.
	raw, err := json.Marshal(finished(c, 200, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	var back store.Decision
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if a, x, ok := n.decision(&back); !ok || a.name != d.Decision || len(x) != 16 {
		t.Errorf("decision from JSON: %v %v %v", a, x, ok)
	}

	lin := build(t, builder{}, `{"name":"`+unique(t)+`","algorithm":"linucb","arms":["a","b"]}`)
	c = call("hello", "")
	serve(t, lin, c)
	d = lastDecision(t, c)
	if a := d.Data["arms"].([]map[string]any)[0]; a["ucb"] == nil || d.Data["algorithm"] != "linucb" || !strings.HasPrefix(d.Reason, "ucb ") {
		t.Errorf("linucb data = %v, reason %q", d.Data, d.Reason)
	}
}

// world is a synthetic contextual problem: arm "short" is better for
// short prompts, arm "long" for long ones, with the quality of each a
// smooth function of the prompt's length that crosses half-way, so
// requests near the crossing are hard to tell apart.
type world struct {
	rng *rand.Rand
}

func newWorld(seed uint64) *world { return &world{rng: rand.New(rand.NewPCG(seed, 7))} }

// p is the chance that arm answers a prompt of relative length u in
// [0,1] well.
func (w *world) p(arm string, u float64) float64 {
	if arm == "short" {
		return 0.85 - 0.5*u
	}
	return 0.4 + 0.4*u
}

// run serves T requests through n, learning from each with a Bernoulli
// quality as feedback after it finished, and returns the regret of each
// request against the oracle (in expectation) and whether the oracle's arm
// was served.
func (w *world) run(t *testing.T, n *Node, T int) (regret []float64, right []bool) {
	for range T {
		// 1 to 512 words, log-uniform: u is the log length over log 512.
		u := w.rng.Float64()
		words := int(math.Pow(512, u))
		text := strings.TrimSpace(strings.Repeat("word ", max(words, 1)))
		c := call(text, "")
		arm := serve(t, n, c)
		best := max(w.p("short", u), w.p("long", u))
		regret = append(regret, best-w.p(arm, u))
		right = append(right, w.p(arm, u) == best)
		d := finished(c, 200, 0, 100)
		learning.Default.Finished(d)
		q := 0.0
		if w.rng.Float64() < w.p(arm, u) {
			q = 1
		}
		learning.Default.Feedback(d, q, nil)
	}
	return regret, right
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestConverges(t *testing.T) {
	for _, alg := range []string{"thompson", "linucb"} {
		t.Run(alg, func(t *testing.T) {
			n := build(t, builder{}, `{"name":"`+unique(t)+`","algorithm":"`+alg+`","seed":42,"arms":["short","long"]}`)
			const T = 4000
			regret, right := newWorld(1).run(t, n, T)
			// Regret per quarter: a learner's shrinks; a fixed arm's or a
			// random router's stays at about 0.056 or 0.1 per request.
			var q [4]float64
			for i, r := range regret {
				q[4*i/T] += r
			}
			late := 0
			for _, r := range right[3*T/4:] {
				if r {
					late++
				}
			}
			t.Logf("%s regret per quarter of %d: %.1f %.1f %.1f %.1f; oracle arm in the last quarter %d/%d", alg, T/4, q[0], q[1], q[2], q[3], late, T/4)
			fixed := 0.0 // the best fixed arm's expected regret per quarter
			for i := range 1000 {
				u := (float64(i) + 0.5) / 1000
				fixed += max(w0("short", u), w0("long", u)) - w0("long", u)
			}
			fixed *= float64(T/4) / 1000
			t.Logf("best fixed arm's regret per quarter: %.1f", fixed)
			if q[0] > fixed {
				t.Errorf("first quarter regret %.1f is worse than the best fixed arm's %.1f", q[0], fixed)
			}
			if q[3] > q[0]/2 || q[3] > fixed/4 {
				t.Errorf("regret not sublinear: last quarter %.1f, first %.1f, fixed arm %.1f", q[3], q[0], fixed)
			}
			if late < T/4*85/100 {
				t.Errorf("oracle arm in %d of the last %d requests", late, T/4)
			}
		})
	}
}

func w0(arm string, u float64) float64 { return (&world{}).p(arm, u) }

func TestExploreCap(t *testing.T) {
	// No learning: both arms stay uncertain, so Thompson wants to explore
	// about half the time; the cap allows 10 of any 50 decisions.
	n := build(t, builder{}, `{"name":"`+unique(t)+`","seed":3,"arms":["a","b"],
		"prior":{"weight":2,"arms":{"a":{"quality":0.55},"b":{"quality":0.5}}},
		"explore":{"max_share":0.2,"window":50}}`)
	var explored []bool
	capped := 0
	for range 600 {
		c := call("q", "")
		serve(t, n, c)
		d := lastDecision(t, c)
		explored = append(explored, d.Data["explore"].(bool))
		if strings.HasPrefix(d.Reason, "explore cap reached") {
			capped++
			if d.Decision != "a" {
				t.Fatalf("capped decision served %s, not the greedy arm a", d.Decision)
			}
		}
		if d.Data["explore"].(bool) && d.Decision != "b" {
			t.Fatalf("exploring decision served the greedy arm: %+v", d)
		}
	}
	for i := 0; i+50 <= len(explored); i++ {
		c := 0
		for _, e := range explored[i : i+50] {
			if e {
				c++
			}
		}
		if c > 10 {
			t.Fatalf("%d explorations in the window at %d, cap 10", c, i)
		}
	}
	if capped == 0 {
		t.Error("the cap never applied")
	}
	zero := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a","b"],
		"prior":{"weight":2,"arms":{"a":{"quality":0.55},"b":{"quality":0.5}}},"explore":{"max_share":0}}`)
	for range 200 {
		if got := serve(t, zero, call("q", "")); got != "a" {
			t.Fatalf("max_share 0 served %s", got)
		}
	}
}

func TestMinPulls(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a","b","c"],"explore":{"min_pulls":2},
		"prior":{"weight":100,"arms":{"a":{"quality":1}}}}`)
	var got []string
	for range 6 {
		c := call("q", "")
		got = append(got, serve(t, n, c))
		d := lastDecision(t, c)
		if d.Data["cold"] != true || !strings.HasPrefix(d.Reason, "cold arm") {
			t.Fatalf("decision %+v is not cold", d)
		}
		learning.Default.Finished(finished(c, 200, 0, 1))
		learning.Default.Feedback(finished(c, 200, 0, 1), 0.5, nil)
	}
	count := map[string]int{}
	for _, a := range got {
		count[a]++
	}
	if count["a"] != 2 || count["b"] != 2 || count["c"] != 2 {
		t.Errorf("cold round robin = %v", got)
	}
	c := call("q", "")
	serve(t, n, c)
	if lastDecision(t, c).Data["cold"] != nil {
		t.Error("still cold after min_pulls observations per arm")
	}
}

func TestPriorColdStart(t *testing.T) {
	dir := t.TempDir()
	report := `{"route":"auto","quality":0.7,"labeled":10,
		"baselines":[{"model":"strong","quality":0.9,"labeled":100,"cost_per_request_usd":0.002,"latency_ms":{"mean":800}},
		             {"model":"weak","quality":0.2,"labeled":100,"cost_per_request_usd":0.0001,"latency_ms":{"mean":200}}]}`
	if err := os.WriteFile(filepath.Join(dir, "eval.json"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, prior, want string }{
		{"arms", `{"weight":50,"arms":{"strong":{"quality":0.9},"weak":{"quality":0.2}}}`, "strong"},
		{"cost outweighs quality", `{"weight":50,"arms":{"strong":{"quality":0.9,"cost":1},"weak":{"quality":0.2}}}`, "weak"},
		{"eval", `{"weight":50,"eval":"eval.json"}`, "strong"},
		{"arms override eval", `{"weight":50,"eval":"eval.json","arms":{"weak":{"quality":1}}}`, "weak"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := build(t, builder{dir: dir}, `{"name":"`+unique(t)+`","lambda":1,"arms":["strong","weak"],"explore":{"max_share":0.05},"prior":`+tt.prior+`}`)
			hits := 0
			for range 200 {
				if serve(t, n, call("q", "")) == tt.want {
					hits++
				}
			}
			if hits < 190 {
				t.Errorf("%s served %d of 200", tt.want, hits)
			}
		})
	}
	got, err := priorFromEval(filepath.Join(dir, "eval.json"), []string{"strong", "weak", "auto", "none"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]evalEntry{"strong": {0.9, 0.002, 0.8}, "weak": {0.2, 0.0001, 0.2}, "auto": {0.7, 0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("priorFromEval = %v, want %v", got, want)
	}
}

// TestFeedbackAfterRestart: the node that served is gone (a restart or a
// reload); a new node with the same name learns from the feedback, read
// back from the decision log as JSON.
func TestFeedbackAfterRestart(t *testing.T) {
	name := unique(t)
	cfg := `{"name":"` + name + `","arms":["a","b"]}`
	old := build(t, builder{}, cfg)
	c := call("hello", "")
	arm := serve(t, old, c)
	raw, _ := json.Marshal(finished(c, 200, 0, 50))
	learning.Default.Finished(finished(c, 200, 0, 50)) // quality feedback: nothing yet
	fresh := build(t, builder{}, cfg)
	if st := stats(t, fresh, arm); fresh.layout.Count(st) != 0 {
		t.Fatalf("Finished counted an observation in feedback mode: %v", st)
	}
	var d store.Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	learning.Default.Feedback(&d, 1, nil)
	st := stats(t, fresh, arm)
	if fresh.layout.Count(st) != 1 || fresh.layout.SumReward(st) != 1 {
		t.Fatalf("stats after feedback = %v", st)
	}
	// The new node's next decision sees it.
	snap := fresh.posteriors()
	i := 0
	if arm == "b" {
		i = 1
	}
	if snap.posts[i].N != 1 {
		t.Errorf("posterior of %s has N = %v", arm, snap.posts[i].N)
	}
}

// TestRewardUpdates checks the exact statistics each path adds.
func TestRewardUpdates(t *testing.T) {
	e := policytest.NewEnv(map[string]*policytest.Model{"m1": {Text: "four"}, "m2": {Text: "five"}}, policytest.Options{})
	type step struct {
		feedback *float64 // nil: Finished
		previous *float64
	}
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name, quality string
		status        int
		steps         []step
		n, r          float64 // expected count and reward of the one arm
	}{
		{"feedback first", "feedback", 200, []step{{}, {feedback: f(0.8)}}, 1, 0.8},
		{"feedback replaced", "feedback", 200, []step{{}, {feedback: f(0.8)}, {feedback: f(0.3), previous: f(0.8)}}, 1, 0.3},
		{"gate only", "gate", 200, []step{{}, {feedback: f(0.1)}}, 1, 0.6},
		{"both: gate then feedback", "both", 200, []step{{}, {feedback: f(0.2)}}, 1, 0.2},
		{"both: second feedback", "both", 200, []step{{}, {feedback: f(0.2)}, {feedback: f(1), previous: f(0.2)}}, 1, 1},
		{"failed request", "feedback", 502, []step{{}}, 1, 0},
		{"failed then feedback", "feedback", 502, []step{{}, {feedback: f(0.4)}}, 1, 0.4},
		{"client cancel", "both", 499, []step{{}}, 0, 0},
		{"client cancel then feedback", "feedback", 499, []step{{}, {feedback: f(1)}}, 0, 0},
		{"no feedback", "feedback", 200, []step{{}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gates := ""
			if tt.quality != "feedback" {
				gates = `,"gates":[{"bandit_test_gate":{"scores":{"m1":0.6,"m2":0.6}}}]`
			}
			n := build(t, e, `{"name":"`+unique(t)+`","quality":"`+tt.quality+`","arms":["m1","m2"]`+gates+`}`)
			c := e.Call(false)
			arm := serve(t, n, c)
			d := finished(c, tt.status, 0, 0)
			for _, s := range tt.steps {
				if s.feedback == nil {
					learning.Default.Finished(d)
				} else {
					learning.Default.Feedback(d, *s.feedback, s.previous)
				}
			}
			st := stats(t, n, arm)
			x := lastDecision(t, c).Data["x"].([]float64)
			want := bandit.Layout{D: len(x)}.Observe(nil, x, tt.r)
			if tt.n == 0 {
				want = make([]float64, len(st))
			}
			for i := range st {
				if math.Abs(st[i]-want[i]) > 1e-12 {
					t.Fatalf("stats[%d] = %v, want %v\n got %v\nwant %v", i, st[i], want[i], st, want)
				}
			}
		})
	}
}

func TestLambdaMu(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","lambda":100,"mu":0.5,"arms":["a","b"]}`)
	c := call("q", "")
	arm := serve(t, n, c)
	learning.Default.Feedback(finished(c, 200, catalog.Micros(2000), 1500), 1, nil)
	// 1 − 100·0.002 − 0.5·1.5 = 0.05
	if r := n.layout.SumReward(stats(t, n, arm)); math.Abs(r-0.05) > 1e-12 {
		t.Errorf("reward = %v, want 0.05", r)
	}
	scaled := build(t, builder{}, `{"name":"`+unique(t)+`","feedback":{"min":1,"max":5},"arms":["a","b"]}`)
	c = call("q", "")
	arm = serve(t, scaled, c)
	learning.Default.Feedback(finished(c, 200, 0, 0), 4, nil)
	if r := scaled.layout.SumReward(stats(t, scaled, arm)); r != 0.75 {
		t.Errorf("scaled reward = %v, want 0.75", r)
	}
}

// TestCascadeArmGateScore: with quality gate and no gates of its own, the
// bandit reads the last top-level verdict recorded inside the arm.
func TestCascadeArmGateScore(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","quality":"gate","arms":["a",{"name":"casc","route":"b"}]}`)
	a := n.arm("casc")
	mk := func(node string, score float64, parent bool, outcome string) trace.Decision {
		d := map[string]any{"gate": "g", "score": score}
		if parent {
			d["parent"] = "all"
		}
		return trace.Decision{Node: node, Kind: "gate", Decision: outcome, Data: d}
	}
	tests := []struct {
		name string
		decs []trace.Decision
		want float64
		ok   bool
	}{
		{"last tier", []trace.Decision{mk(a.path+".cascade.tiers[0]", 0.2, false, "fail"), mk(a.path+".cascade.tiers[1]", 0.9, false, "pass")}, 0.9, true},
		{"children ignored", []trace.Decision{mk(a.path+".x", 0.7, false, "pass"), mk(a.path+".x", 0.1, true, "fail")}, 0.7, true},
		{"skip ignored", []trace.Decision{mk(a.path+".x", 0.7, false, "pass"), mk(a.path+".x", 0, false, "skip")}, 0.7, true},
		{"other arm", []trace.Decision{mk(path+".arms[0]", 0.7, false, "pass"), mk(a.path+"x", 0.7, false, "pass")}, 0, false},
		{"none", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := n.gateScore(trace.View{Decisions: tt.decs}, a)
			if got != tt.want || ok != tt.ok {
				t.Errorf("gateScore = %v, %v, want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestStreamPassesThrough: chunks reach the caller untouched and in
// order, and the gates judge the whole answer at its end.
func TestStreamPassesThrough(t *testing.T) {
	text := "the answer is four, as everyone knows"
	e := policytest.NewEnv(map[string]*policytest.Model{"m1": {Text: text, ChunkSize: 3}, "m2": {Text: text, ChunkSize: 3}}, policytest.Options{})
	n := build(t, e, `{"name":"`+unique(t)+`","quality":"gate","arms":["m1","m2"],"gates":[{"bandit_test_gate":{"scores":{"m1":0.3,"m2":0.3}}}]}`)
	c := e.Call(true)
	out, err := n.Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	got, chunks := policytest.Drain(t, out.Stream)
	if got != text {
		t.Errorf("text = %q, want %q", got, text)
	}
	if int64(len(chunks)) != e.Models[out.Model].StreamLen.Load() {
		t.Errorf("%d chunks, the model sent %d", len(chunks), e.Models[out.Model].StreamLen.Load())
	}
	v := c.Trace.Snapshot()
	found := false
	for _, d := range v.Decisions {
		if d.Kind == "gate" && d.Node == path+".gates" && d.Data["score"] == 0.3 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no gate verdict under %s.gates: %+v", path, v.Decisions)
	}
	learning.Default.Finished(finished(c, 200, 0, 0))
	if r := n.layout.SumReward(stats(t, n, out.Model)); r != 0.3 {
		t.Errorf("reward = %v, want the gate score 0.3", r)
	}
	// Without gates the arm's stream itself is returned.
	plain := build(t, e, `{"name":"`+unique(t)+`","arms":["m1","m2"]}`)
	out, err = plain.Serve(context.Background(), e.Call(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, wrapped := out.Stream.(*gatedStream); wrapped {
		t.Error("stream wrapped without gates")
	}
	out.Stream.Close()
}

// TestConcurrent serves and learns from many goroutines (for -race).
func TestConcurrent(t *testing.T) {
	n := build(t, builder{}, `{"name":"`+unique(t)+`","arms":["a","b","c"]}`)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				c := call(fmt.Sprint("q", g, i), "")
				serve(t, n, c)
				d := finished(c, 200, 10, 5)
				n.Finished(d)
				n.Feedback(d, float64(i%2), nil)
			}
		}()
	}
	for range 8 {
		<-done
	}
	total := 0.0
	for _, a := range []string{"a", "b", "c"} {
		total += n.layout.Count(stats(t, n, a))
	}
	if total != 1600 {
		t.Errorf("observations = %v, want 1600", total)
	}
}

func BenchmarkDecision(b *testing.B) {
	text := "Can you explain how a hash map handles collisions, with a short example in Go?"
	b.Run("bandit-3-arms", func(b *testing.B) {
		n := build(b, builder{}, `{"name":"`+unique(b)+`","arms":["a","b","c"]}`)
		// Some learned statistics, as in production.
		for i := range 300 {
			c := call(fmt.Sprint(text, i%7), "")
			serve(b, n, c)
			n.Feedback(finished(c, 200, 100, 300), float64(i%2), nil)
		}
		b.ReportAllocs()
		for b.Loop() {
			serve(b, n, call(text, "pro"))
		}
	})
	b.Run("split-baseline", func(b *testing.B) {
		s, err := split.New(builder{}, "routes.r.split", json.RawMessage(`{"arms":[{"route":"a"},{"route":"b"},{"route":"c"}]}`))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Serve(context.Background(), call(text, "pro")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
