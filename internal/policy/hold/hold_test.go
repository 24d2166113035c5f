package hold

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

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
			var a Assembler
			for _, ch := range tt.chunks {
				a.Add(ch)
			}
			got := a.Response()
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
	r := &Replay{held: append([]*llm.Chunk(nil), chunks...), client: &llm.Request{}}
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
	r = &Replay{held: append([]*llm.Chunk(nil), chunks...), client: &llm.Request{N: &two, Logprobs: true}}
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

type sliceStream struct {
	chunks []*llm.Chunk
	err    error // after the chunks; nil: io.EOF
	closed int
}

func (s *sliceStream) Recv() (*llm.Chunk, error) {
	if len(s.chunks) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	ch := s.chunks[0]
	s.chunks = s.chunks[1:]
	return ch, nil
}

func (s *sliceStream) Close() error { s.closed++; return nil }

func TestCollect(t *testing.T) {
	u := llm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}
	chunks := []*llm.Chunk{
		{ID: "x", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "four "}}}},
		{ID: "x", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "is it"}, FinishReason: llm.FinishStop}}},
		{ID: "x", Choices: []llm.ChunkChoice{}, Usage: &u},
	}
	s := &sliceStream{chunks: append([]*llm.Chunk(nil), chunks...)}
	held, resp, err := Collect(s)
	if err != nil || len(held) != 3 || resp.Text() != "four is it" || resp.Usage != u || s.closed != 1 {
		t.Fatalf("Collect = %d chunks, %+v, %v; closed %d", len(held), resp, err, s.closed)
	}
	broken := errors.New("reset")
	s = &sliceStream{chunks: chunks[:1], err: broken}
	if _, _, err := Collect(s); !errors.Is(err, broken) || s.closed != 1 {
		t.Fatalf("Collect of a broken stream = %v, closed %d; want the error and one close", err, s.closed)
	}
}
