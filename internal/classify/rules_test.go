package classify

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

func userCall(msgs ...llm.Message) *policy.Call {
	return &policy.Call{Request: &llm.Request{Messages: msgs}}
}

func user(text string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: text} }

func rules(t *testing.T, cfg string) *Rules {
	t.Helper()
	r, err := NewRules("c.rules", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("NewRules(%s): %v", cfg, err)
	}
	return r
}

// codingTask is a long coding request of about 2,000 tokens.
var codingTask = "Please implement a rate limiter for our API gateway in Go. " +
	strings.Repeat("It must handle bursts, share state across replicas and degrade gracefully when Redis is down. ", 90) +
	"\n```go\nfunc (l *Limiter) Allow(key string) bool {\n\treturn true\n}\n```\n"

func TestRulesPresets(t *testing.T) {
	tests := []struct {
		name, preset string
		msgs         []llm.Message
		label        string
		minProb      float64
	}{
		{"factual question is simple", "complexity", []llm.Message{user("What is the capital of France?")}, "simple", 0.95},
		{"long coding task is complex", "complexity", []llm.Message{user(codingTask)}, "complex", 0.9},
		{"multi-step maths proof is complex", "complexity", []llm.Message{user("Prove that the sum of the first n odd numbers is n^2. " +
			"Derive it step by step: first write 1 + 3 + 5 + ... + (2n - 1), then use induction, and finally check n = 1, 2, 3.")}, "complex", 0.6},
		{"code is code", "domain", []llm.Message{user("Why does this function panic?\n```go\nfunc f(m map[string]int) { m[\"a\"]++ }\n```")}, "code", 0.9},
		{"word problem is math", "domain", []llm.Message{user("Janet has 3 apples and buys 5 more. How many apples does she have? 3 + 5 = ?")}, "math", 0.9},
		{"essay is writing", "domain", []llm.Message{user("Write a persuasive essay about public libraries.")}, "writing", 0.8},
		{"chit-chat is general", "domain", []llm.Message{user("Who was the first person on the moon?")}, "general", 0.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules(t, `{"preset":"`+tt.preset+`"}`)
			res, err := r.Classify(context.Background(), userCall(tt.msgs...))
			if err != nil {
				t.Fatal(err)
			}
			if res.Label != tt.label || res.Prob < tt.minProb {
				t.Errorf("got %s p=%.3f (%s), want %s with p >= %v", res.Label, res.Prob, res.Reason, tt.label, tt.minProb)
			}
			checkDistribution(t, res)
		})
	}
}

func checkDistribution(t *testing.T, res Result) {
	t.Helper()
	sum := 0.0
	for _, p := range res.Probs {
		if !(p >= 0 && p <= 1) {
			t.Fatalf("probability %v out of [0,1]", p)
		}
		sum += p
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("probabilities sum to %v", sum)
	}
	if len(res.Probs) != len(res.Labels) || res.Labels[res.Index] != res.Label || res.Probs[res.Index] != res.Prob {
		t.Fatalf("inconsistent result %+v", res)
	}
}

// A two-label config is the logistic of the score difference: bias and
// weights add up exactly as documented.
func TestRulesLogistic(t *testing.T) {
	r := rules(t, `{"labels":[{"name":"easy"},{"name":"hard","bias":-2,"weights":{"math":1.5,"question_words":0.25},
		"keywords":{"step by step":0.5,"prove":1}}]}`)
	tests := []struct {
		name  string
		text  string
		score float64 // hard's score
	}{
		{"nothing", "hello there", -2},
		{"math", "3 + 4 = 7", -0.5},
		{"math and a question", "what is 3 + 4", -0.25},
		{"keyword once", "Prove it.", -1},
		{"keyword repeated counts once", "prove prove PROVE prove", -1},
		{"phrase across punctuation and case", "Go Step-by-STEP, please", -1.5},
		{"part of a word is no match", "provenance stepping", -2},
		{"phrase interrupted", "step by the step", -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := r.Classify(context.Background(), userCall(user(tt.text)))
			want := 1 / (1 + math.Exp(-tt.score))
			if got := res.Probs[1]; math.Abs(got-want) > 1e-12 {
				t.Errorf("P(hard) = %v, want logistic(%v) = %v (%s)", got, tt.score, want, res.Reason)
			}
		})
	}
}

func TestRulesInputs(t *testing.T) {
	f := &features.Set{Tokens: 1023, QuestionWords: 50, HasCode: true, UserTurns: 3, Language: features.LangCyrillic, Tools: 2, Images: 11}
	got := inputs(f)
	want := [11]float64{10, 10, 1, 0, 0, 2, 0, 1, 2, 0, 10}
	if got != want {
		t.Errorf("inputs = %v, want %v", got, want)
	}
	if x := inputs(&features.Set{Language: features.LangLatin}); x[7] != 0 {
		t.Errorf("latin counted as non-latin")
	}
	if x := inputs(&features.Set{}); x[7] != 0 || x[5] != 0 {
		t.Errorf("empty request: %v", x)
	}
}

func TestRulesConfigErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"unknown preset", `{"preset":"mood"}`, `c.rules.preset: unknown preset "mood"`},
		{"preset and labels", `{"preset":"domain","labels":[{"name":"a"},{"name":"b"}]}`, "c.rules: use either preset or labels"},
		{"one label", `{"labels":[{"name":"a"}]}`, "c.rules.labels: at least two labels"},
		{"no name", `{"labels":[{"name":"a"},{"bias":1}]}`, "c.rules.labels[1].name: required"},
		{"duplicate", `{"labels":[{"name":"a"},{"name":"a"}]}`, `c.rules.labels[1].name: duplicate label "a"`},
		{"unknown input", `{"labels":[{"name":"a","weights":{"vibes":1}},{"name":"b"}]}`, "c.rules.labels[0].weights.vibes: unknown input"},
		{"empty keyword", `{"labels":[{"name":"a","keywords":{"--":1}},{"name":"b"}]}`, "c.rules.labels[0].keywords.--: a keyword needs"},
		{"same keyword twice", `{"labels":[{"name":"a","keywords":{"trade-off":1,"Trade Off":2}},{"name":"b"}]}`, "the same keyword"},
		{"long phrase", `{"labels":[{"name":"a","keywords":{"a b c d e f g h i":1}},{"name":"b"}]}`, "more than 8 words"},
		{"unknown field", `{"preset":"domain","temperature":2}`, "c.rules.temperature: unknown field"},
		{"wrong type", `{"labels":[{"name":"a","bias":"high"},{"name":"b"}]}`, "c.rules.labels[0].bias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRules("c.rules", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRulesDefaultPreset(t *testing.T) {
	r := rules(t, `{}`)
	if r.Name() != "rules:complexity" || strings.Join(r.Labels(), ",") != "simple,complex" {
		t.Errorf("default: %s %v", r.Name(), r.Labels())
	}
	if r := rules(t, `{"labels":[{"name":"a"},{"name":"b"}]}`); r.Name() != "rules:custom" {
		t.Errorf("custom name %s", r.Name())
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"two", `{"rules":{},"model":"x"}`, "exactly one classifier"},
		{"none", `{}`, "exactly one classifier"},
		{"list", `["rules"]`, "exactly one classifier"},
		{"unknown", `{"oracle":{}}`, `c.oracle: unknown classifier "oracle"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, "c", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
