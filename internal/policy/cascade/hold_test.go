package cascade

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
)

func TestAssembler(t *testing.T) {
	u := llm.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}
	tests := []struct {
		name   string
		chunks []*llm.Chunk
		want   *llm.Response
		chars  int
	}{
		{
			name: "text, finish and usage",
			chunks: []*llm.Chunk{
				{ID: "a", Model: "m", Created: 5, Choices: []llm.ChunkChoice{{Delta: llm.Delta{Role: "assistant", Content: "Hel"}}}},
				{ID: "a", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "lo"}, FinishReason: "stop"}}},
				{ID: "a", Usage: &u},
			},
			want: &llm.Response{ID: "a", Model: "m", Created: 5, Usage: u, Choices: []llm.Choice{
				{Index: 0, FinishReason: "stop", Message: llm.Message{Role: "assistant", Content: "Hello"}}}},
			chars: 5,
		},
		{
			name: "two choices out of order",
			chunks: []*llm.Chunk{
				{Choices: []llm.ChunkChoice{{Index: 1, Delta: llm.Delta{Content: "b"}}}},
				{Choices: []llm.ChunkChoice{{Index: 0, Delta: llm.Delta{Content: "a"}}, {Index: 1, Delta: llm.Delta{Content: "c"}}}},
			},
			want: &llm.Response{Choices: []llm.Choice{
				{Index: 0, Message: llm.Message{Role: "assistant", Content: "a"}},
				{Index: 1, Message: llm.Message{Role: "assistant", Content: "bc"}}}},
			chars: 3,
		},
		{
			name: "tool call fragments",
			chunks: []*llm.Chunk{
				{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get", Arguments: `{"a"`}}}}}}},
				{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{{Index: 0, Function: llm.FunctionCall{Arguments: `:1}`}}}}, FinishReason: "tool_calls"}}},
			},
			want: &llm.Response{Choices: []llm.Choice{{Index: 0, FinishReason: "tool_calls", Message: llm.Message{Role: "assistant",
				ToolCalls: []llm.ToolCall{{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get", Arguments: `{"a":1}`}}}}}}},
			chars: 7,
		},
		{
			name: "logprobs and a refusal",
			chunks: []*llm.Chunk{
				{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Refusal: "No"}, Logprobs: &llm.Logprobs{Refusal: []llm.TokenLogprob{{Token: "No", Logprob: -0.5}}}}}},
				{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "x"}, Logprobs: &llm.Logprobs{Content: []llm.TokenLogprob{{Token: "x", Logprob: -1}}}}}},
			},
			want: &llm.Response{Choices: []llm.Choice{{Index: 0, Message: llm.Message{Role: "assistant", Content: "x", Refusal: "No"},
				Logprobs: &llm.Logprobs{Content: []llm.TokenLogprob{{Token: "x", Logprob: -1}}, Refusal: []llm.TokenLogprob{{Token: "No", Logprob: -0.5}}}}}},
			chars: 3,
		},
		{
			name:   "a hostile index is ignored",
			chunks: []*llm.Chunk{{Choices: []llm.ChunkChoice{{Index: 1 << 30, Delta: llm.Delta{Content: "x"}}, {Index: -1, Delta: llm.Delta{Content: "y"}}}}},
			want:   &llm.Response{Choices: []llm.Choice{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a assembler
			for _, ch := range tt.chunks {
				a.add(ch)
			}
			got := a.response()
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tt.want)
				t.Fatalf("got  %s\nwant %s", g, w)
			}
			if a.chars != tt.chars {
				t.Fatalf("chars %d, want %d", a.chars, tt.chars)
			}
		})
	}
}

func TestReplayStrips(t *testing.T) {
	two := 2
	chunks := []*llm.Chunk{
		{Choices: []llm.ChunkChoice{{Index: 0, Delta: llm.Delta{Content: "a"}, Logprobs: &llm.Logprobs{}}}},
		{Choices: []llm.ChunkChoice{{Index: 1, Delta: llm.Delta{Content: "other sample"}}}},
		{Choices: []llm.ChunkChoice{{Index: 0, Delta: llm.Delta{Content: "b"}}, {Index: 1, Delta: llm.Delta{Content: "c"}}}},
		{Usage: &llm.Usage{TotalTokens: 1}},
	}
	r := &replay{held: append([]*llm.Chunk(nil), chunks...), client: &llm.Request{}}
	var got []*llm.Chunk
	for {
		ch, err := r.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ch)
	}
	if len(got) != 3 || got[0].Choices[0].Logprobs != nil || len(got[1].Choices) != 1 || got[1].Choices[0].Delta.Content != "b" || got[2].Usage == nil {
		b, _ := json.Marshal(got)
		t.Fatalf("client got %s", b)
	}
	// A client that asked for two choices and logprobs gets everything.
	r = &replay{held: append([]*llm.Chunk(nil), chunks...), client: &llm.Request{N: &two, Logprobs: true}}
	n := 0
	for {
		ch, err := r.Recv()
		if err == io.EOF {
			break
		}
		if ch != chunks[n] {
			t.Fatalf("chunk %d changed", n)
		}
		n++
	}
	if n != len(chunks) {
		t.Fatalf("got %d chunks, want %d", n, len(chunks))
	}
}

func TestSettled(t *testing.T) {
	pass := gate.Verdict{Gate: "p", Score: 1, Pass: true}
	fail := gate.Verdict{Gate: "f", Score: 0}
	skip := gate.Verdict{Gate: "s", Skipped: true}
	comb := func(rule string, pass bool, vs ...gate.Verdict) gate.Verdict {
		return gate.Verdict{Gate: rule, Rule: rule, Pass: pass, Score: 0.5, Verdicts: vs}
	}
	tests := []struct {
		name    string
		v       gate.Verdict
		byScore bool
		want    bool
	}{
		{"a single gate that judged", fail, false, true},
		{"a skipped gate", skip, false, false},
		{"all failing for good", comb(gate.RuleAll, false, skip, fail), false, true},
		{"all passing with a child still to judge", comb(gate.RuleAll, true, pass, skip), false, false},
		{"all passing for good", comb(gate.RuleAll, true, pass, pass), false, true},
		{"any passing for good", comb(gate.RuleAny, true, skip, pass), false, true},
		{"any failing with a child still to judge", comb(gate.RuleAny, false, fail, skip), false, false},
		{"weighted with a child still to judge", comb(gate.RuleWeighted, false, fail, skip), false, false},
		{"weighted complete", comb(gate.RuleWeighted, false, fail, pass), false, true},
		{"a score needs every gate", comb(gate.RuleAll, false, skip, fail), true, false},
		{"nested all in any", comb(gate.RuleAny, true, comb(gate.RuleAll, true, pass, pass), skip), false, true},
		{"nested undecided", comb(gate.RuleAll, false, comb(gate.RuleAny, false, fail, skip), pass), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settled(tt.v, tt.byScore); got != tt.want {
				t.Fatalf("settled = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzNew checks that no config block makes New panic, and that every
// rejected block is rejected with a path under the cascade's.
func FuzzNew(f *testing.F) {
	for _, s := range []string{
		`{"gates":{"test":{}},"tiers":["weak","strong"]}`,
		`{"threshold":{"default":0.5,"tiers":{"pro":0.7}},"return":"best","gates":{"test":{}},"tiers":[{"route":"weak","check_every":10},"strong"]}`,
		`{"tiers":[{"name":"x","route":{"model":"weak"},"gates":[{"test":{}}]},{"model":"strong"}]}`,
		`{"tiers":[]}`, `[]`, `null`, `{"threshold":"x"}`,
	} {
		f.Add(s)
	}
	e := newEnv(fleet())
	f.Fuzz(func(t *testing.T, cfg string) {
		n, err := New(e, "routes.r.cascade", json.RawMessage(cfg))
		if err == nil && n == nil {
			t.Fatal("no node and no error")
		}
		var ce *conf.Error
		if err != nil && (!errors.As(err, &ce) || !strings.HasPrefix(ce.Path, "routes.r.cascade")) {
			t.Fatalf("New(%s) = %v, want a *conf.Error under routes.r.cascade", cfg, err)
		}
	})
}
