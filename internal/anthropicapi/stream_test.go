package anthropicapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

// names lists the event names of evs, with the block index of block
// events, e.g. "content_block_delta[1]".
func names(t *testing.T, evs []Event) string {
	t.Helper()
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ev.Name)
		if strings.HasPrefix(ev.Name, "content_block") {
			i := strings.Index(string(ev.Data), `"index":`)
			j := strings.IndexAny(string(ev.Data[i+8:]), ",}")
			b.WriteString("[" + string(ev.Data[i+8:i+8+j]) + "]")
		}
	}
	return b.String()
}

func mustChunk(t *testing.T, enc *StreamEncoder, ch *llm.Chunk) []Event {
	t.Helper()
	evs, err := enc.Chunk(ch)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestStreamEncoderSequence(t *testing.T) {
	tests := []struct {
		name   string
		chunks []*llm.Chunk
		want   []string // event names per chunk, then for Finish
	}{
		{
			name: "role-only first chunk, empty deltas and a usage-only chunk",
			chunks: []*llm.Chunk{
				chunk(delta(llm.Delta{Role: llm.RoleAssistant})),
				chunk(delta(llm.Delta{})),
				chunk(delta(llm.Delta{Content: "hi"})),
				chunk(llm.ChunkChoice{FinishReason: llm.FinishStop}),
				{ID: "x", Usage: &llm.Usage{PromptTokens: 1}},
			},
			want: []string{
				"message_start",
				"",
				"content_block_start[0] content_block_delta[0]",
				"",
				"",
				"content_block_stop[0] message_delta message_stop",
			},
		},
		{
			name: "usage-only first chunk starts the message",
			chunks: []*llm.Chunk{
				{ID: "x", Usage: &llm.Usage{PromptTokens: 1}},
			},
			want: []string{"message_start", "message_delta message_stop"},
		},
		{
			name: "text after tools opens a new text block",
			chunks: []*llm.Chunk{
				chunk(delta(llm.Delta{Content: "a"})),
				chunk(toolDelta(0, "c0", "f", "{}")),
				chunk(delta(llm.Delta{Content: "b"})),
			},
			want: []string{
				"message_start content_block_start[0] content_block_delta[0]",
				"content_block_stop[0] content_block_start[1] content_block_delta[1]",
				"content_block_stop[1] content_block_start[2] content_block_delta[2]",
				"content_block_stop[2] message_delta message_stop",
			},
		},
		{
			name: "interleaved tool fragments go to their own block",
			chunks: []*llm.Chunk{
				chunk(toolDelta(0, "c0", "f", `{"a":`)),
				chunk(toolDelta(1, "c1", "g", `{"b":`)),
				chunk(toolDelta(0, "", "", `1}`)),
				chunk(toolDelta(1, "", "", `2}`)),
			},
			want: []string{
				"message_start content_block_start[0] content_block_delta[0]",
				"content_block_stop[0] content_block_start[1] content_block_delta[1]",
				"content_block_delta[0]",
				"content_block_delta[1]",
				"content_block_stop[1] message_delta message_stop",
			},
		},
		{
			name: "a tool call that never gets a name starts at Finish",
			chunks: []*llm.Chunk{
				chunk(delta(llm.Delta{Content: "a"})),
				chunk(toolDelta(0, "c0", "", `{"a":`)),
				chunk(toolDelta(0, "", "", `1}`)),
			},
			want: []string{
				"message_start content_block_start[0] content_block_delta[0]",
				"",
				"",
				"content_block_stop[0] content_block_start[1] content_block_delta[1] content_block_stop[1] message_delta message_stop",
			},
		},
		{
			name: "a tool call opening with no arguments sends no delta",
			chunks: []*llm.Chunk{
				chunk(toolDelta(0, "c0", "f", "")),
				chunk(toolDelta(0, "", "", "")),
			},
			want: []string{
				"message_start content_block_start[0]",
				"",
				"content_block_stop[0] message_delta message_stop",
			},
		},
		{
			name: "choices other than 0 are dropped",
			chunks: []*llm.Chunk{
				chunk(llm.ChunkChoice{Index: 1, Delta: llm.Delta{Content: "other"}}),
				chunk(delta(llm.Delta{Refusal: "no"})),
			},
			want: []string{
				"message_start",
				"content_block_start[0] content_block_delta[0]",
				"content_block_stop[0] message_delta message_stop",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := NewStreamEncoder("m")
			for i, ch := range tt.chunks {
				if got := names(t, mustChunk(t, enc, ch)); got != tt.want[i] {
					t.Errorf("chunk %d: events %q, want %q", i, got, tt.want[i])
				}
			}
			if got := names(t, enc.Finish(nil)); got != tt.want[len(tt.chunks)] {
				t.Errorf("Finish: events %q, want %q", got, tt.want[len(tt.chunks)])
			}
		})
	}
}

// TestStreamEncoderUsageAndStopReason: the finish reason and usage may come
// in either order and from Finish; the last word wins.
func TestStreamEncoderUsageAndStopReason(t *testing.T) {
	tests := []struct {
		name   string
		chunks []*llm.Chunk
		usage  *llm.Usage
		want   string // message_delta data
	}{
		{"finish reason before usage chunk",
			[]*llm.Chunk{chunk(llm.ChunkChoice{FinishReason: llm.FinishLength}), {Usage: &llm.Usage{PromptTokens: 9, CompletionTokens: 4, CachedTokens: 2}}}, nil,
			`{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":2,"output_tokens":4}}`},
		{"Finish usage wins over chunk usage",
			[]*llm.Chunk{{Usage: &llm.Usage{PromptTokens: 9, CompletionTokens: 4}}, chunk(llm.ChunkChoice{FinishReason: llm.FinishContentFilter})}, &llm.Usage{PromptTokens: 10, CompletionTokens: 6},
			`{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}`},
		{"no finish reason and no usage",
			[]*llm.Chunk{chunk(delta(llm.Delta{Content: "x"}))}, nil,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":0}}`},
		{"no finish reason with tool calls",
			[]*llm.Chunk{chunk(toolDelta(0, "c", "f", "{}"))}, nil,
			`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":0}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := NewStreamEncoder("m")
			for _, ch := range tt.chunks {
				mustChunk(t, enc, ch)
			}
			evs := enc.Finish(tt.usage)
			d := evs[len(evs)-2]
			if d.Name != "message_delta" || string(d.Data) != tt.want {
				t.Errorf("%s %s\nwant message_delta %s", d.Name, d.Data, tt.want)
			}
		})
	}
}

func TestStreamEncoderEnds(t *testing.T) {
	enc := NewStreamEncoder("m")
	if _, err := enc.Chunk(nil); err == nil {
		t.Error("Chunk(nil) succeeded")
	}
	mustChunk(t, enc, chunk(delta(llm.Delta{Content: "x"})))
	if evs := enc.Finish(nil); len(evs) != 3 {
		t.Errorf("Finish = %q", names(t, evs))
	}
	if evs := enc.Finish(nil); evs != nil {
		t.Errorf("second Finish = %q, want nothing", names(t, evs))
	}
	if _, err := enc.Chunk(chunk(delta(llm.Delta{Content: "y"}))); !errors.Is(err, errFinished) {
		t.Errorf("Chunk after Finish: err = %v", err)
	}
}

func TestStreamEncoderError(t *testing.T) {
	enc := NewStreamEncoder("m")
	mustChunk(t, enc, chunk(delta(llm.Delta{Content: "x"})))
	ev := enc.Error(&llm.Error{Status: 529, Type: llm.TypeUpstream, Message: "Overloaded", Cause: errSecret})
	want := `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	if ev.Name != "error" || string(ev.Data) != want {
		t.Errorf("Error = %s %s, want error %s", ev.Name, ev.Data, want)
	}
	if got := string(ev.Bytes()); got != "event: error\ndata: "+want+"\n\n" {
		t.Errorf("Bytes = %q", got)
	}
	if _, err := enc.Chunk(chunk(delta(llm.Delta{Content: "y"}))); err == nil {
		t.Error("Chunk after Error succeeded")
	}
	if evs := enc.Finish(nil); evs != nil {
		t.Errorf("Finish after Error = %q, want nothing", names(t, evs))
	}
}

func TestPing(t *testing.T) {
	if got := string(Ping().Bytes()); got != "event: ping\ndata: {\"type\":\"ping\"}\n\n" {
		t.Errorf("Ping = %q", got)
	}
}
