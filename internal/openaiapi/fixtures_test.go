package openaiapi

import (
	"net/http"

	"github.com/sextant-router/sextant/internal/llm"
)

// Responses, streams and errors shared by the golden and SDK tests.

func responseText() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-123", Created: 1_700_000_000, Model: "gpt-4o-2024-08-06",
		Choices: []llm.Choice{{
			Index:        0,
			Message:      llm.Message{Role: llm.RoleAssistant, Content: "Hello <there> & \"welcome\"\n\u2028😀"},
			FinishReason: llm.FinishStop,
		}},
		Usage:             llm.Usage{PromptTokens: 19, CompletionTokens: 10, TotalTokens: 29, CachedTokens: 4, ReasoningTokens: 2, Estimated: true},
		SystemFingerprint: "fp_44709d6fcb",
	}
}

func responseToolCalls() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-tools", Created: 1_700_000_001, Model: "gpt-4o",
		Choices: []llm.Choice{{
			Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
				{ID: "call_abc", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
				{ID: "call_def", Function: llm.FunctionCall{Name: "get_time", Arguments: "{}"}},
			}},
			FinishReason: llm.FinishToolCalls,
		}},
		// TotalTokens left zero: the encoder fills in the sum.
		Usage: llm.Usage{PromptTokens: 50, CompletionTokens: 20},
	}
}

func responseRefusal() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-refusal", Created: 1_700_000_002, Model: "gpt-4o",
		Choices: []llm.Choice{{
			Message:      llm.Message{Role: llm.RoleAssistant, Refusal: "I can't help with that."},
			FinishReason: llm.FinishStop,
		}},
		Usage: llm.Usage{PromptTokens: 5, CompletionTokens: 7, TotalTokens: 12},
	}
}

func responseLogprobs() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-logprobs", Created: 1_700_000_003, Model: "gpt-4o-mini",
		Choices: []llm.Choice{
			{
				Index:   0,
				Message: llm.Message{Role: llm.RoleAssistant, Content: "Hi!"},
				Logprobs: &llm.Logprobs{Content: []llm.TokenLogprob{
					{Token: "Hi", Logprob: -0.0001, Bytes: []int{72, 105}, TopLogprobs: []llm.TopLogprob{
						{Token: "Hi", Logprob: -0.0001, Bytes: []int{72, 105}},
						{Token: "Hello", Logprob: -9.25, Bytes: []int{72, 101, 108, 108, 111}},
					}},
					{Token: "!", Logprob: -1.5e-7, Bytes: []int{33}},
				}},
				FinishReason: llm.FinishStop,
			},
			{
				Index:   1,
				Message: llm.Message{Role: llm.RoleAssistant, Content: "\xff", Refusal: "no"},
				Logprobs: &llm.Logprobs{
					Content: []llm.TokenLogprob{{Token: "\xff", Logprob: -9999}},
					Refusal: []llm.TokenLogprob{{Token: "no", Logprob: -0.5, Bytes: []int{110, 111}}},
				},
				FinishReason: llm.FinishLength,
			},
		},
		Usage: llm.Usage{PromptTokens: 8, CompletionTokens: 4, TotalTokens: 12},
	}
}

// responseEmpty has no choices and no finish reason: what an adapter bug
// looks like, encoded without inventing data.
func responseEmpty() *llm.Response {
	return &llm.Response{ID: "chatcmpl-empty", Created: 1_700_000_004, Model: "m"}
}

// streamChunks is a whole stream: a role chunk, text, two parallel tool
// calls in fragments, the finish chunk and the usage chunk.
func streamChunks() []*llm.Chunk {
	const id, created, model, fp = "chatcmpl-stream", 1_700_000_100, "gpt-4o", "fp_stream"
	ch := func(choices ...llm.ChunkChoice) *llm.Chunk {
		return &llm.Chunk{ID: id, Created: created, Model: model, SystemFingerprint: fp, Choices: choices}
	}
	return []*llm.Chunk{
		ch(llm.ChunkChoice{Delta: llm.Delta{Role: llm.RoleAssistant}}),
		ch(llm.ChunkChoice{Delta: llm.Delta{Content: "Let me "}}),
		ch(llm.ChunkChoice{Delta: llm.Delta{Content: "check <that> & \xff"}, Logprobs: &llm.Logprobs{
			Content: []llm.TokenLogprob{{Token: "check", Logprob: -0.25, Bytes: []int{99, 104, 101, 99, 107}}}}}),
		ch(llm.ChunkChoice{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{
			{Index: 0, ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather"}}}}}),
		ch(llm.ChunkChoice{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{
			{Index: 0, Function: llm.FunctionCall{Arguments: `{"city":`}}}}}),
		ch(llm.ChunkChoice{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{
			{Index: 0, Function: llm.FunctionCall{Arguments: `"Paris"}`}}}}}),
		// The type is left to the encoder to fill in on an opening fragment.
		ch(llm.ChunkChoice{Delta: llm.Delta{ToolCalls: []llm.ToolCallDelta{
			{Index: 1, ID: "call_2", Function: llm.FunctionCall{Name: "get_time", Arguments: "{}"}}}}}),
		ch(llm.ChunkChoice{FinishReason: llm.FinishToolCalls}),
		{ID: id, Created: created, Model: model, SystemFingerprint: fp,
			Usage: &llm.Usage{PromptTokens: 30, CompletionTokens: 25, TotalTokens: 55, CachedTokens: 10, ReasoningTokens: 3}},
	}
}

// streamToolsFirst is a stream whose first chunk opens a tool call, as
// OpenAI sends when the model calls a tool straight away, and a refusal
// stream.
func streamToolsFirst() []*llm.Chunk {
	const id, created, model = "chatcmpl-tf", 1_700_000_200, "gpt-4o"
	return []*llm.Chunk{
		{ID: id, Created: created, Model: model, Choices: []llm.ChunkChoice{{Delta: llm.Delta{Role: llm.RoleAssistant,
			ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_9", Type: "function", Function: llm.FunctionCall{Name: "lookup"}}}}}}},
		{ID: id, Created: created, Model: model, Choices: []llm.ChunkChoice{{Delta: llm.Delta{
			ToolCalls: []llm.ToolCallDelta{{Index: 0, Function: llm.FunctionCall{Arguments: `{"q":"x"}`}}}}}}},
		{ID: id, Created: created, Model: model, Choices: []llm.ChunkChoice{{FinishReason: llm.FinishToolCalls}}},
		{ID: id, Created: created, Model: model, Choices: []llm.ChunkChoice{{Index: 1, Delta: llm.Delta{Role: llm.RoleAssistant, Refusal: "Sorry"}}}},
	}
}

func errorCases() []*llm.Error {
	return []*llm.Error{
		llm.Errorf("messages[0].content", "Missing required parameter: 'messages[0].content'."),
		{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found", Message: "The model 'x' does not exist."},
		{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Message: "Rate limit reached <retry> & \xff",
			Model: "secret-upstream-deployment", Cause: errSecret},
		{Status: http.StatusBadGateway},
		nil,
	}
}

type secretError struct{}

func (secretError) Error() string {
	return "dial tcp 10.0.0.7:443: connection refused; api key sk-SECRET"
}

var errSecret error = secretError{}
