package anthropicapi

// Round trips through the official anthropic-sdk-go: what EncodeMessage,
// StreamEncoder and EncodeError write must read back through the SDK's own
// types, client and accumulator, and what the SDK's client sends must
// decode.

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sextant-router/sextant/internal/llm"
)

func newSDKClient(url string) anthropic.Client {
	return anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(url),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
	)
}

// summary is the part of an SDK message the tests compare.
type summary struct {
	ID, Model, StopReason string
	StopSequenceNull      bool
	Blocks                []string // "text:<text>" or "tool_use:<id>:<name>:<compact input>"
	Usage                 [4]int64 // input, cache creation, cache read, output
}

func summarize(t *testing.T, m *anthropic.Message) summary {
	t.Helper()
	s := summary{
		ID: m.ID, Model: m.Model, StopReason: string(m.StopReason),
		StopSequenceNull: m.StopSequence == "" && m.JSON.StopSequence.Raw() == "null",
		Usage:            [4]int64{m.Usage.InputTokens, m.Usage.CacheCreationInputTokens, m.Usage.CacheReadInputTokens, m.Usage.OutputTokens},
	}
	if string(m.Role) != "assistant" || string(m.Type) != "message" {
		t.Errorf("role, type = %q, %q", m.Role, m.Type)
	}
	for _, b := range m.Content {
		switch v := b.AsAny().(type) {
		case anthropic.TextBlock:
			s.Blocks = append(s.Blocks, "text:"+v.Text)
		case anthropic.ToolUseBlock:
			var in bytes.Buffer
			if err := stdjson.Compact(&in, v.Input); err != nil {
				t.Errorf("tool_use input %q: %v", v.Input, err)
			}
			s.Blocks = append(s.Blocks, "tool_use:"+v.ID+":"+v.Name+":"+in.String())
		default:
			t.Errorf("unexpected block %s", b.RawJSON())
		}
	}
	return s
}

func checkSummary(t *testing.T, got, want summary) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("message =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSDKParsesMessage(t *testing.T) {
	tests := []struct {
		name         string
		resp         *llm.Response
		requestModel string
		want         summary
	}{
		{"text", responseText(), "claude-sonnet-4-5", summary{
			ID: "msg_123", Model: "claude-sonnet-4-5", StopReason: "end_turn", StopSequenceNull: true,
			Blocks: []string{"text:Hello <there> & \"welcome\"\n\u2028😀 \uFFFD"}, Usage: [4]int64{15, 0, 4, 10}}},
		{"tool use", responseToolCalls(), "claude-sonnet-4-5", summary{
			ID: "msg_tools", Model: "claude-sonnet-4-5", StopReason: "tool_use", StopSequenceNull: true,
			Blocks: []string{
				"text:Let me check.",
				`tool_use:call_abc:get_weather:{"city":"Paris","units":["c","f"]}`,
				"tool_use:toolu_tools_1:get_time:{}",
				"tool_use:call_dup:get_weather:{}",
			}, Usage: [4]int64{50, 0, 0, 20}}},
		{"max tokens", responseLength(), "", summary{
			ID: "msg_01XYZ", Model: "claude-haiku", StopReason: "max_tokens", StopSequenceNull: true,
			Blocks: []string{"text:Once upon a"}, Usage: [4]int64{5, 0, 0, 3}}},
		{"refusal", responseContentFilter(), "claude-opus-4-1", summary{
			ID: "msg_gen-7", Model: "claude-opus-4-1", StopReason: "refusal", StopSequenceNull: true,
			Blocks: []string{"text:I can't help with that."}, Usage: [4]int64{5, 0, 0, 7}}},
		{"empty", responseEmpty(), "", summary{
			ID: "msg_unknown", Model: "m", StopReason: "end_turn", StopSequenceNull: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMessage(tt.resp, tt.requestModel)
			if err != nil {
				t.Fatal(err)
			}
			var m anthropic.Message
			if err := stdjson.Unmarshal(b, &m); err != nil {
				t.Fatalf("SDK cannot parse %s: %v", b, err)
			}
			checkSummary(t, summarize(t, &m), tt.want)
			if !m.JSON.Content.Valid() || !m.JSON.Usage.Valid() {
				t.Errorf("content or usage not valid in %s", b)
			}
		})
	}
}

// fakeServer stands in for Sextant's HTTP server in front of the SDK's
// client: it records the last request and answers with respond.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	path string
	body []byte
}

func newFakeServer(t *testing.T, respond func(w http.ResponseWriter)) *fakeServer {
	s := &fakeServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.path, s.body = r.URL.Path, b
		s.mu.Unlock()
		respond(w)
	}))
	t.Cleanup(s.Close)
	return s
}

// newSSEServer answers with the events framed by Event.Bytes.
func newSSEServer(t *testing.T, evs []Event) *fakeServer {
	return newFakeServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range evs {
			w.Write(ev.Bytes())
		}
	})
}

// newJSONServer answers with a JSON body and a status.
func newJSONServer(t *testing.T, status int, body []byte) *fakeServer {
	return newFakeServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	})
}

func (s *fakeServer) last() (string, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path, s.body
}

func userHi() []anthropic.MessageParam {
	return []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}
}

func TestSDKAccumulatesStream(t *testing.T) {
	tests := []struct {
		name         string
		requestModel string
		chunks       []*llm.Chunk
		usage        *llm.Usage
		want         summary
	}{
		{"text", "claude-sonnet-4-5", streamText(), nil, summary{
			ID: "msg_stream", Model: "claude-sonnet-4-5", StopReason: "end_turn", StopSequenceNull: true,
			Blocks: []string{"text:Hello <world> & \uFFFD"}, Usage: [4]int64{20, 0, 10, 5}}},
		{"tool use", "claude-sonnet-4-5", streamTools(), nil, summary{
			ID: "msg_stream", Model: "claude-sonnet-4-5", StopReason: "tool_use", StopSequenceNull: true,
			Blocks: []string{"text:Let me check.", `tool_use:call_1:get_weather:{"city":"Paris"}`, "tool_use:call_2:get_time:{}"},
			Usage:  [4]int64{40, 0, 0, 25}}},
		{"tools first, usage from Finish", "", streamToolsFirst(), &llm.Usage{PromptTokens: 7, CompletionTokens: 9}, summary{
			ID: "msg_stream", Model: streamModel, StopReason: "tool_use", StopSequenceNull: true,
			Blocks: []string{`tool_use:toolu_stream_0:lookup:{"q":"x"}`}, Usage: [4]int64{7, 0, 0, 9}}},
		{"usage first", "claude-haiku", streamUsageFirst(), nil, summary{
			ID: "msg_uf", Model: "claude-haiku", StopReason: "max_tokens", StopSequenceNull: true,
			Blocks: []string{"text:Once upon a"}, Usage: [4]int64{12, 0, 0, 3}}},
		{"cut-off tool arguments", "m", []*llm.Chunk{
			chunk(toolDelta(0, "c0", "f", `{"a":`)),
			chunk(llm.ChunkChoice{FinishReason: llm.FinishLength}),
		}, nil, summary{
			ID: "msg_stream", Model: "m", StopReason: "max_tokens", StopSequenceNull: true,
			Blocks: []string{`tool_use:c0:f:{}`}}},
		{"empty", "m", nil, nil, summary{ID: "msg_unknown", Model: "m", StopReason: "end_turn", StopSequenceNull: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := encodeStream(t, tt.requestModel, tt.chunks, tt.usage)
			srv := newSSEServer(t, append([]Event{Ping()}, evs...))
			client := newSDKClient(srv.URL)
			stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
				Model: "claude-sonnet-4-5", MaxTokens: 1024, Messages: userHi()})
			defer stream.Close()
			var acc anthropic.Message
			var types []string
			for stream.Next() {
				ev := stream.Current()
				types = append(types, ev.Type)
				if err := acc.Accumulate(ev); err != nil {
					t.Fatalf("Accumulate(%s): %v", ev.RawJSON(), err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(types) != len(evs) || types[0] != "message_start" || types[len(types)-1] != "message_stop" {
				t.Errorf("SDK saw events %q, sent %d", types, len(evs))
			}
			checkSummary(t, summarize(t, &acc), tt.want)
			if path, _ := srv.last(); path != "/v1/messages" {
				t.Errorf("path = %q", path)
			}
		})
	}
}

// TestSDKStreamMatchesMessage: a stream and the whole response it adds up
// to read back as the same message.
func TestSDKStreamMatchesMessage(t *testing.T) {
	resp := &llm.Response{ID: "chatcmpl-stream", Model: streamModel, Choices: []llm.Choice{{
		Message: llm.Message{Role: llm.RoleAssistant, Content: "Let me check.", ToolCalls: []llm.ToolCall{
			{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			{ID: "call_2", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: "{}"}},
		}},
		FinishReason: llm.FinishToolCalls,
	}}, Usage: llm.Usage{PromptTokens: 40, CompletionTokens: 25, TotalTokens: 65}}
	b, err := EncodeMessage(resp, "claude-sonnet-4-5")
	if err != nil {
		t.Fatal(err)
	}
	var whole anthropic.Message
	if err := stdjson.Unmarshal(b, &whole); err != nil {
		t.Fatal(err)
	}
	var acc anthropic.Message
	for _, ev := range encodeStream(t, "claude-sonnet-4-5", streamTools(), nil) {
		var e anthropic.MessageStreamEventUnion
		if err := stdjson.Unmarshal(ev.Data, &e); err != nil {
			t.Fatal(err)
		}
		if err := acc.Accumulate(e); err != nil {
			t.Fatal(err)
		}
	}
	checkSummary(t, summarize(t, &acc), summarize(t, &whole))
}

func TestSDKStreamError(t *testing.T) {
	evs := encodeStream(t, "m", streamText()[:3], nil)
	evs = evs[:len(evs)-2] // drop message_delta and message_stop: the stream broke
	enc := NewStreamEncoder("m")
	evs = append(evs, enc.Error(&llm.Error{Status: 529, Type: llm.TypeUpstream, Message: "Overloaded", Cause: errSecret}))
	srv := newSSEServer(t, evs)
	client := newSDKClient(srv.URL)
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 1024, Messages: userHi()})
	defer stream.Close()
	n := 0
	for stream.Next() {
		n++
	}
	if n != len(evs)-1 {
		t.Errorf("%d events before the error, want %d", n, len(evs)-1)
	}
	var apiErr *anthropic.Error
	if !errors.As(stream.Err(), &apiErr) {
		t.Fatalf("stream error = %v (%T), want *anthropic.Error", stream.Err(), stream.Err())
	}
	if apiErr.Type() != anthropic.ErrorTypeOverloadedError || apiErr.Message != "Overloaded" {
		t.Errorf("SDK error = type %q message %q", apiErr.Type(), apiErr.Message)
	}
	if strings.Contains(apiErr.RawJSON(), "SECRET") {
		t.Errorf("error event leaks the cause: %s", apiErr.RawJSON())
	}
}

func TestSDKParsesError(t *testing.T) {
	_, derr := DecodeMessagesRequest([]byte(body(`"temperature":9`)))
	tests := []struct {
		e        *llm.Error
		wantType anthropic.ErrorType
	}{
		{checkCallerError(t, derr), anthropic.ErrorTypeInvalidRequestError},
		{&llm.Error{Status: 401, Type: llm.TypeAuthentication, Message: "invalid x-api-key"}, anthropic.ErrorTypeAuthenticationError},
		{&llm.Error{Status: 404, Type: llm.TypeNotFound, Message: "model: claude-x"}, anthropic.ErrorTypeNotFoundError},
		{&llm.Error{Status: 429, Type: llm.TypeRateLimit, Message: "slow down"}, anthropic.ErrorTypeRateLimitError},
		{&llm.Error{Status: 529, Type: llm.TypeUpstream, Message: "Overloaded"}, anthropic.ErrorTypeOverloadedError},
		{&llm.Error{Status: 504, Type: llm.TypeTimeout, Message: "timed out"}, anthropic.ErrorTypeTimeoutError},
	}
	for _, tt := range tests {
		srv := newJSONServer(t, tt.e.Status, EncodeError(tt.e))
		client := newSDKClient(srv.URL)
		_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
			Model: "claude-sonnet-4-5", MaxTokens: 1024, Messages: userHi()})
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("error = %v (%T), want *anthropic.Error", err, err)
		}
		if apiErr.StatusCode != tt.e.Status || apiErr.Type() != tt.wantType || apiErr.Message != tt.e.Message {
			t.Errorf("SDK error = status %d type %q message %q; want %d %q %q",
				apiErr.StatusCode, apiErr.Type(), apiErr.Message, tt.e.Status, tt.wantType, tt.e.Message)
		}
	}
}

// TestSDKRequestDecodes sends a request with the SDK's client, as an
// application would, and decodes the body it put on the wire.
func TestSDKRequestDecodes(t *testing.T) {
	msg, err := EncodeMessage(responseText(), "claude-sonnet-4-5")
	if err != nil {
		t.Fatal(err)
	}
	srv := newJSONServer(t, http.StatusOK, msg)
	client := newSDKClient(srv.URL)
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 2048,
		System: []anthropic.TextBlockParam{
			{Text: "You are ", CacheControl: anthropic.NewCacheControlEphemeralParam()},
			{Text: "Sextant."},
		},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(
				anthropic.NewTextBlock("Describe "),
				anthropic.NewImageBlockBase64("image/png", "iVBORw0KGgo="),
				anthropic.NewImageBlock(anthropic.URLImageSourceParam{URL: "https://example.com/a.jpg"}),
			),
			anthropic.NewAssistantMessage(
				anthropic.NewThinkingBlock("sig", "Let me call the tool."),
				anthropic.NewTextBlock("Checking."),
				anthropic.NewToolUseBlock("toolu_1", map[string]any{"city": "Paris"}, "get_weather"),
			),
			anthropic.NewUserMessage(
				anthropic.NewToolResultBlock("toolu_1", "18C", false),
				anthropic.NewTextBlock("And tomorrow?"),
			),
			anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_2", map[string]any{}, "get_weather")),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_2", "no data", true)),
		},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        "get_weather",
			Description: anthropic.String("Weather by city"),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}},
			Strict:      anthropic.Bool(true),
		}}},
		ToolChoice:    anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{DisableParallelToolUse: anthropic.Bool(true)}},
		StopSequences: []string{"END"},
		Metadata:      anthropic.MetadataParam{UserID: anthropic.String("u-1")},
		Thinking:      anthropic.ThinkingConfigParamUnion{OfDisabled: &anthropic.ThinkingConfigDisabledParam{}}, // ignored
		ServiceTier:   anthropic.MessageNewParamsServiceTierAuto,                                                // ignored
	}
	// This SDK version has no sampling parameters; applications that still
	// send them do so as extra JSON.
	sampling := []option.RequestOption{option.WithJSONSet("temperature", 0.5), option.WithJSONSet("top_p", 0.75), option.WithJSONSet("top_k", 40)}
	if _, err := client.Messages.New(context.Background(), params, sampling...); err != nil {
		t.Fatal(err)
	}
	path, sent := srv.last()
	t.Logf("SDK body: %s", sent)
	if path != "/v1/messages" {
		t.Errorf("path = %q", path)
	}
	got, err := DecodeMessagesRequest(sent)
	if err != nil {
		t.Fatalf("DecodeMessagesRequest(%s): %v", sent, err)
	}
	want := &llm.Request{
		Model: "claude-sonnet-4-5",
		Messages: []llm.Message{
			{Role: "system", Content: "You are Sextant.", Parts: []llm.ContentPart{{Type: "text", Text: "You are "}, {Type: "text", Text: "Sextant."}}},
			{Role: "user", Content: "Describe ", Parts: []llm.ContentPart{
				{Type: "text", Text: "Describe "},
				{Type: "image_url", ImageURL: "data:image/png;base64,iVBORw0KGgo="},
				{Type: "image_url", ImageURL: "https://example.com/a.jpg"},
			}},
			{Role: "assistant", Content: "Checking.", Parts: []llm.ContentPart{{Type: "text", Text: "Checking."}}, ToolCalls: []llm.ToolCall{
				{ID: "toolu_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
			{Role: "tool", ToolCallID: "toolu_1", Content: "18C", Parts: []llm.ContentPart{{Type: "text", Text: "18C"}}},
			{Role: "user", Content: "And tomorrow?", Parts: []llm.ContentPart{{Type: "text", Text: "And tomorrow?"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{
				{ID: "toolu_2", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{}`}}}},
			{Role: "tool", ToolCallID: "toolu_2", Content: "Error: no data", Parts: []llm.ContentPart{
				{Type: "text", Text: "Error: "}, {Type: "text", Text: "no data"}}},
		},
		Tools: []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Description: "Weather by city",
			Parameters: got.Tools[0].Function.Parameters, Strict: ptr(true)}}},
		ToolChoice:        stdjson.RawMessage(`"required"`),
		ParallelToolCalls: ptr(false),
		Stop:              []string{"END"},
		MaxTokens:         ptr(2048),
		Temperature:       ptr(0.5),
		TopP:              ptr(0.75),
		User:              "u-1",
	}
	assertRequest(t, got, want)
	var schema struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
	}
	if err := stdjson.Unmarshal(got.Tools[0].Function.Parameters, &schema); err != nil || schema.Type != "object" || schema.Properties["city"] == nil {
		t.Errorf("input_schema = %s (%v)", got.Tools[0].Function.Parameters, err)
	}

	// And a streaming request carries stream, which asks for usage.
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 16, Messages: userHi()})
	stream.Close()
	_, sent = srv.last()
	got, err = DecodeMessagesRequest(sent)
	if err != nil {
		t.Fatalf("DecodeMessagesRequest(%s): %v", sent, err)
	}
	if !got.Stream || !got.IncludeUsage {
		t.Errorf("Stream, IncludeUsage = %v, %v from %s", got.Stream, got.IncludeUsage, sent)
	}
}

// TestSDKMessageToParamRoundTrip: an application that appends the answer
// it got (message.ToParam) and its tool results to the conversation sends
// a request that decodes, with the tool calls as Sextant encoded them.
func TestSDKMessageToParamRoundTrip(t *testing.T) {
	b, err := EncodeMessage(responseToolCalls(), "claude-sonnet-4-5")
	if err != nil {
		t.Fatal(err)
	}
	var answer anthropic.Message
	if err := stdjson.Unmarshal(b, &answer); err != nil {
		t.Fatal(err)
	}
	srv := newJSONServer(t, http.StatusOK, b)
	var results []anthropic.ContentBlockParamUnion
	for _, c := range answer.Content {
		if c.Type == "tool_use" {
			results = append(results, anthropic.NewToolResultBlock(c.ID, "ok", false))
		}
	}
	client := newSDKClient(srv.URL)
	_, err = client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 1024,
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("Weather?")),
			answer.ToParam(),
			anthropic.NewUserMessage(results...),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, sent := srv.last()
	got, err := DecodeMessagesRequest(sent)
	if err != nil {
		t.Fatalf("DecodeMessagesRequest(%s): %v", sent, err)
	}
	if len(got.Messages) != 5 {
		t.Fatalf("%d messages: %+v", len(got.Messages), got.Messages)
	}
	a := got.Messages[1]
	wantCalls := []llm.ToolCall{
		{ID: "call_abc", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","units":["c","f"]}`}},
		{ID: "toolu_tools_1", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: `{}`}},
		{ID: "call_dup", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{}`}},
	}
	if a.Role != "assistant" || a.Content != "Let me check." || !reflect.DeepEqual(a.ToolCalls, wantCalls) {
		t.Errorf("assistant message = %+v", a)
	}
	for i, id := range []string{"call_abc", "toolu_tools_1", "call_dup"} {
		if m := got.Messages[2+i]; m.Role != "tool" || m.ToolCallID != id || m.Content != "ok" {
			t.Errorf("tool message %d = %+v", i, m)
		}
	}
}
