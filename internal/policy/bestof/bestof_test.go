package bestof

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

// judgeFake rates answers saying "four" 9 and others 3.
func judgeFake(req *llm.Request) string {
	for _, m := range req.Messages {
		if strings.Contains(m.Content, "four") {
			return "The answer is right. Rating: [[9]]"
		}
	}
	return "Wrong. Rating: [[3]]"
}

func TestBestOf(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		models    map[string]*policytest.Model
		cfg       string
		stream    bool
		want      string // "" wants an error
		decisions []string
		outcomes  map[string]string
	}{
		{
			name: "gate: the highest score wins after every answer is in",
			models: map[string]*policytest.Model{"a": {Text: "five", Delay: 5 * ms}, "b": {Text: "four", Delay: 50 * ms},
				"c": {Text: "six", Delay: 10 * ms}},
			cfg:       `{"candidates":["a","b","c"],"select":"gate","gates":{"test":{"scores":{"a":0.3,"b":0.9,"c":0.5}}}}`,
			want:      "four",
			decisions: []string{"select:b"},
			outcomes:  map[string]string{"a": trace.OutcomeOK, "b": trace.OutcomeOK, "c": trace.OutcomeOK},
		},
		{
			name: "vote: the majority's earliest answer",
			models: map[string]*policytest.Model{"a": {Text: "So the answer is 4.", Delay: 30 * ms}, "b": {Text: "2+2 = 4\n#### 4", Delay: 10 * ms},
				"c": {Text: "It is 5", Delay: 5 * ms}},
			cfg:       `{"candidates":["a","b","c"],"select":"vote"}`,
			want:      "2+2 = 4\n#### 4",
			decisions: []string{"select:b"},
		},
		{
			name:      "vote: a tie goes to the first answer",
			models:    map[string]*policytest.Model{"a": {Text: "5", Delay: 20 * ms}, "b": {Text: "4", Delay: 10 * ms}},
			cfg:       `{"candidates":["a","b"],"select":"vote"}`,
			want:      "4",
			decisions: []string{"select:b"},
		},
		{
			name: "judge: the judge's highest rating",
			models: map[string]*policytest.Model{"a": {Text: "five", Delay: 5 * ms}, "b": {Text: "four", Delay: 10 * ms},
				"judge": {Reply: judgeFake}},
			cfg:       `{"candidates":["a","b"],"select":"judge","judge":{"model":"judge"}}`,
			want:      "four",
			decisions: []string{"select:b"},
		},
		{
			name: "centroid: the answer closest to the others wins",
			models: map[string]*policytest.Model{"a": {Text: "Two plus two is four, so the answer is four.", Delay: 30 * ms},
				"b": {Text: "Bananas are a yellow fruit grown in warm places.", Delay: 5 * ms},
				"c": {Text: "The answer is four: two plus two makes four.", Delay: 10 * ms},
				"d": {Text: "Two plus two is four.", Delay: 20 * ms}},
			cfg:       `{"candidates":["a","b","c","d"],"select":"centroid","embedding":{"model":"emb"}}`,
			want:      "Two plus two is four, so the answer is four.",
			decisions: []string{"select:a"},
		},
		{
			name: "centroid: a tie goes to the earlier answer",
			models: map[string]*policytest.Model{"a": {Text: "the answer is four", Delay: 30 * ms},
				"b": {Text: "bananas are yellow", Delay: 5 * ms}, "c": {Text: "The answer is four!", Delay: 10 * ms}},
			cfg:       `{"candidates":["a","b","c"],"select":"centroid","embedding":{"model":"emb"}}`,
			want:      "The answer is four!",
			decisions: []string{"select:c"},
		},
		{
			name:      "centroid: the embedding fails: the earliest answer",
			models:    map[string]*policytest.Model{"a": {Text: "four", Delay: 30 * ms}, "b": {Text: "five", Delay: 5 * ms}, "c": {Text: "four", Delay: 10 * ms}},
			cfg:       `{"candidates":["a","b","c"],"select":"centroid","embedding":{"model":"emb-down"}}`,
			want:      "five",
			decisions: []string{"select:b"},
		},
		{
			name:      "centroid: a single answer at the deadline is taken without embedding",
			models:    map[string]*policytest.Model{"a": {Text: "four", Delay: 10 * ms}, "b": {Text: "4", Delay: 10 * time.Second}},
			cfg:       `{"candidates":["a","b"],"select":"centroid","embedding":{"model":"emb"},"deadline":"100ms"}`,
			want:      "four",
			decisions: []string{"cancel:b", "select:a"},
		},
		{
			name: "centroid: stream: the selected answer is replayed",
			models: map[string]*policytest.Model{"a": {Text: "the answer is four", Delay: 5 * ms, Gap: ms},
				"b": {Text: "bananas are yellow", Delay: 10 * ms, Gap: ms}, "c": {Text: "so the answer is four", Delay: 20 * ms, Gap: ms}},
			cfg:       `{"candidates":["a","b","c"],"select":"centroid","embedding":{"model":"emb"}}`,
			stream:    true,
			want:      "the answer is four",
			decisions: []string{"select:a"},
		},
		{
			name:      "deadline: the late candidate is canceled",
			models:    map[string]*policytest.Model{"a": {Text: "four", Delay: 10 * ms}, "b": {Text: "4", Delay: 10 * time.Second}},
			cfg:       `{"candidates":["a","b"],"select":"vote","deadline":"100ms"}`,
			want:      "four",
			decisions: []string{"cancel:b", "select:a"},
			outcomes:  map[string]string{"a": trace.OutcomeOK, "b": trace.OutcomeCanceled},
		},
		{
			name:      "deadline with no answer yet: the first answer is taken",
			models:    map[string]*policytest.Model{"a": {Text: "four", Delay: 200 * ms}, "b": {Text: "4", Delay: 10 * time.Second}},
			cfg:       `{"candidates":["a","b"],"select":"vote","deadline":"100ms"}`,
			want:      "four",
			decisions: []string{"cancel:b", "select:a"},
		},
		{
			name:      "a failing candidate is left out",
			models:    map[string]*policytest.Model{"a": {Err: errDown}, "b": {Text: "four", Delay: ms}},
			cfg:       `{"candidates":["a","b"],"select":"gate","gates":{"test":{}}}`,
			want:      "four",
			decisions: []string{"error:a", "select:b"},
		},
		{
			name:      "every candidate fails",
			models:    map[string]*policytest.Model{"a": {Err: errDown}, "b": {Err: errDown, Delay: ms}},
			cfg:       `{"candidates":["a","b"],"select":"vote"}`,
			decisions: []string{"error:a", "error:b", "none"},
		},
		{
			name:      "stream: the selected answer is replayed",
			models:    map[string]*policytest.Model{"a": {Text: "five", Delay: 5 * ms, Gap: ms}, "b": {Text: "four is right", Delay: 10 * ms, Gap: ms}},
			cfg:       `{"candidates":["a","b"],"select":"gate","gates":{"test":{"scores":{"a":0.1}}}}`,
			stream:    true,
			want:      "four is right",
			decisions: []string{"select:b"},
			outcomes:  map[string]string{"a": trace.OutcomeOK, "b": trace.OutcomeOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnvEmbed(t, tt.models)
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
				if got := decisions(c.Trace); !reflect.DeepEqual(got, tt.decisions) {
					t.Errorf("decisions %q, want %q", got, tt.decisions)
				}
				calls, outcomes, _ := policytest.Ledger(t, c.Trace)
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

// TestClientCancel: when the client goes away every candidate stops and
// Serve returns.
func TestClientCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(map[string]*policytest.Model{"a": {Text: "x", Delay: time.Hour}, "b": {Text: "y", HangAfter: 1}})
		n := e.build(t, `{"candidates":["a","b"],"select":"vote"}`)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		c := e.Call(true)
		_, err := n.Serve(ctx, c)
		if llm.ClassOf(err) != llm.ClassCanceled {
			t.Fatalf("Serve error %v, want canceled", err)
		}
		_, outcomes, cost := policytest.Ledger(t, c.Trace)
		if outcomes["a"] != trace.OutcomeCanceled || outcomes["b"] != trace.OutcomeCanceled {
			t.Fatalf("outcomes %v, want both canceled", outcomes)
		}
		if cost["b"] <= 0 {
			t.Fatal("the canceled stream's partial usage was not paid for")
		}
		if b := e.Models["b"]; b.Closed.Load() != 1 {
			t.Fatalf("b's stream closed %d times, want 1", b.Closed.Load())
		}
	})
}

func TestConfigErrors(t *testing.T) {
	e := newEnvEmbed(t, map[string]*policytest.Model{"a": {}, "b": {}})
	tests := []struct{ cfg, path string }{
		{`{"candidates":["a"],"select":"vote"}`, "routes.r.best_of.candidates"},
		{`{"candidates":["a","nope"],"select":"vote"}`, "routes.r.best_of.candidates[1]"},
		{`{"candidates":["a","b"]}`, "routes.r.best_of.select"},
		{`{"candidates":["a","b"],"select":"best"}`, "routes.r.best_of.select"},
		{`{"candidates":["a","b"],"select":"gate"}`, "routes.r.best_of.gates"},
		{`{"candidates":["a","b"],"select":"judge"}`, "routes.r.best_of.judge"},
		{`{"candidates":["a","b"],"select":"judge","judge":{"model":"nope"}}`, "routes.r.best_of.judge.model"},
		{`{"candidates":["a","b"],"select":"vote","gates":{"test":{}}}`, "routes.r.best_of.gates"},
		{`{"candidates":["a","b"],"select":"vote","deadline":"-1s"}`, "routes.r.best_of.deadline"},
		{`{"candidates":["a","b"],"select":"vote","colour":1}`, "routes.r.best_of"},
		{`{"candidates":["a","b"],"select":"centroid"}`, "routes.r.best_of.embedding"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":{}}`, "routes.r.best_of.embedding.model"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":{"model":"nope"}}`, "routes.r.best_of.embedding.model"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":{"model":"a"}}`, "routes.r.best_of.embedding.model"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":{"model":"emb","size":3}}`, "routes.r.best_of.embedding"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":"emb"}`, "routes.r.best_of.embedding"},
		{`{"candidates":["a","b"],"select":"centroid","embedding":{"model":"emb"},"gates":{"test":{}}}`, "routes.r.best_of.gates"},
		{`{"candidates":["a","b"],"select":"vote","embedding":{"model":"emb"}}`, "routes.r.best_of.embedding"},
		{`{"candidates":["a","b"],"select":"gate","gates":{"test":{}},"embedding":{"model":"emb"}}`, "routes.r.best_of.embedding"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			_, err := New(e, "routes.r.best_of", json.RawMessage(tt.cfg))
			var ce *conf.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, tt.path) {
				t.Fatalf("New = %v, want a *conf.Error at %s", err, tt.path)
			}
		})
	}
}

// TestCentroidTrace: the select decision carries every answer's mean
// similarity in arrival order, the winner's is the highest, and the one
// embeddings call is an attempt in the trace, paid for.
func TestCentroidTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnvEmbed(t, map[string]*policytest.Model{"a": {Text: "the answer is four", Delay: 30 * time.Millisecond},
			"b": {Text: "bananas are yellow", Delay: 5 * time.Millisecond}, "c": {Text: "I think the answer is four", Delay: 10 * time.Millisecond}})
		n := e.build(t, `{"candidates":["a","b","c"],"select":"centroid","embedding":{"model":"emb"}}`)
		c := e.Call(false)
		if _, err := n.Serve(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		var sel *trace.Decision
		for _, d := range c.Trace.Snapshot().Decisions {
			if d.Kind == "best_of" && d.Decision == "select" {
				sel = &d
			}
		}
		if sel == nil {
			t.Fatal("no select decision")
		}
		if sel.Data["method"] != "centroid" || sel.Data["embedding_model"] != "emb" {
			t.Errorf("data %v, want method centroid and embedding_model emb", sel.Data)
		}
		scores, _ := sel.Data["scores"].([]map[string]any)
		var order []string
		best := -2.0
		for _, s := range scores {
			order = append(order, s["candidate"].(string))
			best = max(best, s["similarity"].(float64))
		}
		if !reflect.DeepEqual(order, []string{"b", "c", "a"}) {
			t.Errorf("scores in order %v, want arrival order b, c, a", order)
		}
		if sel.Data["similarity"] != best || sel.Data["candidate"] == "b" {
			t.Errorf("winner %v with %v, want the highest mean similarity %v (not b)", sel.Data["candidate"], sel.Data["similarity"], best)
		}
		policytest.CheckLedger(t, c.Trace, map[string]int{"emb": 1, "a": 1, "b": 1, "c": 1})
	})
}

func TestMeanSimilarities(t *testing.T) {
	tests := []struct {
		vecs [][]float32
		want []float64
	}{
		{[][]float32{{1, 0}, {1, 0}}, []float64{1, 1}},
		{[][]float32{{1, 0}, {0, 1}, {1, 0}}, []float64{0.5, 0, 0.5}},
		{[][]float32{{1, 0}, {-1, 0}, {1, 0}, {1, 0}}, []float64{1.0 / 3, -1, 1.0 / 3, 1.0 / 3}},
	}
	for _, tt := range tests {
		got := meanSimilarities(tt.vecs)
		for i := range got {
			if d := got[i] - tt.want[i]; d > 1e-9 || d < -1e-9 {
				t.Errorf("meanSimilarities(%v) = %v, want %v", tt.vecs, got, tt.want)
				break
			}
		}
	}
}
