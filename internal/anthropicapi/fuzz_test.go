package anthropicapi

import (
	stdjson "encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// fullRequest exercises every member DecodeMessagesRequest reads.
const fullRequest = `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,` +
	`"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[` +
	`{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},` +
	`{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]},` +
	`{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"Calling."},` +
	`{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},` +
	`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":[{"type":"text","text":"18C"}]},{"type":"text","text":"ok"}]},` +
	`{"role":"system","content":"French from now on."},` +
	`{"role":"assistant","content":"D'accord"}],` +
	`"tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"},"strict":true}],` +
	`"tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true},` +
	`"stop_sequences":["END"],"temperature":0.5,"top_p":0.9,"top_k":40,"metadata":{"user_id":"u-1"}}`

// FuzzDecodeMessagesRequest checks DecodeMessagesRequest's contract on any
// input: it never panics; a success is a request with a model, max_tokens,
// messages and parameters in range; a failure is a 400 *llm.Error whose
// wire form is valid JSON.
func FuzzDecodeMessagesRequest(f *testing.F) {
	f.Add([]byte(fullRequest))
	f.Add([]byte(body("")))
	f.Add([]byte(msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"x"}]}]`)))
	for _, c := range decodeErrorCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeMessagesRequest(b)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *llm.Error", err, err)
			}
			if e.Status != http.StatusBadRequest || e.Type != llm.TypeInvalidRequest || e.Class != llm.ClassCaller || e.Message == "" || e.Code == "" {
				t.Fatalf("error = %+v, want a 400 invalid_request_error with a message and a code", e)
			}
			if req != nil {
				t.Fatalf("request %+v returned with error %v", req, err)
			}
			if len(e.Param) > jsonname.MaxPath+len("...") {
				t.Fatalf("param is %d bytes long", len(e.Param))
			}
			if w := EncodeError(e); !stdjson.Valid(w) {
				t.Fatalf("EncodeError wrote invalid JSON: %s", w)
			}
			return
		}
		if !stdjson.Valid(b) {
			t.Fatalf("accepted a body that is not JSON: %q", b)
		}
		checkRequestInvariants(t, req)
	})
}

// checkRequestInvariants asserts what DecodeMessagesRequest promises about
// a request it returns.
func checkRequestInvariants(t *testing.T, r *llm.Request) {
	t.Helper()
	if r == nil || r.Model == "" || len(r.Messages) == 0 || r.MaxTokens == nil || *r.MaxTokens < 1 {
		t.Fatalf("success with request %+v", r)
	}
	for i, m := range r.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
		case llm.RoleTool:
			if m.ToolCallID == "" {
				t.Fatalf("messages[%d]: tool message without tool_call_id", i)
			}
		default:
			t.Fatalf("messages[%d]: role %q", i, m.Role)
		}
		for _, tc := range m.ToolCalls {
			if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || !stdjson.Valid([]byte(tc.Function.Arguments)) {
				t.Fatalf("messages[%d]: tool call %+v", i, tc)
			}
		}
		for _, p := range m.Parts {
			if p.Type != "text" && (p.Type != "image_url" || p.ImageURL == "") {
				t.Fatalf("messages[%d]: part %+v", i, p)
			}
		}
	}
	for name, v := range map[string]*float64{"temperature": r.Temperature, "top_p": r.TopP} {
		if v != nil && (*v < 0 || *v > 1) {
			t.Fatalf("%s = %v", name, *v)
		}
	}
	for _, s := range r.Stop {
		if s == "" {
			t.Fatalf("empty stop sequence in %q", r.Stop)
		}
	}
	if r.IncludeUsage != r.Stream {
		t.Fatalf("stream %v, include_usage %v", r.Stream, r.IncludeUsage)
	}
	if r.ToolChoice != nil && !stdjson.Valid(r.ToolChoice) {
		t.Fatalf("tool_choice %q is not JSON", r.ToolChoice)
	}
	for _, tool := range r.Tools {
		if tool.Type != "function" || tool.Function.Name == "" || !stdjson.Valid(tool.Function.Parameters) {
			t.Fatalf("tool %+v", tool)
		}
	}
}

// FuzzStreamEncoder feeds arbitrary text and tool-call fragments through a
// StreamEncoder and checks that every event is a JSON object of its own
// type and that the sequence is well formed.
func FuzzStreamEncoder(f *testing.F) {
	f.Add("Hello", 0, "call_1", "get_weather", `{"city":"Paris"}`, "tool_calls", uint8(3))
	f.Add("", 1, "", "", "\xff{", "", uint8(0))
	f.Add("<&>\u2028", -1, "x", "", "", "length", uint8(7))
	f.Fuzz(func(t *testing.T, text string, index int, id, name, args, finish string, order uint8) {
		enc := NewStreamEncoder("m")
		var evs []Event
		add := func(ch *llm.Chunk) {
			got, err := enc.Chunk(ch)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, got...)
		}
		steps := []*llm.Chunk{
			chunk(delta(llm.Delta{Role: llm.RoleAssistant})),
			chunk(delta(llm.Delta{Content: text})),
			chunk(toolDelta(index, id, name, args)),
			chunk(toolDelta(index, "", "", args)),
			chunk(toolDelta(index+1, id, name, args)),
			chunk(delta(llm.Delta{Refusal: text})),
			chunk(llm.ChunkChoice{FinishReason: finish}),
			{Usage: &llm.Usage{PromptTokens: len(text), CachedTokens: len(args), CompletionTokens: int(order)}},
		}
		for i, ch := range steps {
			if order&(1<<(i%8)) != 0 || i == 0 {
				add(ch)
			}
		}
		evs = append(evs, enc.Finish(nil)...)
		checkEventSequence(t, evs)
	})
}

// checkEventSequence asserts the shape of a whole stream: message_start
// first, message_delta and message_stop last, every block started once in
// index order before its deltas and stopped once, and every event's data a
// JSON object whose type is the event's name.
func checkEventSequence(t *testing.T, evs []Event) {
	t.Helper()
	n := len(evs)
	if n < 3 || evs[0].Name != "message_start" || evs[n-2].Name != "message_delta" || evs[n-1].Name != "message_stop" {
		t.Fatalf("sequence %q", names(t, evs))
	}
	started, stopped := 0, map[int]bool{}
	for _, ev := range evs {
		var e struct {
			Type  string
			Index *int
		}
		if err := stdjson.Unmarshal(ev.Data, &e); err != nil || e.Type != ev.Name {
			t.Fatalf("event %s: data %s (%v)", ev.Name, ev.Data, err)
		}
		switch ev.Name {
		case "content_block_start":
			if e.Index == nil || *e.Index != started {
				t.Fatalf("block %v started, want %d: %q", e.Index, started, names(t, evs))
			}
			started++
		case "content_block_delta", "content_block_stop":
			if e.Index == nil || *e.Index >= started || stopped[*e.Index] && ev.Name == "content_block_stop" {
				t.Fatalf("%s for block %v: %q", ev.Name, e.Index, names(t, evs))
			}
			if ev.Name == "content_block_stop" {
				stopped[*e.Index] = true
			}
		}
	}
	if len(stopped) != started {
		t.Fatalf("%d blocks started, %d stopped: %q", started, len(stopped), names(t, evs))
	}
}
