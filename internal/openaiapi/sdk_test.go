package openaiapi

// Round trips through the official openai-go SDK: what EncodeChatResponse,
// EncodeChunk and EncodeError write must read back through the SDK's own
// types and client, and what the SDK's client sends must decode.

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/sextant-router/sextant/internal/llm"
)

func newSDKClient(url string) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(url),
		option.WithAPIKey("test-key"),
		option.WithMaxRetries(0),
	)
}

func TestSDKParsesChatCompletion(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		resp := responseText()
		cc := sdkCompletion(t, resp)
		if cc.ID != resp.ID || cc.Created != resp.Created || cc.Model != resp.Model || string(cc.Object) != "chat.completion" {
			t.Errorf("header = %q %d %q %q", cc.ID, cc.Created, cc.Model, cc.Object)
		}
		if cc.SystemFingerprint != resp.SystemFingerprint {
			t.Errorf("system_fingerprint = %q", cc.SystemFingerprint)
		}
		if len(cc.Choices) != 1 {
			t.Fatalf("%d choices", len(cc.Choices))
		}
		c := cc.Choices[0]
		if c.Message.Content != resp.Choices[0].Message.Content || string(c.Message.Role) != "assistant" {
			t.Errorf("message = %q (%q)", c.Message.Content, c.Message.Role)
		}
		if c.FinishReason != "stop" || c.Index != 0 {
			t.Errorf("finish_reason, index = %q, %d", c.FinishReason, c.Index)
		}
		if c.Message.JSON.Refusal.Valid() || c.Message.JSON.Refusal.Raw() != "null" {
			t.Errorf("refusal = %q, want null", c.Message.JSON.Refusal.Raw())
		}
		if c.JSON.Logprobs.Raw() != "null" {
			t.Errorf("logprobs = %q, want null", c.JSON.Logprobs.Raw())
		}
		u := cc.Usage
		if u.PromptTokens != 19 || u.CompletionTokens != 10 || u.TotalTokens != 29 ||
			u.PromptTokensDetails.CachedTokens != 4 || u.CompletionTokensDetails.ReasoningTokens != 2 {
			t.Errorf("usage = %+v", u)
		}
	})
	t.Run("tool calls", func(t *testing.T) {
		cc := sdkCompletion(t, responseToolCalls())
		m := cc.Choices[0].Message
		if m.JSON.Content.Raw() != "null" {
			t.Errorf("content = %q, want null next to tool calls", m.JSON.Content.Raw())
		}
		if len(m.ToolCalls) != 2 {
			t.Fatalf("%d tool calls", len(m.ToolCalls))
		}
		tc := m.ToolCalls[0]
		if tc.ID != "call_abc" || tc.Type != "function" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"city":"Paris"}` {
			t.Errorf("tool call 0 = %+v", tc)
		}
		if fn := m.ToolCalls[1].AsFunction(); fn.ID != "call_def" || fn.Function.Name != "get_time" || fn.Function.Arguments != "{}" {
			t.Errorf("tool call 1 = %+v", fn)
		}
		if cc.Choices[0].FinishReason != "tool_calls" || cc.Usage.TotalTokens != 70 {
			t.Errorf("finish_reason, total = %q, %d", cc.Choices[0].FinishReason, cc.Usage.TotalTokens)
		}
		if cc.JSON.SystemFingerprint.Raw() != "null" {
			t.Errorf("system_fingerprint = %q, want null", cc.JSON.SystemFingerprint.Raw())
		}
	})
	t.Run("refusal", func(t *testing.T) {
		m := sdkCompletion(t, responseRefusal()).Choices[0].Message
		if m.Refusal != "I can't help with that." || m.JSON.Content.Raw() != "null" {
			t.Errorf("refusal, content = %q, %q", m.Refusal, m.JSON.Content.Raw())
		}
	})
	t.Run("logprobs", func(t *testing.T) {
		cc := sdkCompletion(t, responseLogprobs())
		if len(cc.Choices) != 2 || cc.Choices[1].Index != 1 || cc.Choices[1].FinishReason != "length" {
			t.Fatalf("choices = %+v", cc.Choices)
		}
		lp := cc.Choices[0].Logprobs
		if len(lp.Content) != 2 || lp.JSON.Refusal.Raw() != "null" {
			t.Fatalf("logprobs = %s", lp.RawJSON())
		}
		tok := lp.Content[0]
		if tok.Token != "Hi" || tok.Logprob != -0.0001 || len(tok.Bytes) != 2 || tok.Bytes[1] != 105 ||
			len(tok.TopLogprobs) != 2 || tok.TopLogprobs[1].Token != "Hello" || tok.TopLogprobs[1].Logprob != -9.25 {
			t.Errorf("token 0 = %s", tok.RawJSON())
		}
		if lp.Content[1].Logprob != -1.5e-7 || !lp.Content[1].JSON.TopLogprobs.Valid() {
			t.Errorf("token 1 = %s", lp.Content[1].RawJSON())
		}
		lp1 := cc.Choices[1].Logprobs
		if lp1.Content[0].Token != "\uFFFD" || lp1.Content[0].JSON.Bytes.Raw() != "null" || lp1.Content[0].Logprob != -9999 {
			t.Errorf("choice 1 token = %s", lp1.Content[0].RawJSON())
		}
		if len(lp1.Refusal) != 1 || lp1.Refusal[0].Token != "no" {
			t.Errorf("choice 1 refusal logprobs = %s", lp1.JSON.Refusal.Raw())
		}
	})
}

func sdkCompletion(t *testing.T, resp *llm.Response) openai.ChatCompletion {
	t.Helper()
	b, err := EncodeChatResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	var cc openai.ChatCompletion
	if err := stdjson.Unmarshal(b, &cc); err != nil {
		t.Fatalf("SDK cannot parse %s: %v", b, err)
	}
	return cc
}

// fakeServer is an upstream stand-in for the SDK's client: it records the
// last request body and answers with respond.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
}

func newFakeServer(t *testing.T, respond func(w http.ResponseWriter)) *fakeServer {
	s := &fakeServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.body = b
		s.mu.Unlock()
		respond(w)
	}))
	t.Cleanup(s.Close)
	return s
}

// newSSEServer answers with each event as "data: <event>\n\n".
func newSSEServer(t *testing.T, events ...[]byte) *fakeServer {
	return newFakeServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			w.Write([]byte("data: "))
			w.Write(ev)
			w.Write([]byte("\n\n"))
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

func (s *fakeServer) lastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

func encodeStream(t *testing.T, chunks []*llm.Chunk, includeUsage bool) [][]byte {
	t.Helper()
	var events [][]byte
	for _, ch := range chunks {
		b, err := EncodeChunk(ch, includeUsage)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			events = append(events, b)
		}
	}
	return events
}

func TestSDKAccumulatesStream(t *testing.T) {
	events := encodeStream(t, streamChunks(), true)
	srv := newSSEServer(t, append(events, []byte("[DONE]"))...)
	client := newSDKClient(srv.URL)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "gpt-4o",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		ch := stream.Current()
		chunks = append(chunks, ch)
		if !acc.AddChunk(ch) {
			t.Fatalf("accumulator rejected chunk %s", ch.RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 9 {
		t.Fatalf("%d chunks, want 9", len(chunks))
	}
	first := chunks[0]
	if string(first.Object) != "chat.completion.chunk" || first.ID != "chatcmpl-stream" || first.Choices[0].Delta.Role != "assistant" {
		t.Errorf("first chunk = %s", first.RawJSON())
	}
	if first.JSON.Usage.Raw() != "null" || first.Choices[0].JSON.FinishReason.Raw() != "null" {
		t.Errorf("first chunk usage, finish_reason = %q, %q; want null, null",
			first.JSON.Usage.Raw(), first.Choices[0].JSON.FinishReason.Raw())
	}
	if lp := chunks[2].Choices[0].Logprobs; len(lp.Content) != 1 || lp.Content[0].Token != "check" {
		t.Errorf("chunk 2 logprobs = %s", lp.RawJSON())
	}
	last := chunks[8]
	if len(last.Choices) != 0 || last.Usage.TotalTokens != 55 || last.Usage.PromptTokensDetails.CachedTokens != 10 ||
		last.Usage.CompletionTokensDetails.ReasoningTokens != 3 {
		t.Errorf("usage chunk = %s", last.RawJSON())
	}

	cc := acc.ChatCompletion
	if len(cc.Choices) != 1 {
		t.Fatalf("accumulated %d choices", len(cc.Choices))
	}
	m := cc.Choices[0].Message
	if m.Content != "Let me check <that> & \uFFFD" {
		t.Errorf("accumulated content = %q", m.Content)
	}
	if len(m.ToolCalls) != 2 {
		t.Fatalf("accumulated %d tool calls", len(m.ToolCalls))
	}
	if tc := m.ToolCalls[0]; tc.ID != "call_1" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool call 0 = %+v", tc)
	}
	if tc := m.ToolCalls[1]; tc.ID != "call_2" || tc.Type != "function" || tc.Function.Name != "get_time" || tc.Function.Arguments != "{}" {
		t.Errorf("tool call 1 = %+v", tc)
	}
	if cc.Choices[0].FinishReason != "tool_calls" || cc.Usage.TotalTokens != 55 {
		t.Errorf("finish_reason, total = %q, %d", cc.Choices[0].FinishReason, cc.Usage.TotalTokens)
	}
}

func TestSDKStreamWithoutUsage(t *testing.T) {
	events := encodeStream(t, streamChunks(), false)
	srv := newSSEServer(t, append(events, []byte("[DONE]"))...)
	client := newSDKClient(srv.URL)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	n := 0
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) == 0 {
			t.Errorf("unexpected usage chunk %s", ch.RawJSON())
		}
		if ch.JSON.Usage.Raw() != "" {
			t.Errorf("chunk carries usage %q, want it omitted", ch.JSON.Usage.Raw())
		}
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("%d chunks, want 8", n)
	}
}

func TestSDKStreamErrorEvent(t *testing.T) {
	events := encodeStream(t, streamChunks()[:2], false)
	e := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: "upstream_disconnected",
		Message: "The upstream model stopped responding.", Cause: errSecret}
	srv := newSSEServer(t, append(events, StreamErrorEvent(e))...)
	client := newSDKClient(srv.URL)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	n := 0
	for stream.Next() {
		n++
	}
	if n != 2 {
		t.Errorf("%d chunks before the error, want 2", n)
	}
	var se *ssestream.StreamError
	if !errors.As(stream.Err(), &se) {
		t.Fatalf("stream error = %v (%T), want *ssestream.StreamError", stream.Err(), stream.Err())
	}
	var body struct {
		Error struct {
			Message, Type, Code string
			Param               *string
		}
	}
	if err := stdjson.Unmarshal(se.Event.Data, &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Message != e.Message || body.Error.Type != e.Type || body.Error.Code != e.Code || body.Error.Param != nil {
		t.Errorf("error event = %s", se.Event.Data)
	}
	if strings.Contains(string(se.Event.Data), "SECRET") {
		t.Errorf("error event leaks the cause: %s", se.Event.Data)
	}
}

func TestSDKParsesError(t *testing.T) {
	_, derr := DecodeChatRequest([]byte(body(`"temperature":9`)))
	e := checkCallerError(t, derr)
	srv := newJSONServer(t, e.Status, EncodeError(e))
	client := newSDKClient(srv.URL)
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v (%T), want *openai.Error", err, err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Type != "invalid_request_error" ||
		apiErr.Param != "temperature" || apiErr.Code != CodeInvalidValue || apiErr.Message != e.Message {
		t.Errorf("SDK error = status %d type %q param %q code %q message %q",
			apiErr.StatusCode, apiErr.Type, apiErr.Param, apiErr.Code, apiErr.Message)
	}
}

// TestSDKRequestDecodes sends a request with the SDK's client, as an
// application would, and decodes the body it put on the wire.
func TestSDKRequestDecodes(t *testing.T) {
	cc, err := EncodeChatResponse(responseText())
	if err != nil {
		t.Fatal(err)
	}
	srv := newJSONServer(t, http.StatusOK, cc)
	params := openai.ChatCompletionNewParams{
		Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.DeveloperMessage("Be brief."),
			openai.SystemMessage([]openai.ChatCompletionContentPartTextParam{{Text: "You are "}, {Text: "Sextant."}}),
			openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("Describe "),
				openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/a.png", Detail: "low"}),
			}),
			{OfAssistant: &openai.ChatCompletionAssistantMessageParam{
				ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID:       "call_1",
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `{"city":"Paris"}`},
					},
				}},
			}},
			openai.ToolMessage("18C", "call_1"),
			openai.AssistantMessage("It is 18C."),
		},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Weather by city"),
			Parameters:  shared.FunctionParameters{"type": "object"},
			Strict:      openai.Bool(true),
		})},
		ToolChoice: openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: map[string]any{"type": "object"}},
		}},
		ParallelToolCalls:   openai.Bool(false),
		Logprobs:            openai.Bool(true),
		TopLogprobs:         openai.Int(2),
		N:                   openai.Int(1),
		Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"END"}},
		MaxCompletionTokens: openai.Int(256),
		Temperature:         openai.Float(0.5),
		TopP:                openai.Float(0.75),
		PresencePenalty:     openai.Float(0.25),
		FrequencyPenalty:    openai.Float(-0.25),
		Seed:                openai.Int(7),
		User:                openai.String("u-1"),
		Metadata:            shared.Metadata{"team": "search"},
		ServiceTier:         openai.ChatCompletionNewParamsServiceTierAuto, // unknown to Sextant: ignored
	}
	client := newSDKClient(srv.URL)
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	t.Logf("SDK body: %s", srv.lastBody())
	got, err := DecodeChatRequest(srv.lastBody())
	if err != nil {
		t.Fatalf("DecodeChatRequest(%s): %v", srv.lastBody(), err)
	}
	want := &llm.Request{
		Model: "gpt-4o",
		Messages: []llm.Message{
			{Role: "developer", Content: "Be brief."},
			{Role: "system", Content: "You are Sextant.", Parts: []llm.ContentPart{{Type: "text", Text: "You are "}, {Type: "text", Text: "Sextant."}}},
			{Role: "user", Content: "Describe ", Parts: []llm.ContentPart{
				{Type: "text", Text: "Describe "}, {Type: "image_url", ImageURL: "https://example.com/a.png", Detail: "low"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "call_1", Type: "function",
				Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
			{Role: "tool", ToolCallID: "call_1", Content: "18C"},
			{Role: "assistant", Content: "It is 18C."},
		},
		Tools: []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Description: "Weather by city",
			Parameters: got.Tools[0].Function.Parameters, Strict: ptr(true)}}},
		ToolChoice:        stdjson.RawMessage(`{"type":"function","function":{"name":"get_weather"}}`),
		ParallelToolCalls: ptr(false),
		ResponseFormat:    &llm.ResponseFormat{Type: "json_schema", JSONSchema: got.ResponseFormat.JSONSchema},
		Logprobs:          true,
		TopLogprobs:       ptr(2),
		N:                 ptr(1),
		Stop:              []string{"END"},
		MaxTokens:         ptr(256),
		Temperature:       ptr(0.5),
		TopP:              ptr(0.75),
		PresencePenalty:   ptr(0.25),
		FrequencyPenalty:  ptr(-0.25),
		Seed:              ptr(int64(7)),
		User:              "u-1",
		Metadata:          map[string]string{"team": "search"},
	}
	assertRequest(t, got, want)
	var params0 map[string]any
	if err := stdjson.Unmarshal(got.Tools[0].Function.Parameters, &params0); err != nil || params0["type"] != "object" {
		t.Errorf("tool parameters = %s (%v)", got.Tools[0].Function.Parameters, err)
	}
	var schema struct {
		Name   string         `json:"name"`
		Schema map[string]any `json:"schema"`
	}
	if err := stdjson.Unmarshal(got.ResponseFormat.JSONSchema, &schema); err != nil || schema.Name != "answer" || schema.Schema["type"] != "object" {
		t.Errorf("json_schema = %s (%v)", got.ResponseFormat.JSONSchema, err)
	}

	// And a streaming request carries stream and include_usage.
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "gpt-4o",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	stream.Close()
	got, err = DecodeChatRequest(srv.lastBody())
	if err != nil {
		t.Fatalf("DecodeChatRequest(%s): %v", srv.lastBody(), err)
	}
	if !got.Stream || !got.IncludeUsage {
		t.Errorf("Stream, IncludeUsage = %v, %v from %s", got.Stream, got.IncludeUsage, srv.lastBody())
	}
}
