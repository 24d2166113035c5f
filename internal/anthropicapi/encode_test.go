package anthropicapi

import (
	"bytes"
	stdjson "encoding/json"
	"flag"
	"net/http"
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
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

// lines joins JSON documents one per line, as a golden file holds them.
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

func TestEncodeMessageGolden(t *testing.T) {
	tests := []struct {
		name         string
		resp         *llm.Response
		requestModel string
	}{
		{"message_text", responseText(), "claude-sonnet-4-5"},
		{"message_tool_use", responseToolCalls(), "claude-sonnet-4-5"},
		{"message_max_tokens", responseLength(), ""},
		{"message_refusal", responseContentFilter(), "claude-opus-4-1"},
		{"message_empty", responseEmpty(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMessage(tt.resp, tt.requestModel)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, lines(t, [][]byte{b}))
		})
	}
}

func TestEncodeMessageNil(t *testing.T) {
	if b, err := EncodeMessage(nil, "m"); err == nil {
		t.Errorf("EncodeMessage(nil) = %s, nil; want an error", b)
	}
}

// encodeStream runs chunks through a StreamEncoder and finishes it with
// usage.
func encodeStream(t *testing.T, requestModel string, chunks []*llm.Chunk, usage *llm.Usage) []Event {
	t.Helper()
	enc := NewStreamEncoder(requestModel)
	var evs []Event
	for _, ch := range chunks {
		got, err := enc.Chunk(ch)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got...)
	}
	return append(evs, enc.Finish(usage)...)
}

// sse frames events as they go on the wire, checking that each one's data
// is a JSON object whose type is the event name.
func sse(t *testing.T, evs []Event) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, ev := range evs {
		var head struct{ Type string }
		if err := stdjson.Unmarshal(ev.Data, &head); err != nil || head.Type != ev.Name {
			t.Errorf("event %s: data %s (type %q, %v)", ev.Name, ev.Data, head.Type, err)
		}
		if bytes.ContainsAny(ev.Data, "\r\n") {
			t.Errorf("event %s: data holds a line break: %q", ev.Name, ev.Data)
		}
		b.Write(ev.Bytes())
	}
	return b.Bytes()
}

func TestStreamEncoderGolden(t *testing.T) {
	tests := []struct {
		name         string
		requestModel string
		chunks       []*llm.Chunk
		usage        *llm.Usage
	}{
		{"stream_text", "claude-sonnet-4-5", streamText(), nil},
		{"stream_tool_use", "claude-sonnet-4-5", streamTools(), nil},
		{"stream_tools_first", "", streamToolsFirst(), &llm.Usage{PromptTokens: 7, CompletionTokens: 9}},
		{"stream_usage_first", "claude-haiku", streamUsageFirst(), nil},
		{"stream_empty", "claude-haiku", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, sse(t, encodeStream(t, tt.requestModel, tt.chunks, tt.usage)))
		})
	}
}

func TestEncodeErrorGolden(t *testing.T) {
	var docs [][]byte
	for _, e := range errorCases() {
		b := EncodeError(e)
		if s := string(b); strings.Contains(s, "SECRET") || strings.Contains(s, "10.0.0.7") || strings.Contains(s, "secret-upstream") {
			t.Errorf("EncodeError leaks internal detail: %s", s)
		}
		docs = append(docs, b)
	}
	golden(t, "errors", lines(t, docs))
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		e    *llm.Error
		want string
	}{
		{nil, "api_error"},
		{llm.Errorf("x", "bad"), "invalid_request_error"},
		{&llm.Error{Status: 401, Type: llm.TypeAuthentication}, "authentication_error"},
		{&llm.Error{Status: 402, Type: llm.TypeUpstream}, "billing_error"},
		{&llm.Error{Status: 403, Type: llm.TypeAuthentication}, "permission_error"},
		{&llm.Error{Status: 404, Type: llm.TypeNotFound}, "not_found_error"},
		{&llm.Error{Status: 413, Type: llm.TypeInvalidRequest}, "request_too_large"},
		{&llm.Error{Status: 429, Type: llm.TypeRateLimit}, "rate_limit_error"},
		{&llm.Error{Status: 500, Type: llm.TypeServer}, "api_error"},
		{&llm.Error{Status: 502, Type: llm.TypeUpstream}, "api_error"},
		{&llm.Error{Status: 503, Type: llm.TypeUpstream}, "overloaded_error"},
		{&llm.Error{Status: 529, Type: llm.TypeUpstream}, "overloaded_error"},
		{&llm.Error{Status: 504, Type: llm.TypeTimeout}, "timeout_error"},
		{&llm.Error{Status: 408, Type: llm.TypeTimeout}, "timeout_error"},
		{&llm.Error{Status: 499, Type: llm.TypeInvalidRequest}, "invalid_request_error"},
		{&llm.Error{Status: 422}, "invalid_request_error"},
		{&llm.Error{Status: 400, Type: llm.TypeUpstream}, "invalid_request_error"},
		{&llm.Error{Type: llm.TypeRateLimit}, "rate_limit_error"},
		{&llm.Error{Type: llm.TypeNotFound}, "not_found_error"},
		{&llm.Error{Type: llm.TypeInvalidRequest}, "invalid_request_error"},
		{&llm.Error{Type: llm.TypeUpstream}, "api_error"},
		{&llm.Error{}, "api_error"},
	}
	for _, tt := range tests {
		if got := ErrorType(tt.e); got != tt.want {
			t.Errorf("ErrorType(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestEncodeErrorMessage(t *testing.T) {
	tests := []struct {
		e    *llm.Error
		want string
	}{
		{nil, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`},
		{&llm.Error{Status: http.StatusBadGateway}, `{"type":"error","error":{"type":"api_error","message":"Bad Gateway"}}`},
		{&llm.Error{Status: 529}, `{"type":"error","error":{"type":"overloaded_error","message":"Internal server error"}}`},
		{&llm.Error{Status: 400, Message: "x", Param: "p", Code: "c", Cause: errSecret}, `{"type":"error","error":{"type":"invalid_request_error","message":"x"}}`},
	}
	for _, tt := range tests {
		if got := string(EncodeError(tt.e)); got != tt.want {
			t.Errorf("EncodeError(%+v) = %s, want %s", tt.e, got, tt.want)
		}
	}
}

func TestMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"chatcmpl-abc123", "msg_abc123"},
		{"msg_01XYZ", "msg_01XYZ"},
		{"gen-7", "msg_gen-7"},
		{"chatcmpl-", "msg_unknown"},
		{"", "msg_unknown"},
	}
	for _, tt := range tests {
		if got := MessageID(tt.in); got != tt.want {
			t.Errorf("MessageID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := ToolUseID("call_1", "msg_x", 3); got != "call_1" {
		t.Errorf("ToolUseID kept = %q", got)
	}
	if got := ToolUseID("", "msg_x", 3); got != "toolu_x_3" {
		t.Errorf("ToolUseID made = %q", got)
	}
}

func TestToolInput(t *testing.T) {
	tests := []struct{ args, want string }{
		{`{"a":1}`, `{"a":1}`},
		{` { "a" : [1, 2] } `, `{"a":[1,2]}`},
		{`{"s":"<&>"}`, `{"s":"<&>"}`},
		{``, `{}`},
		{`null`, `{}`},
		{`[1]`, `{}`},
		{`"x"`, `{}`},
		{`{"a":`, `{}`},
		{`{"a":1} {}`, `{}`},
		{`{"a":1,"a":2}`, `{}`},
		{"{\"a\xff\":1,\"a\xfe\":2}", `{}`}, // equal once invalid UTF-8 is replaced
		{"{\"a\":\"\xff\"}", "{\"a\":\"\uFFFD\"}"},
	}
	for _, tt := range tests {
		if got := string(toolInput(tt.args)); got != tt.want {
			t.Errorf("toolInput(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}
