package structure

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/gatetest"
	"github.com/sextant-router/sextant/internal/llm"
)

func build(t testing.TB, cfg string) gate.Gate {
	t.Helper()
	g, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("Build(%s): %v", cfg, err)
	}
	return g
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, cfg, want string }{
		{"negative", `{"structure":{"min_chars":-1}}`, "g.structure.min_chars: must not be negative"},
		{"min over max", `{"structure":{"min_chars":10,"max_chars":5}}`, "g.structure.min_chars: 10 is more than max_chars 5"},
		{"tokens min over max", `{"structure":{"min_tokens":10,"max_tokens":5}}`, "g.structure.min_tokens"},
		{"bad regex", `{"structure":{"forbid":["ok","(unclosed"]}}`, "g.structure.forbid[1]: invalid regular expression"},
		{"phrases without refusals", `{"structure":{"refusals":false,"refusal_phrases":["no"]}}`, "g.structure.refusal_phrases: set with refusals: false"},
		{"unknown", `{"structure":{"min_len":3}}`, "g.structure.min_len: unknown field"},
		{"type", `{"structure":{"require":"x"}}`, "g.structure.require: expected a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gate.Build(gatetest.Builder{}, "g", json.RawMessage(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		text    string
		finish  string
		refusal string
		partial bool
		pass    bool
		skipped bool
		score   float64
		reason  string
	}{
		{"defaults pass", `"structure"`, "Paris.", "", "", false, true, false, 1, "3 checks pass"},
		{"empty fails", `"structure"`, "", "", "", false, false, false, 2.0 / 3, "0 chars, under min_chars 1"},
		{"truncated", `"structure"`, "The house's value is 130,00", llm.FinishLength, "", false, false, false, 2.0 / 3, "truncated"},
		{"truncation off", `{"structure":{"truncation":false}}`, "cut", llm.FinishLength, "", false, true, false, 1, ""},
		{"refusal phrase", `"structure"`, "I’m sorry, but I can’t help with that.", "", "", false, false, false, 2.0 / 3, "refusal"},
		{"refusal field", `"structure"`, "", "", "I will not do this", false, false, false, 1.0 / 3, "refusal"},
		{"refusal off", `{"structure":{"refusals":false}}`, "I cannot help with that.", "", "", false, true, false, 1, ""},
		{"own refusal phrases", `{"structure":{"refusal_phrases":["computer says no"]}}`, "Computer says no.", "", "", false, false, false, 2.0 / 3, "computer says no"},
		{"refusal late is not one", `{"structure":{"refusal_window":20}}`, "Here is the story. The villain said: I cannot help with that.", "", "", false, true, false, 1, ""},
		{"lengths", `{"structure":{"min_chars":10,"max_chars":20}}`, "short", "", "", false, false, false, 0.75, "under min_chars 10"},
		{"too long", `{"structure":{"max_chars":3,"refusals":false,"truncation":false,"min_chars":0}}`, "too long", "", "", false, false, false, 0, "over max_chars 3"},
		{"tokens", `{"structure":{"min_tokens":5}}`, "one two", "", "", false, false, false, 0.75, "under min_tokens 5"},
		{"require and forbid", `{"structure":{"require":["(?m)^#### -?\\d"],"forbid":["(?i)as an ai"]}}`, "As an AI I think 4\n#### 4", "", "", false, false, false, 0.8, "forbidden pattern"},
		{"require missing", `{"structure":{"require":["####"]}}`, "4", "", "", false, false, false, 0.75, "required pattern"},
		{"hedges", `{"structure":{"max_hedges":1}}`, "I think it is probably 4, perhaps 5.", "", "", false, false, false, 0.75, "3 hedges, over max_hedges 1"},
		{"hedges within limit", `{"structure":{"max_hedges":3}}`, "I think it is probably 4.", "", "", false, true, false, 1, ""},
		{"lax threshold", `{"structure":{"threshold":0.6,"max_hedges":0}}`, "Probably 4.", "", "", false, true, false, 0.75, "1 hedges"},
		{"prefix can fail", `{"structure":{"forbid":["(?i)as an ai"]}}`, "As an AI, I", "", "", true, false, false, 0, "forbidden"},
		{"prefix never passes", `{"structure":{"min_chars":100}}`, "So far so good", "", "", true, false, true, 0, "prefix"},
		{"prefix refusal", `"structure"`, "I cannot help with", "", "", true, false, false, 0, "refusal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.cfg)
			c := gatetest.Call("q", "", nil)
			a := gatetest.Answer(c, tt.text)
			a.Response.Choices[0].Message.Refusal = tt.refusal
			if tt.finish != "" {
				a.Response.Choices[0].FinishReason = tt.finish
			}
			a.Partial = tt.partial
			v, err := g.Check(context.Background(), c, a)
			if err != nil {
				t.Fatal(err)
			}
			if v.Pass != tt.pass || v.Skipped != tt.skipped || (!tt.skipped && abs(v.Score-tt.score) > 1e-9) || !strings.Contains(v.Reason, tt.reason) {
				t.Fatalf("verdict %+v; want pass %v skipped %v score %v reason ~%q", v, tt.pass, tt.skipped, tt.score, tt.reason)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	g := build(t, `{"structure":{"max_tokens":100}}`)
	c := gatetest.Call("q", "", nil)
	a := gatetest.Answer(c, "I think it is 4.")
	a.Response.Usage.CompletionTokens = 7
	v, _ := g.Check(context.Background(), c, a)
	m := v.Metrics
	if m["chars"] != 16 || m["tokens"] != 7 || m["hedges"] != 1 || m["refusal"] != 0 || m["truncated"] != 0 {
		t.Fatalf("metrics %v", m)
	}
	v, _ = g.Check(context.Background(), c, &gate.Answer{})
	if v.Pass || v.Reason != "no answer" {
		t.Fatalf("verdict %+v", v)
	}
}

// benchAnswer is a realistic answer of about 500 tokens.
var benchAnswer = strings.Repeat("The house cost $80,000 and the repairs cost $50,000, so the total is 80,000 + 50,000 = $130,000. I think the increase is 150% of the price. ", 14) + "\n#### 70000"

func BenchmarkStructure(b *testing.B) {
	g := build(b, `{"structure":{"min_chars":20,"max_tokens":2000,"require":["(?m)^####\\s*-?[\\d,.]+"],"forbid":["(?i)as an ai language model"],"max_hedges":5}}`)
	c := gatetest.Call("q", "", nil)
	a := gatetest.Answer(c, benchAnswer)
	a.Response.Usage.CompletionTokens = 500
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// A fresh Answer each time: its shared analysis is not cached.
		if _, err := g.Check(ctx, c, &gate.Answer{Model: a.Model, Request: a.Request, Response: a.Response}); err != nil {
			b.Fatal(err)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
