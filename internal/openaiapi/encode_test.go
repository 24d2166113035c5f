package openaiapi

import (
	"bytes"
	stdjson "encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name.golden, or rewrites the file when
// the test runs with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update to accept)\n got: %s\nwant: %s", path, got, want)
	}
}

// lines joins JSON documents one per line, as a golden file holds a stream.
func lines(t *testing.T, docs [][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		if !stdjson.Valid(d) {
			t.Errorf("invalid JSON: %s", d)
		}
		b.Write(d)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestEncodeChatResponseGolden(t *testing.T) {
	tests := []struct {
		name string
		resp *llm.Response
	}{
		{"response_text", responseText()},
		{"response_tool_calls", responseToolCalls()},
		{"response_refusal", responseRefusal()},
		{"response_logprobs", responseLogprobs()},
		{"response_empty", responseEmpty()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeChatResponse(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, lines(t, [][]byte{b}))
		})
	}
}

func TestEncodeChatResponseNil(t *testing.T) {
	if b, err := EncodeChatResponse(nil); err == nil {
		t.Errorf("EncodeChatResponse(nil) = %s, nil; want an error", b)
	}
}

func TestEncodeChunkGolden(t *testing.T) {
	tests := []struct {
		name         string
		chunks       []*llm.Chunk
		includeUsage bool
		sent         int // chunks that produce an event
	}{
		{"stream_include_usage", streamChunks(), true, 9},
		{"stream_without_usage", streamChunks(), false, 8},
		{"stream_tools_first", streamToolsFirst(), false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs [][]byte
			for _, ch := range tt.chunks {
				b, err := EncodeChunk(ch, tt.includeUsage)
				if err != nil {
					t.Fatal(err)
				}
				if b != nil {
					docs = append(docs, b)
				}
			}
			if len(docs) != tt.sent {
				t.Errorf("%d events, want %d", len(docs), tt.sent)
			}
			golden(t, tt.name, lines(t, docs))
		})
	}
}

// TestEncodeChunkUsage pins the include_usage contract independently of the
// golden files.
func TestEncodeChunkUsage(t *testing.T) {
	content := &llm.Chunk{ID: "c", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "x"}}}}
	usageOnly := &llm.Chunk{ID: "c", Usage: &llm.Usage{PromptTokens: 1, CompletionTokens: 2}}
	both := &llm.Chunk{ID: "c", Choices: []llm.ChunkChoice{{FinishReason: "stop"}}, Usage: &llm.Usage{PromptTokens: 1}}
	noChoices := &llm.Chunk{ID: "c"}
	tests := []struct {
		name         string
		ch           *llm.Chunk
		includeUsage bool
		want         string // a fragment of the output; "" means dropped
		absent       string // must not occur
	}{
		{"content with include_usage has usage null", content, true, `"usage":null`, ""},
		{"content without include_usage has no usage", content, false, `"content":"x"`, `"usage"`},
		{"usage chunk with include_usage", usageOnly, true, `"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,`, ""},
		{"usage chunk without include_usage is dropped", usageOnly, false, "", ""},
		{"choices and usage with include_usage keep both", both, true, `"finish_reason":"stop"}],"usage":{"prompt_tokens":1,`, ""},
		{"choices and usage without include_usage keep choices", both, false, `"finish_reason":"stop"}]}`, `"usage"`},
		{"no choices and no usage is still sent", noChoices, false, `"choices":[]}`, `"usage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeChunk(tt.ch, tt.includeUsage)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if b != nil {
					t.Errorf("EncodeChunk = %s, want nil (dropped)", b)
				}
				return
			}
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("EncodeChunk = %s\nwant it to contain %s", b, tt.want)
			}
			if tt.absent != "" && strings.Contains(string(b), tt.absent) {
				t.Errorf("EncodeChunk = %s\nwant no %s", b, tt.absent)
			}
		})
	}
	if b, err := EncodeChunk(nil, true); err == nil {
		t.Errorf("EncodeChunk(nil) = %s, nil; want an error", b)
	}
}

// TestEncodedEventsAreOneLine: an SSE data field ends at a line break, so
// an encoded chunk or error must contain none.
func TestEncodedEventsAreOneLine(t *testing.T) {
	ch := &llm.Chunk{ID: "c", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "a\nb\r\nc\u2028d\u0085e",
		ToolCalls: []llm.ToolCallDelta{{Function: llm.FunctionCall{Arguments: "{\n}"}}}}}}}
	b, err := EncodeChunk(ch, true)
	if err != nil {
		t.Fatal(err)
	}
	e := StreamErrorEvent(&llm.Error{Type: llm.TypeUpstream, Message: "line one\nline two\r"})
	for _, out := range [][]byte{b, e} {
		if bytes.ContainsAny(out, "\r\n") {
			t.Errorf("event contains a raw line break: %q", out)
		}
	}
}

func TestEncodeErrorGolden(t *testing.T) {
	var docs [][]byte
	for _, e := range errorCases() {
		b := EncodeError(e)
		if s := string(b); strings.Contains(s, "SECRET") || strings.Contains(s, "10.0.0.7") || strings.Contains(s, "secret-upstream") {
			t.Errorf("EncodeError leaks internal detail: %s", s)
		}
		if sb := StreamErrorEvent(e); !bytes.Equal(sb, b) {
			t.Errorf("StreamErrorEvent = %s, want the EncodeError body %s", sb, b)
		}
		docs = append(docs, b)
	}
	golden(t, "errors", lines(t, docs))
}
