package anthropic

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

func ptr[T any](v T) *T { return &v }

func simpleRequest() *llm.Request {
	return &llm.Request{
		Model:    "test-model",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "Hello!"}},
	}
}

var weatherTool = llm.Tool{Type: "function", Function: llm.FunctionDef{
	Name:        "get_weather",
	Description: "Get the current weather in a given location",
	Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"},` +
		`"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`),
	Strict: ptr(true),
}}

var timeTool = llm.Tool{Type: "function", Function: llm.FunctionDef{Name: "get_time"}}

// chatCases are the translation cases: the normalized request, and the
// deployment's options. Each has testdata/chat/<name>.resp.json, the
// upstream's answer.
var chatCases = []struct {
	name    string
	options string
	req     *llm.Request
}{
	{
		// Every scalar parameter, and the ones the Messages API lacks
		// (penalties, seed, metadata map), which are dropped.
		name: "plain",
		req: &llm.Request{
			Model: "test-model",
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: "You are a helpful assistant."},
				{Role: llm.RoleUser, Content: "Hello!", Name: "alice"},
			},
			N:                ptr(1),
			Stop:             []string{"END", ""},
			MaxTokens:        ptr(64),
			Temperature:      ptr(0.2),
			TopP:             ptr(0.9),
			PresencePenalty:  ptr(0.5),
			FrequencyPenalty: ptr(-0.5),
			Seed:             ptr(int64(7)),
			User:             "user-1234",
			Metadata:         map[string]string{"not": "sent"},
			ResponseFormat:   &llm.ResponseFormat{Type: "text"},
		},
	},
	{
		// System and developer messages, wherever they stand, become the
		// top-level system blocks; max_tokens comes from the options.
		name:    "system_prompt",
		options: `{"default_max_tokens": 1000}`,
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: "You are a pirate."},
				{Role: llm.RoleDeveloper, Parts: []llm.ContentPart{
					{Type: "text", Text: "Answer in one sentence."}, {Type: "text", Text: "Never mention treasure."}}},
				{Role: llm.RoleSystem, Content: ""},
				{Role: llm.RoleUser, Content: "Where is the ship?"},
				{Role: llm.RoleSystem, Content: "Be brief."},
			},
		},
	},
	{
		// Consecutive turns of one role merge; empty turns are dropped.
		name: "multi_turn",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "My name is Ada."},
				{Role: llm.RoleUser, Content: "What is my name?"},
				{Role: llm.RoleAssistant, Content: "Your name is Ada."},
				{Role: llm.RoleAssistant, Content: ""},
				{Role: llm.RoleAssistant, Content: "Anything else?"},
				{Role: llm.RoleUser, Content: ""},
				{Role: llm.RoleUser, Content: "Spell it backwards."},
				{Role: llm.RoleAssistant, Refusal: "I can't help with that."},
				{Role: llm.RoleUser, Content: "Please?"},
			},
			Temperature: ptr(1.7), // clamped to 1
		},
	},
	{
		// A tool round trip: tools, a forced choice without parallel
		// calls, an earlier call and its results, and a response that
		// calls two tools.
		name: "tool_use",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "What's the weather in Paris?"},
				{Role: llm.RoleAssistant, Content: "Let me check.", ToolCalls: []llm.ToolCall{
					{ID: "toolu_prev1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: "{\n  \"location\": \"Paris\"\n}"}},
					{ID: "toolu_prev2", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: ""}},
				}},
				{Role: llm.RoleTool, ToolCallID: "toolu_prev1", Content: `{"temperature":18,"unit":"celsius"}`},
				{Role: llm.RoleTool, ToolCallID: "toolu_prev2", Parts: []llm.ContentPart{{Type: "text", Text: "14:05"}}},
				{Role: llm.RoleUser, Content: "And in Boston, with the time there?"},
			},
			Tools:             []llm.Tool{weatherTool, timeTool},
			ToolChoice:        json.RawMessage(`"required"`),
			ParallelToolCalls: ptr(false),
		},
	},
	{
		name: "images",
		req: &llm.Request{
			Messages: []llm.Message{{
				Role:    llm.RoleUser,
				Content: "What is in these images?",
				Parts: []llm.ContentPart{
					{Type: "text", Text: "What is in these images?"},
					{Type: "image_url", ImageURL: "https://example.com/boardwalk.jpg", Detail: "high"},
					{Type: "image_url", ImageURL: "data:image/png;base64,iVBORw0KGgo="},
				},
			}},
			MaxTokens: ptr(300),
		},
	},
	{
		// Cache reads and writes count toward the prompt; reads are the
		// cached tokens. Thinking tokens are reasoning tokens.
		name: "cache_usage",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: "A long, cached system prompt."},
				{Role: llm.RoleUser, Content: "Summarize it."},
			},
		},
	},
}

// TestChat sends each case to a fake that answers with
// testdata/chat/<case>.resp.json, and checks the request the fake received
// against <case>.req.json and the translated response against
// <case>.want.json.
func TestChat(t *testing.T) {
	for _, tt := range chatCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := "testdata/chat/" + tt.name
			f := newFake(t, 200, nil, providertest.ReadFile(t, dir+".resp.json"))
			p := newProvider(t, f.URL, f.Client(), testKey, tt.options)
			orig := mustJSON(t, tt.req)
			resp, err := p.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			checkRequest(t, f.Last(t), dir+".req.json", testKey)
			if a := f.Last(t).Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q", a)
			}
			out, _ := json.Marshal(resp)
			providertest.CheckGolden(t, dir+".want.json", out)
			if now := mustJSON(t, tt.req); now != orig {
				t.Errorf("Chat changed its request:\n%s\n%s", orig, now)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// messageBody is a minimal Messages API response with stop reason and
// content blocks.
func messageBody(stopReason string, content string) []byte {
	sr := "null"
	if stopReason != "" {
		sr = fmt.Sprintf("%q", stopReason)
	}
	return fmt.Appendf(nil, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test",`+
		`"content":%s,"stop_reason":%s,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}`, content, sr)
}

func TestStopReasons(t *testing.T) {
	tests := []struct {
		stop, want string
	}{
		{"end_turn", llm.FinishStop},
		{"stop_sequence", llm.FinishStop},
		{"max_tokens", llm.FinishLength},
		{"model_context_window_exceeded", llm.FinishLength},
		{"tool_use", llm.FinishToolCalls},
		{"refusal", llm.FinishContentFilter},
		{"pause_turn", llm.FinishStop},
		{"some_future_reason", llm.FinishStop},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.stop, func(t *testing.T) {
			f := newFake(t, 200, nil, messageBody(tt.stop, `[{"type":"text","text":"Hi"}]`))
			p := newProvider(t, f.URL, f.Client(), "", "")
			resp, err := p.Chat(t.Context(), simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].FinishReason; got != tt.want {
				t.Errorf("finish_reason = %q, want %q", got, tt.want)
			}
		})
	}
}

// Content blocks the adapter does not translate (thinking, server tools,
// types yet to come) are skipped; a tool_use without input has arguments
// {}.
func TestResponseBlocks(t *testing.T) {
	content := `[{"type":"thinking","thinking":"Let me think.","signature":"sig"},` +
		`{"type":"redacted_thinking","data":"xyz"},{"type":"text","text":"Hello"},` +
		`{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},` +
		`{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},` +
		`{"type":"text","text":", world"},{"type":"tool_use","id":"toolu_1","name":"get_time"},` +
		`{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{ "location" : "Oslo" }}]`
	f := newFake(t, 200, nil, messageBody("tool_use", content))
	p := newProvider(t, f.URL, f.Client(), "", "")
	resp, err := p.Chat(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.Content != "Hello, world" || len(m.ToolCalls) != 2 {
		t.Fatalf("message = %+v", m)
	}
	if a := m.ToolCalls[0].Function.Arguments; a != "{}" {
		t.Errorf("arguments without input = %q, want {}", a)
	}
	if a := m.ToolCalls[1].Function.Arguments; a != `{"location":"Oslo"}` {
		t.Errorf("arguments = %q", a)
	}
	if resp.Created != testNow.Unix() {
		t.Errorf("created = %d, want the adapter's clock", resp.Created)
	}
}

// requestBody encodes req with the provider and returns the wire request.
func requestBody(t *testing.T, p *Provider, req *llm.Request) map[string]json.RawMessage {
	t.Helper()
	b, err := p.encodeRequest(req, false)
	if err != nil {
		t.Fatalf("encodeRequest: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToolChoice(t *testing.T) {
	tests := []struct {
		name     string
		choice   string
		parallel *bool
		noTools  bool
		want     string // the wire tool_choice, "" for none sent
	}{
		{name: "absent", want: ""},
		{name: "auto", choice: `"auto"`, want: `{"type":"auto"}`},
		{name: "none", choice: `"none"`, want: `{"type":"none"}`},
		{name: "required", choice: `"required"`, want: `{"type":"any"}`},
		{name: "function", choice: `{"type":"function","function":{"name":"get_weather"}}`, want: `{"type":"tool","name":"get_weather"}`},
		{name: "no parallel, no choice", parallel: ptr(false), want: `{"type":"auto","disable_parallel_tool_use":true}`},
		{name: "no parallel, required", choice: `"required"`, parallel: ptr(false), want: `{"type":"any","disable_parallel_tool_use":true}`},
		{name: "no parallel, function", choice: `{"type":"function","function":{"name":"get_weather"}}`, parallel: ptr(false),
			want: `{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}`},
		{name: "no parallel, none", choice: `"none"`, parallel: ptr(false), want: `{"type":"none"}`},
		{name: "parallel true", choice: `"auto"`, parallel: ptr(true), want: `{"type":"auto"}`},
		{name: "no tools", choice: `"required"`, parallel: ptr(false), noTools: true, want: ""},
		{name: "null", choice: `null`, want: ""},
	}
	p := newProvider(t, "", nil, "", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := simpleRequest()
			if !tt.noTools {
				req.Tools = []llm.Tool{weatherTool}
			}
			req.ToolChoice = json.RawMessage(tt.choice)
			req.ParallelToolCalls = tt.parallel
			got := string(requestBody(t, p, req)["tool_choice"])
			if got != tt.want {
				t.Errorf("tool_choice = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTemperature(t *testing.T) {
	p := newProvider(t, "", nil, "", "")
	for _, tt := range []struct {
		in   *float64
		want string
	}{{nil, ""}, {ptr(0.0), "0"}, {ptr(0.7), "0.7"}, {ptr(1.0), "1"}, {ptr(2.0), "1"}} {
		req := simpleRequest()
		req.Temperature = tt.in
		if got := string(requestBody(t, p, req)["temperature"]); got != tt.want {
			t.Errorf("temperature %v sent as %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Requests the Messages API cannot serve fail with ClassUnsupported before
// any call, so that a fallback moves on; malformed ones are the caller's
// fault.
func TestRequestErrors(t *testing.T) {
	user := func(parts ...llm.ContentPart) []llm.Message {
		return []llm.Message{{Role: llm.RoleUser, Parts: parts}}
	}
	tests := []struct {
		name  string
		edit  func(r *llm.Request)
		class llm.Class
		code  string
		param string
	}{
		{name: "n", edit: func(r *llm.Request) { r.N = ptr(2) }, class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "n"},
		{name: "logprobs", edit: func(r *llm.Request) { r.Logprobs = true }, class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "logprobs"},
		{name: "top_logprobs", edit: func(r *llm.Request) { r.TopLogprobs = ptr(3) }, class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "top_logprobs"},
		{name: "json_object", edit: func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} },
			class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "response_format"},
		{name: "json_schema", edit: func(r *llm.Request) {
			r.ResponseFormat = &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(`{"name":"x","schema":{}}`)}
		}, class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "response_format"},
		{name: "whitespace stop", edit: func(r *llm.Request) { r.Stop = []string{"END", "\n"} },
			class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "stop[1]"},
		{name: "audio part", edit: func(r *llm.Request) {
			r.Messages = user(llm.ContentPart{Type: "text", Text: "hi"}, llm.ContentPart{Type: "input_audio"})
		},
			class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "messages[0].content[1].type"},
		{name: "bmp image", edit: func(r *llm.Request) {
			r.Messages = user(llm.ContentPart{Type: "image_url", ImageURL: "data:image/bmp;base64,Qk0="})
		},
			class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "messages[0].content[0].image_url.url"},
		{name: "custom tool type", edit: func(r *llm.Request) { r.Tools = []llm.Tool{{Type: "custom"}} },
			class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "tools[0].type"},
		{name: "allowed_tools choice", edit: func(r *llm.Request) {
			r.Tools = []llm.Tool{weatherTool}
			r.ToolChoice = json.RawMessage(`{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}`)
		}, class: llm.ClassUnsupported, code: CodeUnsupportedParameter, param: "tool_choice.type"},

		{name: "tool arguments not JSON", edit: func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "toolu_1", Function: llm.FunctionCall{Name: "f", Arguments: `{"a":`}}}})
		}, class: llm.ClassCaller, param: "messages[1].tool_calls[0].function.arguments"},
		{name: "tool arguments an array", edit: func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "toolu_1", Function: llm.FunctionCall{Name: "f", Arguments: `[1]`}}}})
		}, class: llm.ClassCaller, param: "messages[1].tool_calls[0].function.arguments"},
		{name: "tool call without id", edit: func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{Function: llm.FunctionCall{Name: "f", Arguments: `{}`}}}})
		}, class: llm.ClassCaller, param: "messages[1].tool_calls[0].id"},
		{name: "tool result without id", edit: func(r *llm.Request) {
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: "42"})
		}, class: llm.ClassCaller, param: "messages[1].tool_call_id"},
		{name: "unknown role", edit: func(r *llm.Request) { r.Messages[0].Role = "narrator" },
			class: llm.ClassCaller, param: "messages[0].role"},
		{name: "image in system", edit: func(r *llm.Request) {
			r.Messages = append([]llm.Message{{Role: llm.RoleSystem, Parts: []llm.ContentPart{{Type: "image_url", ImageURL: "https://x/y.png"}}}}, r.Messages...)
		}, class: llm.ClassCaller, param: "messages[0].content[0].type"},
		{name: "max_tokens zero", edit: func(r *llm.Request) { r.MaxTokens = ptr(0) }, class: llm.ClassCaller, param: "max_tokens"},
		{name: "image not base64", edit: func(r *llm.Request) {
			r.Messages = user(llm.ContentPart{Type: "image_url", ImageURL: "data:image/png,rawbytes"})
		},
			class: llm.ClassCaller, param: "messages[0].content[0].image_url.url"},
		{name: "image ftp URL", edit: func(r *llm.Request) { r.Messages = user(llm.ContentPart{Type: "image_url", ImageURL: "ftp://x/y.png"}) },
			class: llm.ClassCaller, param: "messages[0].content[0].image_url.url"},
		{name: "tool_choice unknown word", edit: func(r *llm.Request) { r.ToolChoice = json.RawMessage(`"sometimes"`) },
			class: llm.ClassCaller, param: "tool_choice"},
		{name: "tool_choice without name", edit: func(r *llm.Request) { r.ToolChoice = json.RawMessage(`{"type":"function","function":{}}`) },
			class: llm.ClassCaller, param: "tool_choice.function.name"},
		{name: "tool parameters not JSON", edit: func(r *llm.Request) {
			r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f", Parameters: json.RawMessage(`{"type":`)}}}
		}, class: llm.ClassCaller, param: "tools"},
	}
	for _, tt := range tests {
		for _, streaming := range []bool{false, true} {
			name := tt.name
			if streaming {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				f := newFake(t, 200, nil, messageBody("end_turn", `[]`))
				p := newProvider(t, f.URL, f.Client(), "", "")
				req := simpleRequest()
				tt.edit(req)
				var err error
				if streaming {
					_, err = p.ChatStream(t.Context(), req)
				} else {
					_, err = p.Chat(t.Context(), req)
				}
				e := llm.AsError(err)
				if e.Class != tt.class || e.Param != tt.param || e.Status != 400 || e.Model != "test-model" {
					t.Errorf("err = %+v, want class %v at %s", e, tt.class, tt.param)
				}
				if tt.code != "" && e.Code != tt.code {
					t.Errorf("code = %q, want %q", e.Code, tt.code)
				}
				if f.Count() != 0 {
					t.Error("the request reached the upstream")
				}
			})
		}
	}
}

// Recent models reject temperature and top_p together: top_p goes only
// when temperature is absent.
func TestTopP(t *testing.T) {
	p := newProvider(t, "", nil, "", "")
	req := simpleRequest()
	req.TopP = ptr(0.9)
	if got := string(requestBody(t, p, req)["top_p"]); got != "0.9" {
		t.Errorf("top_p alone sent as %q", got)
	}
	req.Temperature = ptr(0.5)
	body := requestBody(t, p, req)
	if _, ok := body["top_p"]; ok || string(body["temperature"]) != "0.5" {
		t.Errorf("temperature and top_p sent as %s and %s, want temperature only", body["temperature"], body["top_p"])
	}
}
