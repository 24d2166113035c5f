package openai

import (
	"encoding/json"
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
	Name:        "get_current_weather",
	Description: "Get the current weather in a given location",
	Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"},` +
		`"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"],"additionalProperties":false}`),
	Strict: ptr(true),
}}

// chatCases are the translation cases shared by the chat and stream tests:
// the normalized request and the options of the deployment.
var chatCases = []struct {
	name    string
	options string
	req     *llm.Request
}{
	{
		name: "plain",
		req: &llm.Request{
			Model: "test-model",
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: "You are a helpful assistant."},
				{Role: llm.RoleUser, Content: "Hello!", Name: "alice"},
			},
			N:                ptr(1),
			Stop:             []string{"\n\n", "END"},
			MaxTokens:        ptr(64),
			Temperature:      ptr(0.2),
			TopP:             ptr(0.9),
			PresencePenalty:  ptr(0.5),
			FrequencyPenalty: ptr(-0.5),
			Seed:             ptr(int64(7)),
			User:             "user-1234",
			Metadata:         map[string]string{"not": "sent by default"},
		},
	},
	{
		name: "tool_calls",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "What's the weather like in Boston today?"},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{
					ID: "call_prev", Type: "function",
					Function: llm.FunctionCall{Name: "get_current_weather", Arguments: `{"location":"Boston, MA"}`},
				}}},
				{Role: llm.RoleTool, ToolCallID: "call_prev", Content: `{"temperature":22,"unit":"celsius"}`},
				{Role: llm.RoleUser, Content: "And in Boston and Paris?"},
			},
			Tools:             []llm.Tool{weatherTool},
			ToolChoice:        json.RawMessage(`{"type":"function","function":{"name":"get_current_weather"}}`),
			ParallelToolCalls: ptr(true),
		},
	},
	{
		name: "logprobs",
		req: &llm.Request{
			Messages:    []llm.Message{{Role: llm.RoleUser, Content: "Hello!"}},
			Logprobs:    true,
			TopLogprobs: ptr(2),
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
		name: "multipart",
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
		name:    "usage_details",
		options: `{"max_tokens_field": "max_completion_tokens", "send_metadata": true, "organization": "org-1"}`,
		req: &llm.Request{
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: "What is six times seven?"}},
			MaxTokens: ptr(1000),
			Metadata:  map[string]string{"team": "search", "env": "test"},
		},
	},
	{
		name: "refusal",
		req: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: "Help me with something bad."},
				{Role: llm.RoleAssistant, Refusal: "I can't help with that."},
				{Role: llm.RoleUser, Content: "Please?"},
			},
		},
	},
	{
		name: "compat",
		req: &llm.Request{
			Messages:    []llm.Message{{Role: llm.RoleUser, Content: "Capital of France?"}},
			Temperature: ptr(0.0),
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
			f := providertest.NewFake(t, 200, nil, providertest.ReadFile(t, dir+".resp.json"))
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, tt.options)
			orig := tt.req.Clone()
			resp, err := p.Chat(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			checkRequest(t, f.Last(t), dir+".req.json", testKey)
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

// Null content and null choices fields decode to empty values, never to the
// text "null".
func TestChatNullFields(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,` +
		`"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":null},"logprobs":null,"finish_reason":null}],"usage":null}`
	f := providertest.NewFake(t, 200, nil, []byte(body))
	p := newProvider(t, f.URL+"/v1", f.Client(), "", "")
	resp, err := p.Chat(t.Context(), simpleRequest())
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.Message.Content != "" || c.Message.Refusal != "" || c.Message.ToolCalls != nil || c.FinishReason != "" || c.Logprobs != nil {
		t.Errorf("null fields decoded to %+v", c)
	}
	if !resp.Usage.IsZero() {
		t.Errorf("usage = %+v, want zero (not reported)", resp.Usage)
	}
}

func TestChatUnsupportedPart(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1/v1", nil, "", "")
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleUser, Content: "hi"},
		{Role: llm.RoleUser, Parts: []llm.ContentPart{{Type: "text", Text: "a"}, {Type: "input_audio"}}},
	}}
	_, err := p.Chat(t.Context(), req)
	e := llm.AsError(err)
	if e.Class != llm.ClassCaller || e.Param != "messages[1].content[1].type" {
		t.Errorf("err = %+v, want a caller fault at messages[1].content[1].type", e)
	}
}

func TestChatInvalidRawJSON(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1/v1", nil, "", "")
	req := simpleRequest()
	req.ToolChoice = json.RawMessage(`{"type":`)
	_, err := p.Chat(t.Context(), req)
	if e := llm.AsError(err); e.Class != llm.ClassCaller || e.Status != 400 || e.Model != "test-model" {
		t.Errorf("err = %+v, want a caller fault", e)
	}
}
