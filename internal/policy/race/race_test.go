package race

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/trace"
)

var errDown = &llm.Error{Status: 503, Type: llm.TypeUpstream, Message: "down", Class: llm.ClassTransient}

// fleet is a test case's models; each case runs once, so it owns them.
type fleet map[string]*policytest.Model

func (f fleet) models() map[string]*policytest.Model { return f }

func TestRace(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		fleet  fleet
		cfg    string
		stream bool
		want   string // the answer's text; "" wants an error
		// decisions are the race's decisions in order.
		decisions []string
		// calls is how many attempts each model saw (absent: 0).
		calls map[string]int
		// outcomes are the attempts' outcomes by model.
		outcomes map[string]string
	}{
		{
			name:      "the fastest answer wins and the slow one is canceled",
			fleet:     fleet{"fast": {Text: "four", Delay: 10 * ms}, "slow": {Text: "4", Delay: 500 * ms}},
			cfg:       `{"candidates":["slow","fast"]}`,
			want:      "four",
			decisions: []string{"win:fast", "cancel:slow"},
			calls:     map[string]int{"fast": 1, "slow": 1},
			outcomes:  map[string]string{"fast": trace.OutcomeOK, "slow": trace.OutcomeCanceled},
		},
		{
			name:      "a failing candidate does not win",
			fleet:     fleet{"fast": {Delay: 1 * ms, Err: errDown}, "slow": {Text: "4", Delay: 50 * ms}},
			cfg:       `{"candidates":["fast","slow"]}`,
			want:      "4",
			decisions: []string{"error:fast", "win:slow"},
			calls:     map[string]int{"fast": 1, "slow": 1},
			outcomes:  map[string]string{"fast": trace.OutcomeError, "slow": trace.OutcomeOK},
		},
		{
			name:      "the first answer passing the gates wins",
			fleet:     fleet{"fast": {Text: "five", Delay: 10 * ms}, "slow": {Text: "four", Delay: 50 * ms}},
			cfg:       `{"candidates":["fast","slow"],"gates":{"test":{"scores":{"fast":0.2}}}}`,
			want:      "four",
			decisions: []string{"win:slow"},
			calls:     map[string]int{"fast": 1, "slow": 1},
		},
		{
			name:      "none passes: the best-scoring answer",
			fleet:     fleet{"a": {Text: "five", Delay: 10 * ms}, "b": {Text: "four", Delay: 50 * ms}},
			cfg:       `{"candidates":["a","b"],"gates":{"test":{"scores":{"a":0.2,"b":0.4}}}}`,
			want:      "four",
			decisions: []string{"none:b"},
		},
		{
			name:      "none passes: the fallback",
			fleet:     fleet{"a": {Text: "five", Delay: 10 * ms}, "b": {Text: "six", Delay: 50 * ms}, "big": {Text: "four"}},
			cfg:       `{"candidates":["a","b"],"gates":{"test":{"scores":{"a":0.2,"b":0}}},"fallback":"big"}`,
			want:      "four",
			decisions: []string{"none:a"},
			calls:     map[string]int{"a": 1, "b": 1, "big": 1},
		},
		{
			name:      "every candidate fails",
			fleet:     fleet{"a": {Err: errDown}, "b": {Err: errDown, Delay: ms}},
			cfg:       `{"candidates":["a","b"]}`,
			decisions: []string{"error:a", "error:b", "none"},
		},
		{
			name:      "a staggered candidate is not launched when the first answers in time",
			fleet:     fleet{"a": {Text: "four", Delay: 100 * ms}, "b": {Text: "4"}},
			cfg:       `{"candidates":["a","b"],"stagger":"1s"}`,
			want:      "four",
			decisions: []string{"win:a"},
			calls:     map[string]int{"a": 1},
		},
		{
			name:      "a staggered candidate launches after the stagger",
			fleet:     fleet{"a": {Text: "four", Delay: 10 * time.Second}, "b": {Text: "4", Delay: 10 * ms}},
			cfg:       `{"candidates":["a","b"],"stagger":"200ms"}`,
			want:      "4",
			decisions: []string{"win:b", "cancel:a"},
			calls:     map[string]int{"a": 1, "b": 1},
		},
		{
			name:      "a staggered candidate launches at once when the first fails",
			fleet:     fleet{"a": {Err: errDown}, "b": {Text: "4"}},
			cfg:       `{"candidates":["a","b"],"stagger":"1h"}`,
			want:      "4",
			decisions: []string{"error:a", "win:b"},
		},
		{
			name:      "max_concurrency 1 runs one candidate at a time",
			fleet:     fleet{"a": {Text: "five", Delay: 10 * ms}, "b": {Text: "four", Delay: 10 * ms}, "c": {Text: "4"}},
			cfg:       `{"candidates":["a","b","c"],"max_concurrency":1,"gates":{"test":{"scores":{"a":0}}}}`,
			want:      "four",
			decisions: []string{"win:b"},
			calls:     map[string]int{"a": 1, "b": 1},
		},
		{
			name:      "max_cost_usd stops launching once spent",
			fleet:     fleet{"a": {Text: "five", Delay: 10 * ms}, "b": {Text: "four"}},
			cfg:       `{"candidates":["a","b"],"max_concurrency":1,"max_cost_usd":0.00001,"gates":{"test":{"scores":{"a":0}}}}`,
			want:      "five",
			decisions: []string{"cap:b", "none:a"},
			calls:     map[string]int{"a": 1},
		},
		{
			name:      "stream: the first chunk wins, live",
			fleet:     fleet{"fast": {Text: "four is the answer", Delay: 10 * ms, Gap: ms}, "slow": {Text: "4", Delay: time.Second}},
			cfg:       `{"candidates":["slow","fast"]}`,
			stream:    true,
			want:      "four is the answer",
			decisions: []string{"win:fast", "cancel:slow"},
			outcomes:  map[string]string{"fast": trace.OutcomeOK, "slow": trace.OutcomeCanceled},
		},
		{
			name:      "stream: a held-back answer passing the gates wins",
			fleet:     fleet{"fast": {Text: "five", Delay: 10 * ms}, "slow": {Text: "four", Delay: 50 * ms, Gap: ms}},
			cfg:       `{"candidates":["fast","slow"],"gates":{"test":{"scores":{"fast":0}}}}`,
			stream:    true,
			want:      "four",
			decisions: []string{"win:slow"},
			outcomes:  map[string]string{"fast": trace.OutcomeOK, "slow": trace.OutcomeOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(tt.fleet.models())
				n := e.build(t, tt.cfg)
				c := e.Call(tt.stream)
				out, err := n.Serve(t.Context(), c)
				if tt.want == "" {
					if err == nil {
						t.Fatalf("Serve = %+v, want an error", out)
					}
				} else {
					if err != nil {
						t.Fatalf("Serve: %v", err)
					}
					if got := policytest.Text(t, out); got != tt.want {
						t.Fatalf("answer %q, want %q", got, tt.want)
					}
				}
				synctest.Wait()
				if got := decisions(c.Trace); !reflect.DeepEqual(got, tt.decisions) {
					t.Errorf("decisions %q, want %q", got, tt.decisions)
				}
				calls, outcomes, _ := policytest.Ledger(t, c.Trace)
				for m, want := range tt.calls {
					if calls[m] != want {
						t.Errorf("%d attempts on %s, want %d", calls[m], m, want)
					}
				}
				for m, f := range e.Models {
					if int(f.Calls.Load()) != calls[m] {
						t.Errorf("%s saw %d calls, the trace %d", m, f.Calls.Load(), calls[m])
					}
				}
				for m, want := range tt.outcomes {
					if outcomes[m] != want {
						t.Errorf("%s's attempt %s, want %s", m, outcomes[m], want)
					}
				}
			})
		})
	}
}

// TestLoserPartialCostCountedOnce: a loser canceled mid-stream stops at
// once, and its partial usage is in the trace exactly once.
func TestLoserPartialCostCountedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(map[string]*policytest.Model{
			"slow": {Text: strings.Repeat("word ", 40), HangAfter: 3},
			"fast": {Text: "four", Delay: 50 * time.Millisecond},
		})
		n := e.build(t, `{"candidates":["slow","fast"],"gates":{"test":{}}}`)
		c := e.Call(true)
		out, err := n.Serve(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := policytest.Text(t, out); got != "four" {
			t.Fatalf("answer %q", got)
		}
		calls, outcomes, cost := policytest.Ledger(t, c.Trace)
		if calls["slow"] != 1 || outcomes["slow"] != trace.OutcomeCanceled || cost["slow"] <= 0 {
			t.Fatalf("slow: %d attempts, outcome %s, cost %d: want 1 canceled attempt with its partial cost",
				calls["slow"], outcomes["slow"], cost["slow"])
		}
		s := e.Models["slow"]
		if s.Canceled.Load() != 1 || s.Closed.Load() != 1 {
			t.Fatalf("slow stream: canceled %d, closed %d; want both 1", s.Canceled.Load(), s.Closed.Load())
		}
	})
}

// TestClientCancel: when the client goes away every candidate stops.
func TestClientCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(map[string]*policytest.Model{"a": {Text: "x", Delay: time.Hour}, "b": {Text: "y", Delay: time.Hour}})
		n := e.build(t, `{"candidates":["a","b"]}`)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		c := e.Call(false)
		_, err := n.Serve(ctx, c)
		if llm.ClassOf(err) != llm.ClassCanceled {
			t.Fatalf("Serve error %v, want canceled", err)
		}
		if got := decisions(c.Trace); !reflect.DeepEqual(got, []string{"cancel:a", "cancel:b"}) && !reflect.DeepEqual(got, []string{"cancel:b", "cancel:a"}) {
			t.Fatalf("decisions %q", got)
		}
		policytest.Ledger(t, c.Trace)
	})
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(map[string]*policytest.Model{"a": {}, "b": {}})
	tests := []struct{ cfg, path string }{
		{`{"candidates":["a"]}`, "routes.r.race.candidates"},
		{`{"candidates":["a","nope"]}`, "routes.r.race.candidates[1]"},
		{`{"candidates":["a","b"],"stagger":"-1s"}`, "routes.r.race.stagger"},
		{`{"candidates":["a","b"],"max_concurrency":-1}`, "routes.r.race.max_concurrency"},
		{`{"candidates":["a","b"],"max_cost_usd":-1}`, "routes.r.race.max_cost_usd"},
		{`{"candidates":["a","b"],"gates":{"nope":{}}}`, "routes.r.race.gates"},
		{`{"candidates":["a","b"],"colour":1}`, "routes.r.race"},
		{`{"candidates":["a","b"],"stagger":"1s","hedge":{}}`, "routes.r.race.stagger"},
		{`{"candidates":["a","b"],"hedge":{"max":2}}`, "routes.r.race.hedge.max"},
		{`{"candidates":["a","b"],"hedge":{"budget":0}}`, "routes.r.race.hedge.budget"},
		{`{"candidates":["a","b"],"hedge":{"delay":"soon"}}`, "routes.r.race.hedge.delay"},
		{`{"candidates":["a","b"],"hedge":{"delay":3}}`, "routes.r.race.hedge.delay"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			_, err := New(e, "routes.r.race", json.RawMessage(tt.cfg))
			var ce *conf.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, tt.path) {
				t.Fatalf("New = %v, want a *conf.Error at %s", err, tt.path)
			}
		})
	}
}
