package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

// testSnapshot has a cheap and a dear model, the dear one the baseline.
func testSnapshot() *config.Snapshot {
	return &config.Snapshot{
		Models: map[string]*catalog.Model{
			"small": {Name: "small", Provider: "sim", Upstream: "small-v1", Price: catalog.Price{Input: catalog.RateFromUSD(1), Output: catalog.RateFromUSD(2)}},
			"big":   {Name: "big", Provider: "openai", Upstream: "big-v1", Price: catalog.Price{Input: catalog.RateFromUSD(10), Output: catalog.RateFromUSD(30)}},
		},
		Order:         []string{"small", "big"},
		RouteOrder:    []string{"auto"},
		Observability: config.Observability{Baseline: "big"},
	}
}

// finished is a request on route auto that small answered after big
// failed once.
func finished() *engine.Finished {
	d := &store.Decision{
		RequestID: "r1", Time: time.Unix(1700000000, 0), Route: "auto", Model: "small", Status: 200,
		LatencyMS: 100, CostMicros: 50,
		Trace: trace.View{
			Decisions: []trace.Decision{
				{Node: "routes.auto.cascade", Kind: "cascade", Decision: "escalate", AtMS: 1},
				{Node: "routes.auto.cascade.gates[0]", Kind: "gate", Decision: "fail", Data: map[string]any{"gate": "structure", "score": 0.2}, AtMS: 2},
				{Node: "routes.auto.cascade.gates[0]", Kind: "gate", Decision: "pass", Data: map[string]any{"gate": "structure"}, AtMS: 3},
				{Node: "routes.auto.cascade", Kind: "cascade", Decision: "accept", AtMS: 4},
			},
			Attempts: []trace.Attempt{
				{Model: "big", Provider: "openai", Outcome: trace.OutcomeError, ErrorClass: "transient", StartMS: 5, LatencyMS: 20},
				{Model: "small", Provider: "sim", Outcome: trace.OutcomeOK, StartMS: 30, LatencyMS: 60, Finish: "stop",
					Usage: llm.Usage{PromptTokens: 1000, CompletionTokens: 500, TotalTokens: 1500}, CostMicros: 50},
			},
		},
	}
	return &engine.Finished{Decision: d, Kind: "route", Snapshot: testSnapshot()}
}

func TestOutcome(t *testing.T) {
	for status, want := range map[int]string{200: "ok", 400: "client_error", 401: "client_error", 404: "client_error",
		429: "rate_limited", 499: "canceled", 500: "server_error", 502: "upstream_error", 503: "upstream_error", 504: "timeout", 0: "server_error"} {
		if got := Outcome(status); got != want {
			t.Errorf("Outcome(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestUpstreamMS(t *testing.T) {
	a := func(start, lat float64) trace.Attempt { return trace.Attempt{StartMS: start, LatencyMS: lat} }
	tests := []struct {
		name string
		in   []trace.Attempt
		want float64
	}{
		{"none", nil, 0},
		{"one", []trace.Attempt{a(3, 10)}, 10},
		{"sequential", []trace.Attempt{a(0, 10), a(20, 5)}, 15},
		{"overlapping race", []trace.Attempt{a(0, 10), a(5, 10)}, 15},
		{"nested hedge", []trace.Attempt{a(0, 30), a(5, 10)}, 30},
		{"unsorted", []trace.Attempt{a(20, 5), a(0, 10), a(8, 4)}, 17},
		{"pending has no length", []trace.Attempt{a(0, 10), a(50, 0)}, 10},
		{"many", []trace.Attempt{a(0, 1), a(2, 1), a(4, 1), a(6, 1), a(8, 1), a(10, 1), a(12, 1), a(14, 1), a(16, 1), a(18, 1)}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpstreamMS(tt.in); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("UpstreamMS = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDerived(t *testing.T) {
	f := finished()
	if got := OverheadMS(f); got != 100-80 {
		t.Errorf("OverheadMS = %v, want 20 (100 total, 80 upstream)", got)
	}
	// 1000 in at $10/M + 500 out at $30/M = 0.01 + 0.015 dollars.
	if got := BaselineCost(f); got != 25_000 {
		t.Errorf("BaselineCost = %d µ$, want 25000", got)
	}
	if RouteLabel(f) != "auto" || ModelLabel(f) != "small" {
		t.Errorf("labels = %q %q", RouteLabel(f), ModelLabel(f))
	}
	unknown := &engine.Finished{Decision: &store.Decision{Route: "client-typed-this", Status: 404}}
	if RouteLabel(unknown) != UnknownRoute || ModelLabel(unknown) != NoModel || BaselineCost(unknown) != 0 {
		t.Errorf("unknown route labelled %q %q", RouteLabel(unknown), ModelLabel(unknown))
	}
	noBaseline := finished()
	noBaseline.Snapshot.Observability.Baseline = ""
	if BaselineCost(noBaseline) != 0 {
		t.Error("baseline cost without a baseline model")
	}
}

func TestDecisionReaders(t *testing.T) {
	tests := []struct {
		d                      trace.Decision
		gate, verdict, cascade string
		cache                  string
	}{
		{d: trace.Decision{Kind: "gate", Decision: "pass", Data: map[string]any{"gate": "judge"}}, gate: "judge", verdict: "pass"},
		{d: trace.Decision{Kind: "gate", Decision: "skip"}, gate: "_unnamed", verdict: "skip"},
		{d: trace.Decision{Kind: "gate", Decision: "maybe"}},
		{d: trace.Decision{Kind: "gate", Decision: "fail", Data: map[string]any{"gate": string(make([]byte, 100))}}, gate: "_other", verdict: "fail"},
		{d: trace.Decision{Kind: "cascade", Decision: "escalate"}, cascade: "escalate"},
		{d: trace.Decision{Kind: "cascade", Decision: "small"}},
		{d: trace.Decision{Kind: "cache", Decision: "hit"}, cache: "hit"},
		{d: trace.Decision{Kind: "model", Decision: "pass"}},
	}
	for _, tt := range tests {
		g, v, _ := GateVerdict(&tt.d)
		c, _ := CascadeDecision(&tt.d)
		h, _ := CacheResult(&tt.d)
		if g != tt.gate || v != tt.verdict || c != tt.cascade || h != tt.cache {
			t.Errorf("%+v: gate %q %q cascade %q cache %q", tt.d, g, v, c, h)
		}
	}
}

func TestCacheSource(t *testing.T) {
	tests := []struct {
		d    trace.Decision
		want string
	}{
		{trace.Decision{Kind: "cache", Decision: "hit", Data: map[string]any{"cache": "semantic"}}, "semantic"},
		{trace.Decision{Kind: "cache", Decision: "hit", Data: map[string]any{"cache": "exact"}}, "exact"},
		{trace.Decision{Kind: "cache", Decision: "hit"}, "exact"},
		{trace.Decision{Kind: "cache", Decision: "hit", Data: map[string]any{"cache": "bogus"}}, "exact"},
		{trace.Decision{Kind: "cache", Decision: "miss", Data: map[string]any{"cache": "semantic"}}, ""},
		{trace.Decision{Kind: "model", Decision: "hit", Data: map[string]any{"cache": "semantic"}}, ""},
	}
	for _, tt := range tests {
		if got := CacheSource(&tt.d); got != tt.want {
			t.Errorf("CacheSource(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestChargesHealth(t *testing.T) {
	for _, tt := range []struct {
		a    trace.Attempt
		want bool
	}{
		{trace.Attempt{Outcome: "ok"}, false},
		{trace.Attempt{Outcome: "error", ErrorClass: "transient"}, true},
		{trace.Attempt{Outcome: "error", ErrorClass: "rate_limit"}, true},
		{trace.Attempt{Outcome: "error", ErrorClass: "unsupported"}, false},
		{trace.Attempt{Outcome: "error", ErrorClass: "caller"}, false},
		{trace.Attempt{Outcome: "canceled", ErrorClass: "canceled"}, false},
	} {
		if got := ChargesHealth(&tt.a); got != tt.want {
			t.Errorf("ChargesHealth(%+v) = %v", tt.a, got)
		}
	}
}
