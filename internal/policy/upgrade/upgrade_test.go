package upgrade

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

func TestUpgrade(t *testing.T) {
	ms := time.Millisecond
	gated := `"gates":{"test":{"scores":{"better":0.2}}}`
	tests := []struct {
		name   string
		fast   *policytest.Model
		better *policytest.Model
		cfg    string // fields after fast and better
		stream bool
		want   string // the answer's text; "" wants an error
		// decision is the node's one decision, "decision:model".
		decision string
		waited   float64
		// outcomes are the attempts' outcomes by model.
		outcomes map[string]string
	}{
		{
			name:     "the better answer arrives within the window and passes",
			fast:     &policytest.Model{Text: "five", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four", Delay: 200 * ms},
			cfg:      `"window":"500ms","gates":{"test":{}}`,
			want:     "four",
			decision: "better:better",
			waited:   190,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeOK},
		},
		{
			name:     "the better answer arrives late: fast, better canceled",
			fast:     &policytest.Model{Text: "five", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four", Delay: time.Second},
			cfg:      `"window":"500ms"`,
			want:     "five",
			decision: "fast:fast",
			waited:   500,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeCanceled},
		},
		{
			name:     "the better answer fails its gates: fast",
			fast:     &policytest.Model{Text: "five", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four", Delay: 50 * ms},
			cfg:      gated,
			want:     "five",
			decision: "fast:fast",
			waited:   40,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeOK},
		},
		{
			name:     "the better answer fails its gates before the fast one arrives: fast",
			fast:     &policytest.Model{Text: "five", Delay: 100 * ms},
			better:   &policytest.Model{Text: "four", Delay: 50 * ms},
			cfg:      gated,
			want:     "five",
			decision: "fast:fast",
		},
		{
			name:     "a passing better answer before the fast one: better, fast canceled",
			fast:     &policytest.Model{Text: "five", Delay: 300 * ms},
			better:   &policytest.Model{Text: "four", Delay: 100 * ms},
			cfg:      `"gates":{"test":{}}`,
			want:     "four",
			decision: "better:better",
			outcomes: map[string]string{"fast": trace.OutcomeCanceled, "better": trace.OutcomeOK},
		},
		{
			name:     "the fast branch fails: wait for the better one with no window",
			fast:     &policytest.Model{Err: errDown, Delay: ms},
			better:   &policytest.Model{Text: "four", Delay: 5 * time.Second},
			cfg:      `"window":"100ms"`,
			want:     "four",
			decision: "better:better",
			outcomes: map[string]string{"fast": trace.OutcomeError, "better": trace.OutcomeOK},
		},
		{
			name:     "the fast branch fails and the better answer fails its gates: the only answer",
			fast:     &policytest.Model{Err: errDown},
			better:   &policytest.Model{Text: "four", Delay: 50 * ms},
			cfg:      gated,
			want:     "four",
			decision: "better:better",
		},
		{
			name:     "the better branch fails: fast",
			fast:     &policytest.Model{Text: "five", Delay: 10 * ms},
			better:   &policytest.Model{Err: errDown, Delay: 20 * ms},
			want:     "five",
			decision: "fast:fast",
			waited:   10,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeError},
		},
		{
			name:     "both fail",
			fast:     &policytest.Model{Err: errDown},
			better:   &policytest.Model{Err: errDown, Delay: ms},
			decision: "error",
		},
		{
			name:     "window 0: the fast answer at once",
			fast:     &policytest.Model{Text: "five", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four", Delay: 20 * ms},
			cfg:      `"window":"0s"`,
			want:     "five",
			decision: "fast:fast",
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeCanceled},
		},
		{
			name:     "stream: the better answer in the window is replayed",
			fast:     &policytest.Model{Text: "five is it", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four is the answer", Delay: 200 * ms},
			cfg:      `"window":"500ms","gates":{"test":{}}`,
			stream:   true,
			want:     "four is the answer",
			decision: "better:better",
			waited:   190,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeOK},
		},
		{
			name:     "stream: the better answer late, the held fast answer is replayed",
			fast:     &policytest.Model{Text: "five is it", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four is the answer", Delay: 100 * ms, Gap: 100 * ms},
			cfg:      `"window":"300ms"`,
			stream:   true,
			want:     "five is it",
			decision: "fast:fast",
			waited:   300,
			outcomes: map[string]string{"fast": trace.OutcomeOK, "better": trace.OutcomeCanceled},
		},
		{
			name:     "stream: the better answer fails its gates",
			fast:     &policytest.Model{Text: "five is it", Delay: 10 * ms},
			better:   &policytest.Model{Text: "four is the answer", Delay: 50 * ms},
			cfg:      gated,
			stream:   true,
			want:     "five is it",
			decision: "fast:fast",
			waited:   40,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(map[string]*policytest.Model{"fast": tt.fast, "better": tt.better})
				cfg := `{"fast":"fast","better":"better"`
				if tt.cfg != "" {
					cfg += "," + tt.cfg
				}
				n := e.build(t, cfg+"}")
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
					if (out.Stream != nil) != tt.stream {
						t.Fatalf("outcome stream %v, want %v", out.Stream != nil, tt.stream)
					}
					if got := policytest.Text(t, out); got != tt.want {
						t.Fatalf("answer %q, want %q", got, tt.want)
					}
				}
				synctest.Wait()
				got, waited := decisions(c.Trace)
				if !reflect.DeepEqual(got, []string{tt.decision}) {
					t.Errorf("decisions %q, want [%q]", got, tt.decision)
				}
				if waited != tt.waited {
					t.Errorf("waited_ms %v, want %v", waited, tt.waited)
				}
				calls, outcomes, _ := policytest.Ledger(t, c.Trace)
				for m, f := range e.Models {
					if f.Calls.Load() != 1 || calls[m] != 1 {
						t.Errorf("%s saw %d calls, the trace %d; want 1", m, f.Calls.Load(), calls[m])
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

// TestLateBetterPaidOnce: a better stream canceled mid-answer when the
// window ends stops at once, and its partial usage is in the trace
// exactly once.
func TestLateBetterPaidOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(map[string]*policytest.Model{
			"better": {Text: strings.Repeat("word ", 40), HangAfter: 3},
			"fast":   {Text: "four", Delay: 50 * time.Millisecond},
		})
		n := e.build(t, `{"fast":"fast","better":"better","window":"200ms","gates":{"test":{}}}`)
		c := e.Call(true)
		out, err := n.Serve(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := policytest.Text(t, out); got != "four" {
			t.Fatalf("answer %q", got)
		}
		calls, outcomes, cost := policytest.Ledger(t, c.Trace)
		if calls["better"] != 1 || outcomes["better"] != trace.OutcomeCanceled || cost["better"] <= 0 {
			t.Fatalf("better: %d attempts, outcome %s, cost %d: want 1 canceled attempt with its partial cost",
				calls["better"], outcomes["better"], cost["better"])
		}
		b := e.Models["better"]
		if b.Canceled.Load() != 1 || b.Closed.Load() != 1 {
			t.Fatalf("better stream: canceled %d, closed %d; want both 1", b.Canceled.Load(), b.Closed.Load())
		}
	})
}

// TestClientCancel: when the client goes away both branches stop, during
// the first wait and during the window.
func TestClientCancel(t *testing.T) {
	for _, fastDelay := range []time.Duration{time.Hour, time.Millisecond} {
		t.Run(fastDelay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(map[string]*policytest.Model{"fast": {Text: "x", Delay: fastDelay}, "better": {Text: "y", Delay: time.Hour}})
				n := e.build(t, `{"fast":"fast","better":"better","window":"1h"}`)
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				c := e.Call(false)
				_, err := n.Serve(ctx, c)
				if llm.ClassOf(err) != llm.ClassCanceled {
					t.Fatalf("Serve error %v, want canceled", err)
				}
				if got, _ := decisions(c.Trace); len(got) != 0 {
					t.Fatalf("decisions %q, want none", got)
				}
				if _, outcomes, _ := policytest.Ledger(t, c.Trace); outcomes["better"] != trace.OutcomeCanceled {
					t.Fatalf("better's attempt %s, want canceled", outcomes["better"])
				}
			})
		})
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(map[string]*policytest.Model{"a": {}, "b": {}})
	tests := []struct{ cfg, path string }{
		{`{"better":"b"}`, "routes.r.upgrade.fast"},
		{`{"fast":"a"}`, "routes.r.upgrade.better"},
		{`{"fast":"nope","better":"b"}`, "routes.r.upgrade.fast"},
		{`{"fast":"a","better":"nope"}`, "routes.r.upgrade.better"},
		{`{"fast":"a","better":"b","window":"-1s"}`, "routes.r.upgrade.window"},
		{`{"fast":"a","better":"b","window":"soon"}`, "routes.r.upgrade.window"},
		{`{"fast":"a","better":"b","gates":{"nope":{}}}`, "routes.r.upgrade.gates"},
		{`{"fast":"a","better":"b","colour":1}`, "routes.r.upgrade"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			_, err := New(e, "routes.r.upgrade", json.RawMessage(tt.cfg))
			var ce *conf.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, tt.path) {
				t.Fatalf("New = %v, want a *conf.Error at %s", err, tt.path)
			}
		})
	}
}
