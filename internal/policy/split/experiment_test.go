package split

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/experiment"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestExperimentName(t *testing.T) {
	tests := []struct{ path, name, route string }{
		{"routes.r", "r", "r"},
		{"routes.r.split", "r", "r"},
		{"routes.r.fallback[0].split", "routes.r.fallback[0].split", "r"},
		{"x.split", "x.split", ""},
		// Route names may hold dots: the route ends before the first kind.
		{"routes.gpt-4.1-ab.split", "gpt-4.1-ab", "gpt-4.1-ab"},
		{"routes.v1.2.split.a.split", "routes.v1.2.split.a.split", "v1.2"},
	}
	for _, tt := range tests {
		if n, r := experimentName(tt.path); n != tt.name || r != tt.route {
			t.Errorf("experimentName(%q) = %q, %q; want %q, %q", tt.path, n, r, tt.name, tt.route)
		}
	}
}

func TestExperimentConfigErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"rollout arm", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"c","from":0,"to":1,"start":"2026-01-01T00:00:00Z","over":"1h"}}`, "routes.r.split.rollout.arm: no arm"},
		{"rollout start", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"b","from":0,"to":1,"start":"monday","over":"1h"}}`, "rollout.start: want an RFC 3339"},
		{"rollout over", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"b","from":0,"to":1,"start":"2026-01-01T00:00:00Z"}}`, "rollout.over: required"},
		{"rollout to", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"b","from":0,"to":2,"start":"2026-01-01T00:00:00Z","over":"1h"}}`, "rollout.to: required, in [0,1]"},
		{"steps and linear", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"b","from":0,"steps":[{"at":"2026-01-01T00:00:00Z","share":0.1}]}}`, "either steps or"},
		{"step share", `{"share":0.5,"a":"x","b":"y","rollout":{"arm":"b","steps":[{"at":"2026-01-01T00:00:00Z"}]}}`, "rollout.steps[0].share"},
		{"metric", `{"share":0.5,"a":"x","b":"y","promote":{"metric":"speed"}}`, "routes.r.split.promote.metric: want cost"},
		{"confidence", `{"share":0.5,"a":"x","b":"y","promote":{"metric":"cost","confidence":1}}`, "promote.confidence"},
		{"min requests", `{"share":0.5,"a":"x","b":"y","promote":{"metric":"cost","min_requests":1}}`, "promote.min_requests"},
		{"drop", `{"share":0.5,"a":"x","b":"y","promote":{"metric":"cost","max_quality_drop":-1}}`, "promote.max_quality_drop"},
		{"name", `{"name":"a/b","share":0.5,"a":"x","b":"y"}`, "routes.r.split.name"},
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

// finish serves text through n and reports the finished request with the
// given cost, latency, status and gate score under the chosen arm.
func finish(t *testing.T, n *Node, text string, cost float64, status int, gateScore *float64) *store.Decision {
	t.Helper()
	c := call(text, "", "")
	serve(t, n, c)
	dec := c.Trace.Snapshot().Decisions[0]
	armPath := n.arms[n.armIndex(dec.Decision)].path
	if gateScore != nil {
		c.Trace.Decide(trace.Decision{Node: armPath, Kind: "gate", Decision: "pass", Data: map[string]any{"gate": "g", "score": *gateScore}})
	}
	d := &store.Decision{RequestID: text, Status: status, CostMicros: catalog.Micros(cost * 1e6), LatencyMS: 120, Trace: c.Trace.Snapshot()}
	// Through JSON, as the decision log returns it.
	b, _ := json.Marshal(d)
	var back store.Decision
	json.Unmarshal(b, &back)
	learning.Default.Finished(&back)
	return &back
}

func TestLearnerStatsAndReport(t *testing.T) {
	n := build(t, `{"name":"stats-test","share":0.5,"a":"x","b":"y"}`)
	if l, ok := learning.Default.Lookup("split:stats-test"); !ok || l != n {
		t.Fatal("not registered as a learner")
	}
	g := 0.7
	var ds []*store.Decision
	for i := range 400 {
		status := 200
		if i%50 == 0 {
			status = 502
		}
		if i%100 == 1 {
			status = 499
		}
		ds = append(ds, finish(t, n, fmt.Sprintf("q%d", i), 0.001, status, &g))
	}
	// Feedback, then a replacement for the same request.
	learning.Default.Feedback(ds[0], 0.2, nil)
	prev := 0.2
	learning.Default.Feedback(ds[0], 0.9, &prev)
	rep := n.Report(time.Now())
	if rep.Name != "stats-test" || rep.Route != "r" || len(rep.Arms) != 2 || len(rep.Comparisons) != 4 {
		t.Fatalf("report %+v", rep)
	}
	total, errs, canceled, fb := 0.0, 0.0, 0.0, 0.0
	for _, a := range rep.Arms {
		total += a.Requests
		errs += a.Errors
		canceled += a.Canceled
		fb += a.Feedback.N
		if a.Gate.N != a.Requests || math.Abs(a.Gate.Mean-0.7) > 1e-9 {
			t.Errorf("arm %s gate %+v over %v requests", a.Name, a.Gate, a.Requests)
		}
		if a.Latency.P50 < 100 || a.Latency.P50 > 140 {
			t.Errorf("p50 %v", a.Latency.P50)
		}
		if a.Share != 0.5 {
			t.Errorf("share %v", a.Share)
		}
	}
	if total != 400 || errs != 8 || canceled != 4 || fb != 1 {
		t.Errorf("requests %v errors %v canceled %v feedback %v", total, errs, canceled, fb)
	}
	for _, a := range rep.Arms {
		if a.Feedback.N == 1 && math.Abs(a.Feedback.Mean-0.9) > 1e-9 {
			t.Errorf("feedback not replaced: %+v", a.Feedback)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	if src, ok := experiment.Default.Lookup("stats-test"); !ok || src != n {
		t.Fatal("not in the experiment registry")
	}
	// A rebuilt node (a reload) reads the same statistics.
	again := build(t, `{"name":"stats-test","share":0.5,"a":"x","b":"y"}`)
	if got := again.Report(time.Now()).Arms[0].Requests; got != rep.Arms[0].Requests {
		t.Errorf("rebuilt node sees %v requests, want %v", got, rep.Arms[0].Requests)
	}
}

// TestRampIsSticky raises the ramped arm's share step by step: no request
// ever leaves the ramped arm or moves between the other arms.
func TestRampIsSticky(t *testing.T) {
	n := build(t, `{"name":"sticky","key":"user","arms":[{"name":"c","route":"c"},{"name":"d","route":"d"},{"name":"new","route":"new","weight":0}],
		"rollout":{"arm":"new","steps":[{"at":"2026-01-01T00:00:00Z","share":0}]}}`)
	users := make([]string, 2000)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	assign := func() []string {
		out := make([]string, len(users))
		for i, u := range users {
			out[i] = serve(t, n, call("hi", u, ""))
		}
		return out
	}
	prev := assign()
	for _, s := range []float64{0.05, 0.1, 0.2, 0.5, 0.9, 1} {
		if err := n.Ramp(&s, nil); err != nil {
			t.Fatal(err)
		}
		cur := assign()
		moved := 0
		for i := range users {
			if cur[i] != prev[i] {
				if cur[i] != "new" {
					t.Fatalf("share %v: %s moved from %s to %s", s, users[i], prev[i], cur[i])
				}
				moved++
			}
		}
		got := 0
		for _, a := range cur {
			if a == "new" {
				got++
			}
		}
		if f := float64(got) / float64(len(users)); f < s-0.04 || f > s+0.04 {
			t.Errorf("share %v: the ramped arm has %v of users", s, f)
		}
		prev = cur
	}
	// Weights re-lay the arms out.
	if err := n.Ramp(nil, map[string]float64{"c": 1}); err != nil {
		t.Fatal(err)
	}
	if got := serve(t, n, call("hi", "user-1", "")); got != "c" {
		t.Errorf("weights ramp: got %s", got)
	}
	for _, bad := range []struct {
		share *float64
		w     map[string]float64
	}{{nil, nil}, {ptr(2), nil}, {nil, map[string]float64{"zz": 1}}, {nil, map[string]float64{"c": 0}}} {
		if err := n.Ramp(bad.share, bad.w); err == nil {
			t.Errorf("Ramp(%v, %v) accepted", bad.share, bad.w)
		}
	}
}

func ptr(f float64) *float64 { return &f }

// TestFirstManualRampIsSticky: without a rollout, the first manual share
// (for the last arm) must not move users between the other arms, which
// held their buckets in the configured cumulative layout.
func TestFirstManualRampIsSticky(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"three arms", `{"name":"manual3","key":"user","arms":[{"name":"c","route":"c"},{"name":"d","route":"d","weight":2},{"name":"new","route":"new"}]}`},
		{"new arm at weight 0", `{"name":"manual0","key":"user","arms":[{"name":"c","route":"c"},{"name":"d","route":"d"},{"name":"new","route":"new","weight":0}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := build(t, tc.cfg)
			prev := map[string]string{}
			for i := range 2000 {
				u := fmt.Sprintf("user-%d", i)
				prev[u] = serve(t, n, call("hi", u, ""))
			}
			for _, s := range []float64{0.25, 0.1, 0.3, 0.6, 1} {
				if err := n.Ramp(&s, nil); err != nil {
					t.Fatal(err)
				}
				for u, was := range prev {
					got := serve(t, n, call("hi", u, ""))
					if got != was && got != "new" && was != "new" {
						t.Fatalf("share %v: %s moved from %s to %s", s, u, was, got)
					}
					prev[u] = got
				}
			}
		})
	}
}

func TestRolloutSchedule(t *testing.T) {
	n := build(t, `{"name":"linear","share":1,"a":"x","b":"y","rollout":{"arm":"b","from":0.1,"to":0.5,"start":"2026-01-01T00:00:00Z","over":"10h"}}`)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at   time.Duration
		want float64
	}{{-time.Hour, 0.1}, {0, 0.1}, {5 * time.Hour, 0.3}, {10 * time.Hour, 0.5}, {20 * time.Hour, 0.5}} {
		l := n.layout(start.Add(tt.at))
		if got := l.share(1, n); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("at %v: share %v, want %v", tt.at, got, tt.want)
		}
	}
	steps := build(t, `{"name":"steps","share":1,"a":"x","b":"y","rollout":{"arm":"b","steps":[{"at":"2026-01-02T00:00:00Z","share":0.5},{"at":"2026-01-01T00:00:00Z","share":0.2}]}}`)
	for _, tt := range []struct {
		at   time.Time
		want float64
	}{{start.Add(-time.Hour), 0.2}, {start.Add(time.Hour), 0.2}, {start.Add(25 * time.Hour), 0.5}} {
		if got := steps.layout(tt.at).share(1, steps); got != tt.want {
			t.Errorf("steps at %v: share %v, want %v", tt.at, got, tt.want)
		}
	}
	// Served traffic follows the schedule at the request's time.
	c := call("q", "", "")
	c.Now = start.Add(20 * time.Hour)
	serve(t, n, c)
	if d := c.Trace.Snapshot().Decisions[0]; d.Data["experiment"] != "linear" || d.Data["learner"] != "split:linear" {
		t.Errorf("decision data %+v", d.Data)
	}
}

// TestPromotionThroughNode feeds a 10%-cheaper arm b until the rule
// promotes it; from then on every request goes to b, "promoted".
func TestPromotionThroughNode(t *testing.T) {
	n := build(t, `{"name":"promo","share":0.5,"a":"x","b":"y","promote":{"metric":"cost","min_requests":200}}`)
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 40000; i++ {
		c := call(fmt.Sprintf("p%d", i), "", "")
		serve(t, n, c)
		tv := c.Trace.Snapshot()
		mean := 0.01
		if tv.Decisions[0].Decision == "b" {
			mean = 0.009
		}
		if strings.HasPrefix(tv.Decisions[0].Reason, "promoted") {
			break
		}
		cost := mean * (0.5 + r.Float64())
		n.Finished(&store.Decision{Status: 200, CostMicros: catalog.Micros(cost * 1e6), LatencyMS: 50, Trace: tv})
	}
	raw, ok := tally.Default.Get("experiment/promo/promotion")
	if !ok {
		t.Fatal("never promoted")
	}
	var p experiment.Promotion
	if err := json.Unmarshal(raw, &p); err != nil || p.Winner != "b" || p.Metric != "cost" {
		t.Fatalf("promotion %s (%v)", raw, err)
	}
	for i := range 50 {
		c := call(fmt.Sprintf("after %d", i), "", "")
		if got := serve(t, n, c); got != "y" {
			t.Fatalf("after the promotion a request went to %s", got)
		}
		if d := c.Trace.Snapshot().Decisions[0]; !strings.Contains(d.Reason, "promoted") {
			t.Fatalf("reason %q", d.Reason)
		}
	}
	if rep := n.Report(time.Now()); rep.Promotion == nil || rep.Promotion.Promoted == nil || rep.Arms[1].Share != 1 {
		t.Fatalf("report %+v", rep.Promotion)
	}
}

func BenchmarkServeWithRollout(b *testing.B) {
	n := build(&testing.T{}, `{"name":"bench","share":1,"a":"x","b":"y","rollout":{"arm":"b","from":0.1,"to":0.5,"start":"2026-01-01T00:00:00Z","over":"72h"}}`)
	c := call("a prompt", "", "")
	b.ReportAllocs()
	for b.Loop() {
		c.Trace = trace.New(time.Now())
		n.Serve(context.Background(), c)
	}
}

func BenchmarkFinished(b *testing.B) {
	n := build(&testing.T{}, `{"name":"bench-finished","share":0.5,"a":"x","b":"y","promote":{"metric":"cost"}}`)
	c := call("a prompt", "", "")
	n.Serve(context.Background(), c)
	d := &store.Decision{Status: 200, CostMicros: 100, LatencyMS: 80, Trace: c.Trace.Snapshot()}
	b.ReportAllocs()
	for b.Loop() {
		n.Finished(d)
	}
}
