package peak

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

type leaf string

func (l leaf) Serve(context.Context, *policy.Call) (*policy.Outcome, error) {
	return &policy.Outcome{Model: string(l), Response: &llm.Response{}}, nil
}

type builder struct{}

func (builder) HasModel(name string) bool           { return name == "m" }
func (builder) Model(string) (*catalog.Model, bool) { return nil, false }
func (builder) Path(p string) string                { return p }
func (builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, conf.Errorf(path, "names only")
	}
	return leaf(s), nil
}

func TestHysteresis(t *testing.T) {
	raw := `{"normal":"n","peak":"p","enter":{"load":100,"latency_ms":1000},"models":["m"],"min_dwell":"5s"}`
	node, err := New(builder{}, "routes.r.peak", json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	n := node.(*Node)
	var lvl float64
	now := time.Unix(1000, 0)
	n.level = func() float64 { return lvl }
	n.now = func() time.Time { return now }
	n.sig = signals.New(signals.Options{})
	steps := []struct {
		load float64
		lat  time.Duration
		dt   time.Duration
		want string
	}{
		{10, 0, 0, "n"},
		{99, 0, time.Second, "n"},
		{100, 0, time.Second, "p"},              // enter on load
		{85, 0, time.Second, "p"},               // inside the band
		{70, 0, time.Second, "p"},               // below exit but dwell not over
		{70, 0, 5 * time.Second, "n"},           // exit
		{10, 3 * time.Second, time.Second, "p"}, // enter on latency
		{10, 0, 10 * time.Second, "p"},          // latency EWMA still high
	}
	for i, s := range steps {
		lvl = s.load
		now = now.Add(s.dt)
		if s.lat > 0 {
			for k := 0; k < 20; k++ {
				n.sig.Record("m", signals.Result{Latency: s.lat})
			}
		}
		c := &policy.Call{Request: &llm.Request{}, Trace: trace.New(now)}
		out, err := n.Serve(context.Background(), c)
		if err != nil || out.Model != s.want {
			t.Fatalf("step %d (load %v): %v %v, want %s", i, s.load, out, err, s.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`{"normal":"n","peak":"p"}`, "enter: needs load or latency_ms"},
		{`{"normal":"n","peak":"p","enter":{"load":10},"exit":{"load":10}}`, "exit.load: must be in [0, enter.load)"},
		{`{"normal":"n","peak":"p","enter":{"latency_ms":10}}`, "models: required"},
		{`{"normal":"n","peak":"p","enter":{"latency_ms":10},"models":["x"]}`, `models[0]: unknown model "x"`},
		{`{"peak":"p","enter":{"load":10}}`, "normal: required"},
		{`{"normal":"n","peak":"p","enter":{"load":10},"min_dwell":"-1s"}`, "min_dwell"},
	}
	for _, tc := range tests {
		_, err := New(builder{}, "routes.r.peak", json.RawMessage(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.raw, err, tc.want)
		}
	}
}
