package cascade

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/policy/policytest"
)

func fleet() map[string]*policytest.Model {
	return map[string]*policytest.Model{
		"weak":   {Text: "the weak model says 4"},
		"mid":    {Text: "the middle model says 4"},
		"strong": {Text: "the strong model says 4"},
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"one tier", `{"tiers":["weak"]}`, "routes.r.cascade.tiers: at least two tiers are required (got 1)"},
		{"no tiers", `{}`, "routes.r.cascade.tiers: at least two tiers"},
		{"bad return", `{"return":"first","gates":{"test":{}},"tiers":["weak","strong"]}`, `routes.r.cascade.return: unknown value "first"`},
		{"threshold range", `{"threshold":1.5,"gates":{"test":{}},"tiers":["weak","strong"]}`, "routes.r.cascade.threshold: must be in [0,1]"},
		{"threshold mapping", `{"threshold":{"tiers":{"pro":0.9}},"gates":{"test":{}},"tiers":["weak","strong"]}`, "routes.r.cascade.threshold.default: required"},
		{"threshold tier range", `{"threshold":{"default":0.5,"tiers":{"pro":2}},"gates":{"test":{}},"tiers":["weak","strong"]}`, "routes.r.cascade.threshold.tiers.pro: must be in [0,1]"},
		{"no gates", `{"tiers":["weak","strong"]}`, "routes.r.cascade.tiers[0].gates: required for every tier but the last"},
		{"gates on the last tier", `{"tiers":[{"route":"weak","gates":{"test":{}}},{"route":"strong","gates":{"test":{}}}]}`, "routes.r.cascade.tiers[1].gates: the last tier's answer is returned as it is"},
		{"best without last gates", `{"return":"best","tiers":[{"route":"weak","gates":{"test":{}}},"strong"]}`, "routes.r.cascade.tiers[1].gates: required for every tier (return: best"},
		{"unknown field", `{"gates":{"test":{}},"tiers":[{"route":"weak","gate":{}},"strong"]}`, "routes.r.cascade.tiers[0].gate: unknown field"},
		{"not a tier block nor a subtree", `{"gates":{"test":{}},"tiers":[{"rout":"weak"},"strong"]}`, "routes.r.cascade.tiers[0]: the test builder"},
		{"unknown top field", `{"gates":{"test":{}},"tiers":["weak","strong"],"treshold":0.5}`, "routes.r.cascade.treshold: unknown field"},
		{"tier without route", `{"gates":{"test":{}},"tiers":[{"name":"cheap"},"strong"]}`, "routes.r.cascade.tiers[0].route: required"},
		{"unknown model", `{"gates":{"test":{}},"tiers":["weak","gpt-9"]}`, `routes.r.cascade.tiers[1]: unknown model "gpt-9"`},
		{"unknown model in a block", `{"gates":{"test":{}},"tiers":[{"route":"gpt-9"},"strong"]}`, `routes.r.cascade.tiers[0].route: unknown model "gpt-9"`},
		{"unknown gate kind", `{"gates":{"nope":{}},"tiers":["weak","strong"]}`, `routes.r.cascade.gates.nope: unknown gate kind "nope"`},
		{"gate config error", `{"tiers":[{"route":"weak","gates":{"test":{"bogus":1}}},"strong"]}`, "routes.r.cascade.tiers[0].gates.test.bogus: unknown field"},
		{"negative check_every", `{"gates":{"test":{}},"tiers":[{"route":"weak","check_every":-1},"strong"]}`, "routes.r.cascade.tiers[0].check_every: must not be negative"},
		{"duplicate names", `{"gates":{"test":{}},"tiers":[{"name":"a","route":"weak"},{"name":"a","route":"strong"}]}`, `routes.r.cascade.tiers[1].name: duplicate tier name "a"`},
		{"tiers not a list", `{"tiers":"weak"}`, "routes.r.cascade.tiers: expected"},
	}
	e := newEnv(fleet())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(e, "routes.r.cascade", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestKnobRegistered(t *testing.T) {
	s, ok := knob.Lookup("cascade")
	if !ok || s.Field != "threshold" || s.Min != 0 || s.Max != 1 {
		t.Fatalf("knob = %+v, %v", s, ok)
	}
	// The knob can be set on a route and the result builds.
	raw, err := s.Set(json.RawMessage(`{"cascade":{"gates":{"test":{}},"tiers":["weak","strong"]}}`), 0.7)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	n := newEnv(fleet()).build(t, string(top["cascade"]))
	if n.threshold == nil || n.threshold.Default != 0.7 {
		t.Fatalf("threshold = %+v", n.threshold)
	}
}

func TestServe(t *testing.T) {
	transient := &llm.Error{Status: 503, Type: llm.TypeUpstream, Message: "overloaded", Class: llm.ClassTransient}
	caller := &llm.Error{Status: 400, Type: llm.TypeInvalidRequest, Message: "bad request", Class: llm.ClassCaller}
	tests := []struct {
		name  string
		cfg   string
		errs  map[string]error // model -> its error
		want  string           // answering model, "" for an error
		class llm.Class        // the error's class when want is ""
		calls map[string]int
		// cascade decisions, as decision@node (node relative to the cascade)
		decisions []string
	}{
		{
			name:      "accept at the first tier",
			cfg:       `{"gates":{"test":{}},"tiers":["weak","strong"]}`,
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 0},
			decisions: []string{"accept@tiers[0]"},
		},
		{
			name:      "escalate when the gates fail",
			cfg:       `{"gates":{"test":{"scores":{"weak":0.2}}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "the threshold overrides a failing gate",
			cfg:       `{"threshold":0.25,"gates":{"test":{"scores":{"weak":0.3},"threshold":0.9}},"tiers":["weak","strong"]}`,
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 0},
			decisions: []string{"accept@tiers[0]"},
		},
		{
			name:      "the threshold overrides a passing gate",
			cfg:       `{"threshold":0.7,"gates":{"test":{"scores":{"weak":0.6}}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "a tier threshold for the caller's tier",
			cfg:       `{"threshold":{"default":0.1,"tiers":{"free":0.8}},"gates":{"test":{"scores":{"weak":0.6}}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "escalate on a tier's error",
			cfg:       `{"gates":{"test":{}},"tiers":["weak","strong"]}`,
			errs:      map[string]error{"weak": transient},
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "a caller fault stops at once",
			cfg:       `{"gates":{"test":{}},"tiers":["weak","strong"]}`,
			errs:      map[string]error{"weak": caller},
			class:     llm.ClassCaller,
			calls:     map[string]int{"weak": 1, "strong": 0},
			decisions: []string{"give up@tiers[0]"},
		},
		{
			name:      "a gate that breaks fails its check",
			cfg:       `{"gates":{"test":{"error":true}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "an answer no gate can judge is accepted",
			cfg:       `{"gates":{"test":{"skip":true}},"tiers":["weak","strong"]}`,
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 0},
			decisions: []string{"accept@tiers[0]"},
		},
		{
			name:      "a tier may be any subtree",
			cfg:       `{"gates":{"test":{"scores":{"weak":0.2}}},"tiers":[{"model":"weak"},{"model":{"name":"strong"}}]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "three tiers stop at the middle",
			cfg:       `{"gates":{"test":{"scores":{"weak":0.1,"mid":0.9}}},"tiers":["weak","mid","strong"]}`,
			want:      "mid",
			calls:     map[string]int{"weak": 1, "mid": 1, "strong": 0},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "tier gates override the cascade's",
			cfg:       `{"gates":{"test":{"scores":{"weak":0.1}}},"tiers":[{"route":"weak","gates":{"test":{}}},"strong"]}`,
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 0},
			decisions: []string{"accept@tiers[0]"},
		},
		{
			name:      "best returns the best-scoring answer when every tier fails",
			cfg:       `{"return":"best","gates":{"test":{"scores":{"weak":0.4,"strong":0.3}}},"tiers":["weak","strong"]}`,
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "reject@tiers[1]", "best@tiers[0]"},
		},
		{
			name:      "best prefers the later tier on a tie",
			cfg:       `{"return":"best","gates":{"test":{"scores":{"weak":0.3,"strong":0.3}}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "reject@tiers[1]", "best@tiers[1]"},
		},
		{
			name:      "best accepts a last tier that passes",
			cfg:       `{"return":"best","gates":{"test":{"scores":{"weak":0.4}}},"tiers":["weak","strong"]}`,
			want:      "strong",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "accept@tiers[1]"},
		},
		{
			name:      "a failing last tier returns the best rejected answer",
			cfg:       `{"gates":{"test":{"scores":{"weak":0.2}}},"tiers":["weak","strong"]}`,
			errs:      map[string]error{"strong": transient},
			want:      "weak",
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "give up@tiers[1]", "best@tiers[0]"},
		},
		{
			name:      "every tier failing returns the last error",
			cfg:       `{"gates":{"test":{}},"tiers":["weak","strong"]}`,
			errs:      map[string]error{"weak": transient, "strong": transient},
			class:     llm.ClassTransient,
			calls:     map[string]int{"weak": 1, "strong": 1},
			decisions: []string{"escalate@tiers[0]", "give up@tiers[1]"},
		},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				models := fleet()
				for m, err := range tt.errs {
					models[m].Err = err
				}
				e := newEnv(models)
				n := e.build(t, tt.cfg)
				c := e.Call(stream)
				out, err := n.Serve(t.Context(), c)
				if tt.want == "" {
					if err == nil || llm.ClassOf(err) != tt.class {
						t.Fatalf("err = %v (class %v), want class %v", err, llm.ClassOf(err), tt.class)
					}
				} else {
					if err != nil {
						t.Fatalf("Serve: %v", err)
					}
					if out.Model != tt.want {
						t.Fatalf("answered by %s, want %s", out.Model, tt.want)
					}
					text := out.Response.Text()
					if stream {
						if out.Response != nil || out.Stream == nil {
							t.Fatalf("a streaming request got %+v", out)
						}
						text, _ = policytest.Drain(t, out.Stream)
					}
					if text != models[tt.want].Text {
						t.Fatalf("client got %q, want %q", text, models[tt.want].Text)
					}
				}
				for m, want := range tt.calls {
					if got := models[m].Calls.Load(); got != int64(want) {
						t.Errorf("%s called %d times, want %d", m, got, want)
					}
				}
				for m, f := range models {
					if f.Opened.Load() != f.Closed.Load() {
						t.Errorf("%s: %d streams opened, %d closed", m, f.Opened.Load(), f.Closed.Load())
					}
				}
				var want []string
				for _, d := range tt.decisions {
					want = append(want, strings.Replace(d, "@", "@routes.r.cascade.", 1))
				}
				if got := decisions(c.Trace, "cascade"); !slices.Equal(got, want) {
					t.Errorf("decisions %v, want %v", got, want)
				}
				policytest.CheckLedger(t, c.Trace, tt.calls)
			})
		}
	}
}

// TestTraceRecordsGates checks that every gate's verdict and each
// decision's score land in the trace.
func TestTraceRecordsGates(t *testing.T) {
	e := newEnv(fleet())
	n := e.build(t, `{"gates":{"all":[{"test":{"name":"a","scores":{"weak":0.9}}},{"test":{"name":"b","scores":{"weak":0.1}}}]},"tiers":["weak","strong"]}`)
	c := e.Call(false)
	if _, err := n.Serve(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	var gates []string
	var esc map[string]any
	for _, d := range c.Trace.Snapshot().Decisions {
		switch d.Kind {
		case "gate":
			gates = append(gates, d.Data["gate"].(string)+":"+d.Decision)
			if d.Node != "routes.r.cascade.tiers[0]" && d.Node != "routes.r.cascade.tiers[1]" {
				t.Errorf("gate decision at %s", d.Node)
			}
		case "cascade":
			if d.Decision == "escalate" {
				esc = d.Data
				if !strings.Contains(d.Reason, "b (scored by model)") {
					t.Errorf("escalate reason %q does not say which gate failed", d.Reason)
				}
			}
		}
	}
	if want := []string{"a:pass", "b:fail", "all:fail"}; !slices.Equal(gates, want) {
		t.Errorf("gate decisions %v, want %v", gates, want)
	}
	if esc == nil || esc["tier"] != 0 || esc["score"] != 0.5 || esc["model"] != "weak" {
		t.Errorf("escalate data %v", esc)
	}
}

// TestThresholdUnderLoad checks that the cascade's threshold adapts to the
// load of the process: laxer at peak, as configured.
func TestThresholdUnderLoad(t *testing.T) {
	e := newEnv(fleet())
	n := e.build(t, `{"threshold":{"default":0.8,"peak":0.3,"peak_load":2},"gates":{"test":{"scores":{"weak":0.5}}},"tiers":["weak","strong"]}`)
	serve := func() string {
		out, err := n.Serve(t.Context(), e.Call(false))
		if err != nil {
			t.Fatal(err)
		}
		return out.Model
	}
	if got := serve(); got != "strong" {
		t.Fatalf("off-peak: answered by %s, want strong (0.5 < 0.8)", got)
	}
	load.Default.Inc()
	load.Default.Inc()
	defer load.Default.Dec()
	defer load.Default.Dec()
	if got := serve(); got != "weak" {
		t.Fatalf("at peak: answered by %s, want weak (0.5 >= 0.3)", got)
	}
}
