package openaiapi

import (
	"errors"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/llm"
)

// encodeOptions: invalid UTF-8 from an upstream (a token that splits a
// multi-byte character, say) becomes U+FFFD rather than failing the whole
// response; <, >, & are written as themselves, as OpenAI does; and a nil
// slice is null, so the encoders make every slice that must read [].
var encodeOptions = json.JoinOptions(
	jsontext.AllowInvalidUTF8(true),
	jsontext.EscapeForHTML(false),
	json.FormatNilSliceAsNull(true),
)

const (
	objectCompletion = "chat.completion"
	objectChunk      = "chat.completion.chunk"
)

// The wire* output types fix the member order and the null-versus-absent
// choices of OpenAI's responses. A nil slice encodes as null (see
// encodeOptions); choices, logprobs content and top_logprobs are always
// made non-nil so that they read [].

type wireResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []wireChoice `json:"choices"`
	Usage             wireUsage    `json:"usage"`
	SystemFingerprint *string      `json:"system_fingerprint"`
}

type wireChoice struct {
	Index        int              `json:"index"`
	Message      wireOutMessage   `json:"message"`
	Logprobs     *wireOutLogprobs `json:"logprobs"`
	FinishReason *string          `json:"finish_reason"`
}

type wireOutMessage struct {
	Role      string            `json:"role"`
	Content   *string           `json:"content"`
	Refusal   *string           `json:"refusal"`
	ToolCalls []wireOutToolCall `json:"tool_calls,omitempty"`
}

type wireOutToolCall struct {
	ID       string              `json:"id"`
	Type     string              `json:"type"`
	Function wireOutFunctionCall `json:"function"`
}

type wireOutFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type wireOutLogprobs struct {
	Content []wireTokenLogprob `json:"content"`
	Refusal []wireTokenLogprob `json:"refusal"`
}

type wireTokenLogprob struct {
	Token       string           `json:"token"`
	Logprob     float64          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []wireTopLogprob `json:"top_logprobs"`
}

type wireTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type wireUsage struct {
	PromptTokens            int                   `json:"prompt_tokens"`
	CompletionTokens        int                   `json:"completion_tokens"`
	TotalTokens             int                   `json:"total_tokens"`
	PromptTokensDetails     wirePromptDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails wireCompletionDetails `json:"completion_tokens_details"`
}

type wirePromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type wireCompletionDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

type wireChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint *string           `json:"system_fingerprint"`
	Choices           []wireChunkChoice `json:"choices"`
	Usage             usageMember       `json:"usage,omitzero"`
}

type wireChunkChoice struct {
	Index        int              `json:"index"`
	Delta        wireDelta        `json:"delta"`
	Logprobs     *wireOutLogprobs `json:"logprobs"`
	FinishReason *string          `json:"finish_reason"`
}

type wireDelta struct {
	Role      string              `json:"role,omitempty"`
	Content   optString           `json:"content,omitzero"`
	Refusal   optString           `json:"refusal,omitzero"`
	ToolCalls []wireToolCallDelta `json:"tool_calls,omitempty"`
}

type wireToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function wireFunctionDelta `json:"function"`
}

type wireFunctionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// optString is a member that is absent (the zero value), null, or a string.
type optString struct {
	state uint8 // 0 absent, 1 null, 2 string
	s     string
}

func (o optString) IsZero() bool { return o.state == 0 }

func (o optString) MarshalJSONTo(enc *jsontext.Encoder) error {
	if o.state == 1 {
		return enc.WriteToken(jsontext.Null)
	}
	return enc.WriteToken(jsontext.String(o.s))
}

func nullString() optString         { return optString{state: 1} }
func someString(s string) optString { return optString{state: 2, s: s} }

// usageMember is a chunk's usage member: absent (the zero value), null, or
// the usage object.
type usageMember struct {
	present bool
	u       *wireUsage
}

func (m usageMember) IsZero() bool { return !m.present }

func (m usageMember) MarshalJSONTo(enc *jsontext.Encoder) error {
	if m.u == nil {
		return enc.WriteToken(jsontext.Null)
	}
	return json.MarshalEncode(enc, m.u)
}

// nullable returns nil for "", so that the member encodes as null.
func nullable(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// EncodeChatResponse returns the body of a non-streamed chat completion,
// an object of type "chat.completion" as OpenAI writes it:
//
//   - message.content is null when it is empty and the message has tool
//     calls or a refusal; otherwise it is a string, possibly "".
//   - message.refusal is null unless there is one; tool_calls is omitted
//     when there are none.
//   - logprobs is null unless the choice has them, in which case it is
//     {"content": [...], "refusal": null or [...]}.
//   - finish_reason is null only if the upstream reported none.
//   - usage is always present with prompt_tokens_details.cached_tokens and
//     completion_tokens_details.reasoning_tokens; total_tokens is
//     prompt+completion when the upstream left it zero. Usage.Estimated is
//     internal and not written.
//   - system_fingerprint is null when empty.
//   - message.role defaults to "assistant".
func EncodeChatResponse(resp *llm.Response) ([]byte, error) {
	if resp == nil {
		return nil, errors.New("openaiapi: EncodeChatResponse of a nil response")
	}
	w := wireResponse{
		ID:                resp.ID,
		Object:            objectCompletion,
		Created:           resp.Created,
		Model:             resp.Model,
		Choices:           make([]wireChoice, len(resp.Choices)),
		Usage:             usage(resp.Usage),
		SystemFingerprint: nullable(&resp.SystemFingerprint),
	}
	for i := range resp.Choices {
		c := &resp.Choices[i]
		m := &c.Message
		role := m.Role
		if role == "" {
			role = llm.RoleAssistant
		}
		content := &m.Content
		if m.Content == "" && (len(m.ToolCalls) > 0 || m.Refusal != "") {
			content = nil
		}
		w.Choices[i] = wireChoice{
			Index: c.Index,
			Message: wireOutMessage{
				Role:      role,
				Content:   content,
				Refusal:   nullable(&m.Refusal),
				ToolCalls: toolCalls(m.ToolCalls),
			},
			Logprobs:     logprobs(c.Logprobs),
			FinishReason: nullable(&c.FinishReason),
		}
	}
	return json.Marshal(&w, encodeOptions)
}

// EncodeChunk returns the data of one SSE event of a streamed completion,
// an object of type "chat.completion.chunk"; the caller frames it as
// "data: <object>\n\n" and ends the stream with "data: [DONE]\n\n".
//
// includeUsage is the request's stream_options.include_usage
// (llm.Request.IncludeUsage). When it is true every chunk carries a usage
// member, null except on the chunk that has usage (OpenAI's final chunk,
// with "choices": []). When it is false no chunk carries usage, and
// EncodeChunk returns nil, nil for the final usage chunk (no choices, Usage
// set): the caller must skip it and send nothing. A chunk with both choices
// and usage keeps its choices either way.
//
// In a delta, role, content, refusal and tool_calls are omitted when empty,
// except that a chunk that sets the role also writes content ("", or null
// when the chunk starts tool calls) and refusal (null), as OpenAI's first
// chunk does. A tool-call fragment always writes function.arguments (""
// when empty) and writes id, type and function.name only when set, so that
// continuation fragments are {"index":0,"function":{"arguments":"..."}}.
// finish_reason and logprobs are null when unset.
func EncodeChunk(ch *llm.Chunk, includeUsage bool) ([]byte, error) {
	if ch == nil {
		return nil, errors.New("openaiapi: EncodeChunk of a nil chunk")
	}
	if !includeUsage && ch.Usage != nil && len(ch.Choices) == 0 {
		return nil, nil
	}
	w := wireChunk{
		ID:                ch.ID,
		Object:            objectChunk,
		Created:           ch.Created,
		Model:             ch.Model,
		SystemFingerprint: nullable(&ch.SystemFingerprint),
		Choices:           make([]wireChunkChoice, len(ch.Choices)),
	}
	if includeUsage {
		w.Usage.present = true
		if ch.Usage != nil {
			u := usage(*ch.Usage)
			w.Usage.u = &u
		}
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		w.Choices[i] = wireChunkChoice{
			Index:        c.Index,
			Delta:        delta(&c.Delta),
			Logprobs:     logprobs(c.Logprobs),
			FinishReason: nullable(&c.FinishReason),
		}
	}
	return json.Marshal(&w, encodeOptions)
}

func delta(d *llm.Delta) wireDelta {
	w := wireDelta{Role: d.Role}
	switch {
	case d.Content != "":
		w.Content = someString(d.Content)
	case d.Role != "" && len(d.ToolCalls) > 0:
		w.Content = nullString()
	case d.Role != "":
		w.Content = someString("")
	}
	switch {
	case d.Refusal != "":
		w.Refusal = someString(d.Refusal)
	case d.Role != "":
		w.Refusal = nullString()
	}
	if len(d.ToolCalls) > 0 {
		w.ToolCalls = make([]wireToolCallDelta, len(d.ToolCalls))
		for i, tc := range d.ToolCalls {
			typ := tc.Type
			if typ == "" && tc.ID != "" {
				typ = "function" // the fragment that opens a call names its type
			}
			w.ToolCalls[i] = wireToolCallDelta{
				Index:    tc.Index,
				ID:       tc.ID,
				Type:     typ,
				Function: wireFunctionDelta{Name: tc.Function.Name, Arguments: tc.Function.Arguments},
			}
		}
	}
	return w
}

func usage(u llm.Usage) wireUsage {
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	return wireUsage{
		PromptTokens:            u.PromptTokens,
		CompletionTokens:        u.CompletionTokens,
		TotalTokens:             total,
		PromptTokensDetails:     wirePromptDetails{CachedTokens: u.CachedTokens},
		CompletionTokensDetails: wireCompletionDetails{ReasoningTokens: u.ReasoningTokens},
	}
}

func toolCalls(calls []llm.ToolCall) []wireOutToolCall {
	if len(calls) == 0 {
		return nil
	}
	out := make([]wireOutToolCall, len(calls))
	for i, c := range calls {
		typ := c.Type
		if typ == "" {
			typ = "function"
		}
		out[i] = wireOutToolCall{ID: c.ID, Type: typ,
			Function: wireOutFunctionCall{Name: c.Function.Name, Arguments: c.Function.Arguments}}
	}
	return out
}

func logprobs(lp *llm.Logprobs) *wireOutLogprobs {
	if lp == nil {
		return nil
	}
	w := &wireOutLogprobs{Content: tokenLogprobs(lp.Content)}
	if len(lp.Refusal) > 0 {
		w.Refusal = tokenLogprobs(lp.Refusal)
	}
	return w
}

func tokenLogprobs(ts []llm.TokenLogprob) []wireTokenLogprob {
	out := make([]wireTokenLogprob, len(ts))
	for i, t := range ts {
		top := make([]wireTopLogprob, len(t.TopLogprobs))
		for j, a := range t.TopLogprobs {
			top[j] = wireTopLogprob{Token: a.Token, Logprob: a.Logprob, Bytes: a.Bytes}
		}
		out[i] = wireTokenLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: t.Bytes, TopLogprobs: top}
	}
	return out
}
