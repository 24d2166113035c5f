package split

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// leaf answers as the model it is named after.
type leaf struct{ name string }

func (l leaf) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	return &policy.Outcome{Model: l.name, Response: &llm.Response{}}, nil
}

type builder struct{}

func (builder) HasModel(name string) bool { return true }

func (builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return nil, conf.Errorf(path, "test builder only knows names")
	}
	return leaf{name}, nil
}

func build(t *testing.T, cfg string) *Node {
	t.Helper()
	n, err := New(builder{}, "routes.r.split", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n.(*Node)
}

func call(text, user, session string) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Messages: []llm.Message{{Role: "user", Content: text}}, User: user},
		Caller:  policy.Caller{Session: session},
		Trace:   trace.New(time.Now()),
	}
}

func serve(t *testing.T, n *Node, c *policy.Call) string {
	t.Helper()
	out, err := n.Serve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out.Model
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"share out of range", `{"share":1.5,"a":"x","b":"y"}`, "routes.r.split.share: must be in [0,1]"},
		{"share missing", `{"a":"x","b":"y"}`, "routes.r.split.share: required"},
		{"b missing", `{"share":0.5,"a":"x"}`, "routes.r.split.b: required"},
		{"both forms", `{"share":0.5,"a":"x","b":"y","arms":[{"route":"x"}]}`, "either share/a/b or arms"},
		{"nothing", `{}`, "is required"},
		{"bad key", `{"key":"ip","share":0.5,"a":"x","b":"y"}`, "routes.r.split.key: unknown key"},
		{"negative seed", `{"seed":-1,"share":0.5,"a":"x","b":"y"}`, "routes.r.split.seed: must not be negative"},
		{"negative weight", `{"arms":[{"route":"x","weight":-1}]}`, "routes.r.split.arms[0].weight"},
		{"all zero", `{"arms":[{"route":"x","weight":0}]}`, "positive weight"},
		{"duplicate name", `{"arms":[{"name":"n","route":"x"},{"name":"n","route":"y"}]}`, "arms[1].name: duplicate"},
		{"arm without route", `{"arms":[{"name":"n"}]}`, "arms[0].route: required"},
		{"unknown field", `{"share":0.5,"a":"x","b":"y","ramp":1}`, "routes.r.split.ramp: unknown field"},
		{"subtree error", `{"share":0.5,"a":{"k":1},"b":"y"}`, "routes.r.split.a: test builder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(builder{}, "routes.r.split", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestShareProportions(t *testing.T) {
	for _, share := range []float64{0, 0.1, 0.3, 0.5, 0.9, 1} {
		n := build(t, fmt.Sprintf(`{"share":%v,"a":"strong","b":"weak"}`, share))
		const total = 4000
		a := 0
		for i := range total {
			if serve(t, n, call(fmt.Sprintf("question %d", i), "", "")) == "strong" {
				a++
			}
		}
		got := float64(a) / total
		// Binomial: 4 standard deviations.
		if tol := 4*math.Sqrt(share*(1-share)/total) + 1e-9; math.Abs(got-share) > tol {
			t.Errorf("share %v: a got %v of traffic", share, got)
		}
		if (share == 0 && a != 0) || (share == 1 && a != total) {
			t.Errorf("share %v must be exact, a got %d of %d", share, a, total)
		}
	}
}

func TestDeterministicAndSeeded(t *testing.T) {
	n0 := build(t, `{"share":0.5,"a":"a","b":"b"}`)
	again := build(t, `{"share":0.5,"a":"a","b":"b","seed":0}`)
	n1 := build(t, `{"share":0.5,"a":"a","b":"b","seed":1}`)
	differ := 0
	for i := range 1000 {
		text := fmt.Sprintf("prompt %d", i)
		b0, _ := n0.Bucket(call(text, "", ""))
		b0again, _ := again.Bucket(call(text, "", ""))
		b1, _ := n1.Bucket(call(text, "", ""))
		if b0 != b0again {
			t.Fatalf("bucket of %q changed between builds: %v, %v", text, b0, b0again)
		}
		if b0 < 0 || b0 >= 1 {
			t.Fatalf("bucket %v outside [0,1)", b0)
		}
		if (b0 < 0.5) != (b1 < 0.5) {
			differ++
		}
	}
	// Independent seeds disagree on about half the assignments.
	if differ < 400 || differ > 600 {
		t.Errorf("seeds 0 and 1 disagree on %d of 1000 assignments, want about 500", differ)
	}
}

func TestKeys(t *testing.T) {
	user := build(t, `{"key":"user","share":0.5,"a":"a","b":"b"}`)
	// The same user lands on one arm whatever the prompt.
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		first := serve(t, user, call("one", u, ""))
		for i := range 50 {
			if got := serve(t, user, call(fmt.Sprintf("prompt %d", i), u, "")); got != first {
				t.Fatalf("user %s moved from %s to %s", u, first, got)
			}
		}
	}
	session := build(t, `{"key":"session","share":0.5,"a":"a","b":"b"}`)
	bs, kind := session.Bucket(call("x", "", "s-1"))
	if kind != KeySession {
		t.Fatalf("key kind %q", kind)
	}
	if b2, _ := session.Bucket(call("y", "", "s-1")); b2 != bs {
		t.Fatalf("session bucket depends on the prompt")
	}
	// Without the key the request is hashed, and the trace says so.
	c := call("x", "", "")
	serve(t, session, c)
	d := c.Trace.Snapshot().Decisions[0]
	if d.Data["key"] != KeyRequest || !strings.Contains(d.Reason, "no session key") {
		t.Fatalf("decision %+v", d)
	}
	// The caller's key stands in for a missing user field.
	c = call("x", "", "")
	c.Caller.Key = "team-a"
	if _, kind := user.Bucket(c); kind != KeyUser {
		t.Fatalf("caller key not used: %q", kind)
	}
}

func TestArms(t *testing.T) {
	n := build(t, `{"arms":[{"name":"x","route":"x","weight":1},{"route":"zero","weight":0},{"route":"y","weight":3}]}`)
	counts := map[string]int{}
	for i := range 4000 {
		counts[serve(t, n, call(fmt.Sprintf("p%d", i), "", ""))]++
	}
	if counts["zero"] != 0 {
		t.Errorf("a zero-weight arm was chosen %d times", counts["zero"])
	}
	if got := float64(counts["x"]) / 4000; math.Abs(got-0.25) > 0.03 {
		t.Errorf("arm x got %v of traffic, want 0.25", got)
	}
	// A zero-weight last arm never takes the top buckets.
	last := build(t, `{"arms":[{"route":"x"},{"route":"zero","weight":0}]}`)
	if i := last.pick(0.999999999); last.arms[i].name != "arms[0]" {
		t.Errorf("bucket near 1 went to %s", last.arms[i].name)
	}
}

func TestTraceRecordsArmAndBucket(t *testing.T) {
	n := build(t, `{"share":0.3,"a":"strong","b":"weak"}`)
	c := call("hello", "", "")
	model := serve(t, n, c)
	d := c.Trace.Snapshot().Decisions
	if len(d) != 1 || d[0].Kind != "split" || d[0].Node != "routes.r.split" {
		t.Fatalf("decisions %+v", d)
	}
	bucket := d[0].Data["bucket"].(float64)
	wantArm := "b"
	if bucket < 0.3 {
		wantArm = "a"
	}
	if d[0].Decision != wantArm || d[0].Data["arm"] != wantArm || (wantArm == "a") != (model == "strong") {
		t.Fatalf("decision %+v answered by %s", d[0], model)
	}
}

func TestKnobRegistered(t *testing.T) {
	s, ok := knob.Lookup("split")
	if !ok || s.Field != "share" || s.SeedField != "seed" || len(s.Default) != 11 {
		t.Fatalf("knob %+v %v", s, ok)
	}
	out, err := s.Set(json.RawMessage(`{"split":{"share":0.5,"a":"x","b":"y"}}`), 0.25)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	json.Unmarshal(out, &top)
	n := build(t, string(top["split"]))
	if n.arms[0].upper != 0.25 {
		t.Fatalf("knob set to %v", n.arms[0].upper)
	}
}

func BenchmarkBucket(b *testing.B) {
	n := build(&testing.T{}, `{"share":0.5,"a":"a","b":"b"}`)
	c := call(strings.Repeat("a long prompt ", 100), "", "")
	b.ReportAllocs()
	for b.Loop() {
		n.Bucket(c)
	}
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{`{"share":0.5,"a":"x","b":"y"}`, `{"arms":[{"route":"x","weight":2},{"route":"y"}]}`, `{"key":"user","seed":3,"share":1,"a":"x","b":"y"}`, `{}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cfg string) {
		n, err := New(builder{}, "p", json.RawMessage(cfg))
		if err != nil {
			return
		}
		// Any config that builds assigns every bucket to an arm.
		node := n.(*Node)
		for _, b := range []float64{0, 0.5, math.Nextafter(1, 0)} {
			if i := node.pick(b); i < 0 || i >= len(node.arms) {
				t.Fatalf("bucket %v picked arm %d", b, i)
			}
		}
	})
}

func (builder) Model(string) (*catalog.Model, bool) { return nil, false }

func (builder) Path(p string) string { return p }
