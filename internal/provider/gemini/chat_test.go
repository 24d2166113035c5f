package gemini

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

var weatherTool = llm.Tool{Type: "function", Function: llm.FunctionDef{
	Name:        "get_current_weather",
	Description: "Get the current weather in a given location",
	Parameters: json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",` +
		`"properties":{"location":{"type":"string","description":"City and state, e.g. San Francisco, CA"},` +
		`"unit":{"type":["string","null"],"enum":["celsius","fahrenheit",null]}},` +
		`"required":["location"],"additionalProperties":false}`),
	Strict: ptr(true),
}}

var timeTool = llm.Tool{Type: "function", Function: llm.FunctionDef{
	Name:        "get_time",
	Description: "Get the local time",
	Parameters:  json.RawMessage(`{"type":"object","properties":{}}`),
}}

// chatCases are translation cases: the normalized request and the options
// of the deployment. Each has testdata/chat/<name>.req.json (the wire
// request, golden), <name>.resp.json (the API's answer, a fixture) and
// <name>.want.json (the normalized response, golden).
var chatCases = []struct {
	name    string
	options string
	req     *llm.Request
}{
	{
		name: "text",
		req: &llm.Request{
			Model:            "test-model",
			Messages:         []llm.Message{{Role: llm.RoleUser, Content: "Hello!", Name: "alice"}},
			N:                ptr(1),
			Stop:             []string{"\n\n", "END"},
			MaxTokens:        ptr(64),
			Temperature:      ptr(0.2),
			TopP:             ptr(0.9),
			PresencePenalty:  ptr(0.0),
			FrequencyPenalty: ptr(0.5),
			Seed:             ptr(int64(7)),
			User:             "user-1234",
			Metadata:         map[string]string{"not": "sent"},
		},
	},
	{
		name: "system",
		options: `{"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},` +
			`{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"}]}`,
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: "You are a terse assistant."},
				{Role: llm.RoleDeveloper, Parts: []llm.ContentPart{{Type: "text", Text: "Answer in French."}}},
				{Role: llm.RoleUser, Content: "What is the capital of Italy?"},
			},
			Seed: ptr(int64(1) << 40),
		},
	},
	{
		name: "multi_turn",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "I have two dogs."},
				{Role: llm.RoleAssistant, Content: "That's nice! What are their names?"},
				{Role: llm.RoleUser, Content: "Rex and Fido."},
				{Role: llm.RoleUser, Content: "How many paws are in my house?"},
				{Role: llm.RoleAssistant, Content: ""}, // nothing to send
				{Role: llm.RoleAssistant, Refusal: "I can't count paws I can't see."},
				{Role: llm.RoleUser, Content: "Just guess."},
			},
		},
	},
	{
		name: "tool_round_trip",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "What's the weather and time in Boston?"},
				{Role: llm.RoleAssistant, Content: "Let me check.", ToolCalls: []llm.ToolCall{
					{ID: "call_abc", Type: "function", Function: llm.FunctionCall{Name: "get_current_weather", Arguments: `{"location": "Boston, MA"}`}},
					{ID: "call_def", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: ""}},
				}},
				{Role: llm.RoleTool, ToolCallID: "call_abc", Content: `{"temperature": 22, "unit": "celsius"}`},
				{Role: llm.RoleTool, ToolCallID: "call_def", Content: "3:04 PM"},
				{Role: llm.RoleUser, Content: "And in Paris?"},
			},
			Tools:      []llm.Tool{weatherTool, timeTool},
			ToolChoice: json.RawMessage(`{"type":"function","function":{"name":"get_current_weather"}}`),
		},
	},
	{
		// A call id made from a signed Gemini call brings its signature
		// back; with the fallback off, an unsigned call gets none.
		name:    "signature_replay",
		options: `{"thought_signature_fallback": false}`,
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "Weather in Paris?"},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
					{ID: "call_0_ts_c2lnLTEtYnl0ZXP_", Type: "function", Function: llm.FunctionCall{Name: "get_current_weather", Arguments: `{"location":"Paris"}`}},
				}},
				{Role: llm.RoleTool, ToolCallID: "call_0_ts_c2lnLTEtYnl0ZXP_", Content: `[1, 2]`},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
					{ID: "toolu_01A", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: `{}`}},
				}},
				{Role: llm.RoleTool, ToolCallID: "toolu_01A", Content: "noon"},
			},
			Tools:      []llm.Tool{weatherTool, timeTool},
			ToolChoice: json.RawMessage(`"auto"`),
		},
	},
	{
		name: "image",
		req: &llm.Request{
			Messages: []llm.Message{{
				Role:    llm.RoleUser,
				Content: "What is in these images?",
				Parts: []llm.ContentPart{
					{Type: "text", Text: "What is in these images?"},
					{Type: "image_url", ImageURL: "data:image/png;base64,iVBORw0KGgo=", Detail: "high"},
					{Type: "image_url", ImageURL: "data:image/svg+xml,%3Csvg%3E%3C/svg%3E"},
				},
			}},
			MaxTokens: ptr(300),
		},
	},
	{
		name: "json_schema",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleDeveloper, Content: "Extract the person."},
				{Role: llm.RoleUser, Content: "Ada Lovelace was born in 1815."},
			},
			ResponseFormat: &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(
				`{"name":"person","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"},` +
					`"born":{"type":"integer"}},"required":["name","born"],"additionalProperties":false}}`)},
		},
	},
	{
		name: "json_object",
		req: &llm.Request{
			Messages:       []llm.Message{{Role: llm.RoleUser, Content: "List two colors as a JSON object."}},
			ResponseFormat: &llm.ResponseFormat{Type: "json_object"},
		},
	},
	{
		name: "safety_candidate",
		req:  simpleRequest(),
	},
	{
		name: "safety_prompt",
		req:  simpleRequest(),
	},
	{
		name: "usage_thoughts",
		req: &llm.Request{
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: "Why is the sky blue? Answer twice."}},
			N:         ptr(2),
			MaxTokens: ptr(40),
		},
	},
	{
		name: "logprobs",
		req: &llm.Request{
			Messages:    []llm.Message{{Role: llm.RoleUser, Content: "Say hi"}},
			Logprobs:    true,
			TopLogprobs: ptr(2),
		},
	},
}

// TestChat sends each case to a fake that answers with its fixture and
// checks the wire request and the normalized response against the golden
// files.
func TestChat(t *testing.T) {
	for _, tt := range chatCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := "testdata/chat/" + tt.name
			f := newFake(t, 200, nil, providertest.ReadFile(t, dir+".resp.json"))
			p := newProvider(t, f.URL+"/v1beta", f.Client(), testKey, tt.options)
			orig := tt.req.Clone()
			resp, err := p.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			checkRequest(t, f.Last(t), "/v1beta/models/gemini-test:generateContent", "", dir+".req.json", testKey)
			out, _ := json.Marshal(resp)
			providertest.CheckGolden(t, dir+".want.json", out)
			if a, b := mustJSON(t, orig), mustJSON(t, tt.req); a != b {
				t.Errorf("Chat changed its request:\n%s\n%s", a, b)
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

// A function call's thought signature survives the trip through a client:
// the id the adapter makes for it restores it on the next request.
func TestThoughtSignatureRoundTrip(t *testing.T) {
	const sig = "CiQBcsjafDk0nO3y/RdlbC+zLZ3VRWzf+9Hx1A=="
	resp := `{"candidates":[{"content":{"role":"model","parts":[` +
		`{"functionCall":{"name":"get_time","args":{}},"thoughtSignature":"` + sig + `"},` +
		`{"functionCall":{"name":"get_current_weather","args":{"location":"Oslo"}}}]},"finishReason":"STOP"}]}`
	f := newFake(t, 200, nil, []byte(resp))
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "Time and weather in Oslo?"}},
		Tools: []llm.Tool{weatherTool, timeTool}}
	out, err := p.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	calls := out.Choices[0].Message.ToolCalls
	if len(calls) != 2 || !strings.HasPrefix(calls[0].ID, "call_0_ts_") || calls[1].ID != "call_1" {
		t.Fatalf("tool calls = %+v", calls)
	}
	if strings.Trim(calls[0].ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		t.Errorf("id %q has characters outside [A-Za-z0-9_-]", calls[0].ID)
	}
	if out.Choices[0].FinishReason != llm.FinishToolCalls {
		t.Errorf("finish = %q", out.Choices[0].FinishReason)
	}

	req.Messages = append(req.Messages, out.Choices[0].Message,
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[0].ID, Content: "09:00"},
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[1].ID, Content: `{"sky":"clear"}`})
	if _, err := p.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	var sent generateRequest
	if err := json.Unmarshal(f.Last(t).Body, &sent); err != nil {
		t.Fatal(err)
	}
	model := sent.Contents[1]
	if model.Role != "model" || len(model.Parts) != 2 {
		t.Fatalf("model turn = %+v", model)
	}
	if model.Parts[0].ThoughtSignature != sig || model.Parts[1].ThoughtSignature != "" {
		t.Errorf("signatures = %q, %q; want %q, none", model.Parts[0].ThoughtSignature, model.Parts[1].ThoughtSignature, sig)
	}
	resps := sent.Contents[2]
	if resps.Role != "user" || len(resps.Parts) != 2 || resps.Parts[0].FunctionResponse.Name != "get_time" ||
		resps.Parts[1].FunctionResponse.Name != "get_current_weather" {
		t.Errorf("function responses = %+v", resps)
	}
}

func TestSignatureOf(t *testing.T) {
	tests := []struct{ id, want string }{
		{id: callID(3, "AAEC/w=="), want: "AAEC/w=="},
		{id: "call_3", want: ""},
		{id: "call_abc", want: ""},
		{id: "call__ts_AAEC", want: ""},
		{id: "call_x_ts_AAEC", want: ""},
		{id: "toolu_1_ts_AAEC", want: ""},
		{id: "call_1_ts_***", want: ""},
		{id: "call_1_ts_", want: ""},
	}
	for _, tt := range tests {
		if got := signatureOf(tt.id); got != tt.want {
			t.Errorf("signatureOf(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	if id := callID(0, "not base64!"); id != "call_0" {
		t.Errorf("callID with a bad signature = %q", id)
	}
}

func TestToolChoice(t *testing.T) {
	tests := []struct {
		choice string
		want   string // the toolConfig as JSON, or "error:<class>"
	}{
		{choice: ``, want: `null`},
		{choice: `null`, want: `null`},
		{choice: `"auto"`, want: `{"functionCallingConfig":{"mode":"AUTO"}}`},
		{choice: `"none"`, want: `{"functionCallingConfig":{"mode":"NONE"}}`},
		{choice: `"required"`, want: `{"functionCallingConfig":{"mode":"ANY"}}`},
		{choice: `{"type":"function","function":{"name":"get_time"}}`,
			want: `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}}`},
		{choice: `{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}]}}`,
			want: `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["a","b"]}}`},
		{choice: `{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"a"}}]}}`,
			want: `{"functionCallingConfig":{"mode":"AUTO"}}`},
		{choice: `"sometimes"`, want: "error:caller"},
		{choice: `{"type":`, want: "error:caller"},
		{choice: `{"type":"custom","custom":{"name":"x"}}`, want: "error:unsupported"},
	}
	p := newProvider(t, "", nil, "", "")
	for _, tt := range tests {
		got, err := p.toolConfig(json.RawMessage(tt.choice))
		if err != nil {
			if w := "error:" + err.Class.String(); w != tt.want || err.Param != "tool_choice" {
				t.Errorf("%s: error %+v, want %s", tt.choice, err, tt.want)
			}
			continue
		}
		if b := mustJSON(t, got); b != tt.want {
			t.Errorf("%s: %s, want %s", tt.choice, b, tt.want)
		}
	}
}

// Requests the wire format cannot carry fail before anything is sent,
// with the parameter at fault: the caller's mistakes as caller faults,
// what Gemini lacks as unsupported (another model may serve it).
func TestChatRequestErrors(t *testing.T) {
	tests := []struct {
		name  string
		req   *llm.Request
		class llm.Class
		param string
	}{
		{name: "unknown tool call id", class: llm.ClassCaller, param: "messages[1].tool_call_id", req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "hi"},
			{Role: llm.RoleTool, ToolCallID: "call_9", Content: "x"},
		}}},
		{name: "arguments not an object", class: llm.ClassCaller, param: "messages[1].tool_calls[0].function.arguments", req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "hi"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Function: llm.FunctionCall{Name: "f", Arguments: `[1]`}}}},
		}}},
		{name: "image link", class: llm.ClassUnsupported, param: "messages[0].content[1].image_url", req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleUser, Parts: []llm.ContentPart{{Type: "text", Text: "a"}, {Type: "image_url", ImageURL: "https://example.com/cat.png"}}},
		}}},
		{name: "audio part", class: llm.ClassUnsupported, param: "messages[0].content[0].type", req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleUser, Parts: []llm.ContentPart{{Type: "input_audio"}}},
		}}},
		{name: "image in system", class: llm.ClassUnsupported, param: "messages[0].content[0].type", req: &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleSystem, Parts: []llm.ContentPart{{Type: "image_url", ImageURL: "data:image/png;base64,AA=="}}},
		}}},
		{name: "unknown role", class: llm.ClassCaller, param: "messages[0].role", req: &llm.Request{Messages: []llm.Message{
			{Role: "narrator", Content: "Once upon a time"},
		}}},
		{name: "tool type", class: llm.ClassUnsupported, param: "tools[0].type", req: &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			Tools:    []llm.Tool{{Type: "web_search"}},
		}},
		{name: "recursive schema", class: llm.ClassUnsupported, param: "tools[0].function.parameters", req: &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			Tools: []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "tree", Parameters: json.RawMessage(
				`{"type":"object","properties":{"node":{"$ref":"#/$defs/node"}},"$defs":{"node":{"type":"object","properties":{"child":{"$ref":"#/$defs/node"}}}}}`)}}},
		}},
		{name: "parameters not JSON", class: llm.ClassCaller, param: "tools[0].function.parameters", req: &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			Tools:    []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f", Parameters: json.RawMessage(`{"type":`)}}},
		}},
		{name: "response format", class: llm.ClassUnsupported, param: "response_format.type", req: &llm.Request{
			Messages:       []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			ResponseFormat: &llm.ResponseFormat{Type: "grammar"},
		}},
		{name: "json_schema not JSON", class: llm.ClassCaller, param: "response_format.json_schema", req: &llm.Request{
			Messages:       []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			ResponseFormat: &llm.ResponseFormat{Type: "json_schema", JSONSchema: json.RawMessage(`[1]`)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/text.resp.json"))
			p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = p.ChatStream(t.Context(), tt.req)
				} else {
					_, err = p.Chat(t.Context(), tt.req)
				}
				e := llm.AsError(err)
				if e.Class != tt.class || e.Param != tt.param || e.Status != 400 || e.Model != "test-model" {
					t.Errorf("stream=%v: err = %+v, want class %v at %s", stream, e, tt.class, tt.param)
				}
			}
			if n := f.Count(); n != 0 {
				t.Errorf("%d requests were sent", n)
			}
		})
	}
}

// A request of system text alone is sent as the user's turn: the API
// refuses a request without contents.
func TestChatSystemOnly(t *testing.T) {
	f := newFake(t, 200, nil, providertest.ReadFile(t, "testdata/chat/text.resp.json"))
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	_, err := p.Chat(t.Context(), &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "Write a haiku."}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(f.Last(t).Body), `{"contents":[{"role":"user","parts":[{"text":"Write a haiku."}]}]}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestChatMalformedResponse(t *testing.T) {
	for _, body := range []string{"", "not json", `{"candidates": "nope"}`, `{}`, `{"promptFeedback":{}}`} {
		f := newFake(t, 200, map[string]string{"Content-Type": "application/json"}, []byte(body))
		p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
		_, err := p.Chat(t.Context(), simpleRequest())
		if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Code != CodeBadResponse || e.Status != 502 {
			t.Errorf("body %q: err = %+v, want a transient bad_upstream_response", body, e)
		}
	}
}

// A 200 whose body is an error object is an error, classified by its code.
func TestChatErrorIn200(t *testing.T) {
	f := newFake(t, 200, nil, []byte(`{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`))
	p := newProvider(t, f.URL+"/v1beta", f.Client(), "", "")
	_, err := p.Chat(t.Context(), simpleRequest())
	if e := llm.AsError(err); e.Class != llm.ClassTransient || e.Status != 503 || e.Code != "unavailable" {
		t.Errorf("err = %+v, want a 503 transient error", e)
	}
}

// Regression: text that follows tool results was merged into the content
// holding the function responses. The API splits turns at that content and
// answers 400 when it holds anything but the responses, so the text must
// start a content of its own.
func TestFunctionResponsesStandAlone(t *testing.T) {
	p := newProvider(t, "", nil, "", "")
	contents, _, err := p.encodeMessages([]llm.Message{
		{Role: llm.RoleUser, Content: "Time?"},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "a", Function: llm.FunctionCall{Name: "get_time"}}}},
		{Role: llm.RoleTool, ToolCallID: "a", Content: "noon"},
		{Role: llm.RoleUser, Parts: []llm.ContentPart{{Type: "text", Text: "Thanks. Also:"}, {Type: "image_url", ImageURL: "data:image/png;base64,AA=="}}},
		{Role: llm.RoleUser, Content: "what is this?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, c := range contents {
		kinds := make([]string, len(c.Parts))
		for i, pt := range c.Parts {
			switch {
			case pt.FunctionResponse != nil:
				kinds[i] = "response"
			case pt.FunctionCall != nil:
				kinds[i] = "call"
			case pt.InlineData != nil:
				kinds[i] = "image"
			default:
				kinds[i] = "text"
			}
		}
		roles = append(roles, c.Role+"["+strings.Join(kinds, ",")+"]")
	}
	want := "user[text] model[call] user[response] user[text,image,text]"
	if got := strings.Join(roles, " "); got != want {
		t.Errorf("contents = %s, want %s", got, want)
	}
}
