package openaiapi

import (
	stdjson "encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// FuzzDecodeChatRequest checks DecodeChatRequest's contract on any input:
// it never panics; a success is a request with a model, messages and
// parameters in range; a failure is a 400 *llm.Error whose wire form is
// valid JSON.
func FuzzDecodeChatRequest(f *testing.F) {
	f.Add([]byte(fullRequest))
	f.Add([]byte(typicalRequest))
	f.Add([]byte(body("")))
	f.Add([]byte(body(`"stream":true,"stream_options":{"include_usage":true},"n":2.0,"stop":"x","tool_choice":"none"`)))
	f.Add([]byte(msgs(`[{"role":"assistant","content":null,"tool_calls":[{"id":"c","function":{"name":"f"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"1"}]}]`)))
	for _, c := range decodeErrorCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeChatRequest(b)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *llm.Error", err, err)
			}
			if e.Status != http.StatusBadRequest || e.Type != llm.TypeInvalidRequest || e.Message == "" || e.Code == "" {
				t.Fatalf("error = %+v, want a 400 invalid_request_error with a message and a code", e)
			}
			if req != nil {
				t.Fatalf("request %+v returned with error %v", req, err)
			}
			if len(e.Param) > jsonname.MaxPath+len("...") {
				t.Fatalf("param is %d bytes long", len(e.Param))
			}
			if !stdjson.Valid(EncodeError(e)) {
				t.Fatalf("EncodeError wrote invalid JSON: %s", EncodeError(e))
			}
			return
		}
		if req == nil || req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("success with request %+v", req)
		}
		if !stdjson.Valid(b) {
			t.Fatalf("accepted a body that is not JSON: %q", b)
		}
		checkRequestInvariants(t, req)
	})
}

// checkRequestInvariants asserts what DecodeChatRequest promises about a
// request it returns.
func checkRequestInvariants(t *testing.T, r *llm.Request) {
	t.Helper()
	for i, m := range r.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper, llm.RoleUser, llm.RoleAssistant:
		case llm.RoleTool:
			if m.ToolCallID == "" {
				t.Fatalf("messages[%d]: tool message without tool_call_id", i)
			}
		default:
			t.Fatalf("messages[%d]: role %q", i, m.Role)
		}
		for _, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" {
				t.Fatalf("messages[%d]: tool call %+v", i, tc)
			}
		}
	}
	inRange := func(name string, v *float64, lo, hi float64) {
		if v != nil && (*v < lo || *v > hi) {
			t.Fatalf("%s = %v", name, *v)
		}
	}
	inRange("temperature", r.Temperature, 0, 2)
	inRange("top_p", r.TopP, 0, 1)
	inRange("presence_penalty", r.PresencePenalty, -2, 2)
	inRange("frequency_penalty", r.FrequencyPenalty, -2, 2)
	if r.N != nil && (*r.N < 1 || *r.N > maxN) || r.MaxTokens != nil && *r.MaxTokens < 1 ||
		r.TopLogprobs != nil && (*r.TopLogprobs < 0 || *r.TopLogprobs > maxTopLogprobs || !r.Logprobs) {
		t.Fatalf("integer parameter out of range: n=%v max_tokens=%v top_logprobs=%v", r.N, r.MaxTokens, r.TopLogprobs)
	}
	if len(r.Stop) > maxStop || r.IncludeUsage && !r.Stream || len(r.Metadata) > maxMetadataKeys {
		t.Fatalf("stop=%q include_usage=%v stream=%v metadata=%d keys", r.Stop, r.IncludeUsage, r.Stream, len(r.Metadata))
	}
	var schema []byte
	if r.ResponseFormat != nil {
		schema = r.ResponseFormat.JSONSchema
	}
	for _, raw := range [][]byte{r.ToolChoice, schema} {
		if raw != nil && !stdjson.Valid(raw) {
			t.Fatalf("raw value %q is not JSON", raw)
		}
	}
	for _, tool := range r.Tools {
		if tool.Type != "function" || tool.Function.Parameters != nil && !stdjson.Valid(tool.Function.Parameters) {
			t.Fatalf("tool %+v", tool)
		}
	}
}
