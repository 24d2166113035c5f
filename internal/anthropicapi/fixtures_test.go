package anthropicapi

import (
	"net/http"

	"github.com/sextant-router/sextant/internal/llm"
)

// Responses, streams and errors shared by the golden and SDK tests.

func responseText() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-123", Created: 1_700_000_000, Model: "gpt-4o-2024-08-06",
		Choices: []llm.Choice{{
			Message:      llm.Message{Role: llm.RoleAssistant, Content: "Hello <there> & \"welcome\"\n\u2028😀 \xff"},
			FinishReason: llm.FinishStop,
			Logprobs:     &llm.Logprobs{Content: []llm.TokenLogprob{{Token: "Hello", Logprob: -0.1}}},
		}},
		Usage: llm.Usage{PromptTokens: 19, CompletionTokens: 10, TotalTokens: 29, CachedTokens: 4, ReasoningTokens: 2, Estimated: true},
	}
}

// responseToolCalls has text and three tool calls: one with arguments, one
// without an id and with arguments that are not JSON, and one whose
// arguments name a member twice.
func responseToolCalls() *llm.Response {
	return &llm.Response{
		ID: "chatcmpl-tools", Created: 1_700_000_001, Model: "gpt-4o",
		Choices: []llm.Choice{{
			Message: llm.Message{Role: llm.RoleAssistant, Content: "Let me check.", ToolCalls: []llm.ToolCall{
				{ID: "call_abc", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: ` {"city": "Paris", "units": ["c", "f"]} `}},
				{Function: llm.FunctionCall{Name: "get_time", Arguments: `{"tz": "Europe/Par`}},
				{ID: "call_dup", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Rome","city":"Oslo"}`}},
			}},
			FinishReason: llm.FinishToolCalls,
		}},
		Usage: llm.Usage{PromptTokens: 50, CompletionTokens: 20},
	}
}

// responseLength stopped at max_tokens with a second choice that is
// dropped; the id already has Anthropic's prefix.
func responseLength() *llm.Response {
	return &llm.Response{
		ID: "msg_01XYZ", Model: "claude-haiku",
		Choices: []llm.Choice{
			{Message: llm.Message{Role: llm.RoleAssistant, Content: "Once upon a"}, FinishReason: llm.FinishLength},
			{Index: 1, Message: llm.Message{Role: llm.RoleAssistant, Content: "dropped"}, FinishReason: llm.FinishStop},
		},
		Usage: llm.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8},
	}
}

func responseContentFilter() *llm.Response {
	return &llm.Response{
		ID: "gen-7", Model: "gpt-4o",
		Choices: []llm.Choice{{
			Message:      llm.Message{Role: llm.RoleAssistant, Refusal: "I can't help with that."},
			FinishReason: llm.FinishContentFilter,
		}},
		Usage: llm.Usage{PromptTokens: 5, CompletionTokens: 7, TotalTokens: 12},
	}
}

// responseEmpty has no choices, no id and no finish reason: what an
// adapter bug looks like, encoded without inventing data.
func responseEmpty() *llm.Response {
	return &llm.Response{Model: "m"}
}

const streamModel = "gpt-4o"

func chunk(choices ...llm.ChunkChoice) *llm.Chunk {
	return &llm.Chunk{ID: "chatcmpl-stream", Created: 1_700_000_100, Model: streamModel, Choices: choices}
}

func delta(d llm.Delta) llm.ChunkChoice { return llm.ChunkChoice{Delta: d} }

func toolDelta(index int, id, name, args string) llm.ChunkChoice {
	return delta(llm.Delta{ToolCalls: []llm.ToolCallDelta{{Index: index, ID: id, Function: llm.FunctionCall{Name: name, Arguments: args}}}})
}

// streamText is a plain answer as OpenAI streams it: a role chunk, text
// with an empty delta in between, the finish chunk and the usage chunk.
func streamText() []*llm.Chunk {
	return []*llm.Chunk{
		chunk(delta(llm.Delta{Role: llm.RoleAssistant})),
		chunk(delta(llm.Delta{Content: "Hello"})),
		chunk(delta(llm.Delta{})),
		chunk(delta(llm.Delta{Content: " <world> & \xff"})),
		chunk(llm.ChunkChoice{FinishReason: llm.FinishStop}),
		{ID: "chatcmpl-stream", Model: streamModel, Usage: &llm.Usage{PromptTokens: 30, CompletionTokens: 5, TotalTokens: 35, CachedTokens: 10}},
	}
}

// streamTools has text, then two parallel tool calls in fragments, the
// finish chunk and the usage chunk.
func streamTools() []*llm.Chunk {
	return []*llm.Chunk{
		chunk(delta(llm.Delta{Role: llm.RoleAssistant})),
		chunk(delta(llm.Delta{Content: "Let me check."})),
		chunk(toolDelta(0, "call_1", "get_weather", "")),
		chunk(toolDelta(0, "", "", `{"city":`)),
		chunk(toolDelta(0, "", "", `"Paris"}`)),
		chunk(toolDelta(1, "call_2", "get_time", "{}")),
		chunk(llm.ChunkChoice{FinishReason: llm.FinishToolCalls}),
		{ID: "chatcmpl-stream", Model: streamModel, Usage: &llm.Usage{PromptTokens: 40, CompletionTokens: 25, TotalTokens: 65}},
	}
}

// streamToolsFirst opens a tool call in its first chunk, names it only in
// the second (its first argument fragment is held back until then), gives
// no tool call id, and reports usage only through Finish.
func streamToolsFirst() []*llm.Chunk {
	return []*llm.Chunk{
		chunk(llm.ChunkChoice{Delta: llm.Delta{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCallDelta{{Index: 0, Function: llm.FunctionCall{Arguments: `{"q":`}}}}}),
		chunk(toolDelta(0, "", "lookup", `"x"}`)),
		chunk(llm.ChunkChoice{FinishReason: llm.FinishToolCalls}),
	}
}

// streamUsageFirst starts with a usage-only chunk (an upstream that
// reports the prompt up front), then text that hits the length limit.
func streamUsageFirst() []*llm.Chunk {
	return []*llm.Chunk{
		{ID: "chatcmpl-uf", Model: streamModel, Usage: &llm.Usage{PromptTokens: 12}},
		{ID: "chatcmpl-uf", Model: streamModel, Choices: []llm.ChunkChoice{delta(llm.Delta{Content: "Once upon a"})}},
		{ID: "chatcmpl-uf", Model: streamModel, Choices: []llm.ChunkChoice{{FinishReason: llm.FinishLength}},
			Usage: &llm.Usage{PromptTokens: 12, CompletionTokens: 3}},
	}
}

func errorCases() []*llm.Error {
	return []*llm.Error{
		llm.Errorf("messages.0.content", "messages.0.content: Field required"),
		{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "model_not_found", Message: "The model 'x' does not exist."},
		{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Message: "Rate limit reached <retry> & \xff",
			Model: "secret-upstream-deployment", Cause: errSecret},
		{Status: 529, Type: llm.TypeUpstream, Message: "Overloaded", Cause: errSecret},
		{Status: http.StatusBadGateway},
		nil,
	}
}

type secretError struct{}

func (secretError) Error() string {
	return "dial tcp 10.0.0.7:443: connection refused; api key sk-SECRET"
}

var errSecret error = secretError{}
