// Package llm holds the normalized request, response and stream shapes that
// every part of Sextant speaks. Client wire formats and provider wire formats
// are translated to and from these types at the two edges only.
package llm

import "encoding/json"

// Role names who wrote a message.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Finish reasons, in the OpenAI vocabulary that every adapter maps onto.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Request is one chat completion request. Optional numeric parameters are
// pointers so that "absent" differs from zero; adapters forward only what is
// set.
type Request struct {
	// Model is the name the caller asked for. Before a provider sees the
	// request the executor replaces it with the deployment's upstream name.
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`

	Stream bool `json:"stream,omitempty"`
	// IncludeUsage asks for a final usage chunk on a stream
	// (stream_options.include_usage).
	IncludeUsage bool `json:"include_usage,omitempty"`

	Tools             []Tool          `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    *ResponseFormat `json:"response_format,omitempty"`

	Logprobs    bool `json:"logprobs,omitempty"`
	TopLogprobs *int `json:"top_logprobs,omitempty"`

	N                *int     `json:"n,omitempty"`
	Stop             []string `json:"stop,omitempty"`
	MaxTokens        *int     `json:"max_tokens,omitempty"`
	Temperature      *float64 `json:"temperature,omitempty"`
	TopP             *float64 `json:"top_p,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	Seed             *int64   `json:"seed,omitempty"`

	User     string            `json:"user,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Clone returns a copy of r that can be changed without touching r. Slices of
// messages and tools are copied one level deep; message contents are
// immutable by convention and shared.
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	c.Tools = append([]Tool(nil), r.Tools...)
	c.Stop = append([]string(nil), r.Stop...)
	if r.Metadata != nil {
		c.Metadata = make(map[string]string, len(r.Metadata))
		for k, v := range r.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

// Message is one turn of a conversation.
type Message struct {
	Role string `json:"role"`
	// Content is the text of the message. When the client sent content
	// parts, Content is the concatenation of their text parts and Parts
	// holds them all.
	Content    string        `json:"content,omitempty"`
	Parts      []ContentPart `json:"parts,omitempty"`
	Name       string        `json:"name,omitempty"`
	ToolCalls  []ToolCall    `json:"tool_calls,omitempty"`
	ToolCallID string        `json:"tool_call_id,omitempty"`
	Refusal    string        `json:"refusal,omitempty"`
}

// ContentPart is one part of a multi-part message: text or an image.
type ContentPart struct {
	Type     string `json:"type"` // "text" or "image_url"
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string      `json:"type"` // "function"
	Function FunctionDef `json:"function"`
}

// FunctionDef declares a callable function.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model made.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its JSON arguments as text.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ResponseFormat asks for plain text, any JSON object, or JSON that matches
// a schema.
type ResponseFormat struct {
	Type string `json:"type"` // "text", "json_object" or "json_schema"
	// JSONSchema is the whole json_schema object ({name, schema, strict,
	// description}) exactly as the client sent it.
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// Response is a whole (non-streamed) chat completion.
type Response struct {
	ID                string   `json:"id"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             Usage    `json:"usage"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	// RateLimit is the headroom the upstream reported with this
	// response; never sent to clients.
	RateLimit RateLimit `json:"-"`
}

// Text returns the content of the first choice, or "".
func (r *Response) Text() string {
	if r == nil || len(r.Choices) == 0 {
		return ""
	}
	return r.Choices[0].Message.Content
}

// Choice is one of the n alternatives of a response.
type Choice struct {
	Index        int       `json:"index"`
	Message      Message   `json:"message"`
	FinishReason string    `json:"finish_reason"`
	Logprobs     *Logprobs `json:"logprobs,omitempty"`
}

// Logprobs carries per-token log-probabilities of a choice's content.
type Logprobs struct {
	Content []TokenLogprob `json:"content"`
	Refusal []TokenLogprob `json:"refusal,omitempty"`
}

// TokenLogprob is one sampled token with its log-probability and the most
// likely alternatives.
type TokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// TopLogprob is one alternative token at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Usage counts tokens. Estimated is true when Sextant counted the tokens with
// its tokenizer because the upstream reported none.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
	// CacheWriteTokens are prompt tokens written to the provider's prompt
	// cache (a subset of PromptTokens, disjoint from CachedTokens), which
	// some providers bill at a surcharge.
	CacheWriteTokens int  `json:"cache_write_tokens,omitempty"`
	ReasoningTokens  int  `json:"reasoning_tokens,omitempty"`
	Estimated        bool `json:"estimated,omitempty"`
}

// IsZero reports whether no tokens were counted.
func (u Usage) IsZero() bool {
	return u.PromptTokens == 0 && u.CompletionTokens == 0 && u.TotalTokens == 0
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
		CachedTokens:     u.CachedTokens + v.CachedTokens,
		CacheWriteTokens: u.CacheWriteTokens + v.CacheWriteTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
		Estimated:        u.Estimated || v.Estimated,
	}
}

// Chunk is one event of a streamed completion. A chunk with Usage set and no
// choices is the final usage chunk.
type Chunk struct {
	ID                string        `json:"id"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
}

// ChunkChoice is the delta of one choice.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	FinishReason string    `json:"finish_reason,omitempty"`
	Logprobs     *Logprobs `json:"logprobs,omitempty"`
}

// Delta is what a chunk adds to a choice's message.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   string          `json:"content,omitempty"`
	Refusal   string          `json:"refusal,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ToolCallDelta is a fragment of a tool call; fragments with the same Index
// are concatenated.
type ToolCallDelta struct {
	Index    int          `json:"index"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// Stream is a pulled stream of chunks.
//
// Recv returns the next chunk, io.EOF after the upstream's terminal event,
// or an error. A stream that ends without its terminal event returns an
// error (never io.EOF). Close releases the stream and cancels the upstream
// call; it is safe to call more than once and after Recv returned an error.
type Stream interface {
	Recv() (*Chunk, error)
	Close() error
}

// Buffered is implemented by streams that can tell whether the next Recv
// will return without waiting for the upstream. Writers use it to flush
// only when the client would otherwise wait, instead of once per chunk.
// False is always a safe answer.
type Buffered interface {
	Buffered() bool
}
