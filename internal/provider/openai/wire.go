package openai

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// The request and response shapes of POST /chat/completions, as OpenAI
// documents them. Only fields Sextant reads or writes are declared; unknown
// response fields are ignored so that vendor extensions do not break
// decoding.

type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []message         `json:"messages"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *streamOptions    `json:"stream_options,omitempty"`
	Tools               []tool            `json:"tools,omitempty"`
	ToolChoice          json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *responseFormat   `json:"response_format,omitempty"`
	Logprobs            bool              `json:"logprobs,omitempty"`
	TopLogprobs         *int              `json:"top_logprobs,omitempty"`
	N                   *int              `json:"n,omitempty"`
	Stop                []string          `json:"stop,omitempty"`
	MaxTokens           *int              `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int              `json:"max_completion_tokens,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	PresencePenalty     *float64          `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64          `json:"frequency_penalty,omitempty"`
	Seed                *int64            `json:"seed,omitempty"`
	User                string            `json:"user,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type message struct {
	Role string `json:"role"`
	// Content is a JSON string, an array of content parts, or null (an
	// assistant turn that only calls tools or refuses).
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []toolCall      `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	Refusal    string          `json:"refusal,omitempty"`
}

type contentPart struct {
	Type     string    `json:"type"`
	Text     *string   `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type tool struct {
	Type     string      `json:"type"`
	Function functionDef `json:"function"`
}

type functionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type toolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type responseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// encodeRequest translates req into the wire request. It fails only with a
// caller-fault *llm.Error for content the wire format cannot carry.
func (p *Provider) encodeRequest(req *llm.Request, stream bool) ([]byte, error) {
	w := chatRequest{
		Model:             p.upstream,
		Messages:          make([]message, 0, len(req.Messages)),
		ToolChoice:        req.ToolChoice,
		ParallelToolCalls: req.ParallelToolCalls,
		Logprobs:          req.Logprobs,
		TopLogprobs:       req.TopLogprobs,
		N:                 req.N,
		Stop:              req.Stop,
		Temperature:       req.Temperature,
		TopP:              req.TopP,
		PresencePenalty:   req.PresencePenalty,
		FrequencyPenalty:  req.FrequencyPenalty,
		Seed:              req.Seed,
		User:              req.User,
	}
	if w.Model == "" {
		w.Model = req.Model
	}
	if stream {
		w.Stream = true
		if p.opts.streamUsage() {
			w.StreamOptions = &streamOptions{IncludeUsage: true}
		}
	}
	if p.opts.MaxTokensField == FieldMaxCompletionTokens {
		w.MaxCompletionTokens = req.MaxTokens
	} else {
		w.MaxTokens = req.MaxTokens
	}
	if p.opts.SendMetadata {
		w.Metadata = req.Metadata
	}
	for i, m := range req.Messages {
		wm, err := encodeMessage(m)
		if err != nil {
			err.Param = conf.Index("messages", i) + err.Param
			err.Model = p.model
			return nil, err
		}
		w.Messages = append(w.Messages, wm)
	}
	for _, t := range req.Tools {
		w.Tools = append(w.Tools, tool{
			Type: cmp.Or(t.Type, "function"),
			Function: functionDef{
				Name:        t.Function.Name,
				Description: t.Function.Description,
				Parameters:  t.Function.Parameters,
				Strict:      t.Function.Strict,
			},
		})
	}
	if rf := req.ResponseFormat; rf != nil {
		w.ResponseFormat = &responseFormat{Type: rf.Type, JSONSchema: rf.JSONSchema}
	}
	b, err := json.Marshal(&w)
	if err != nil {
		// Only the raw JSON the client passed through (tool_choice, tool
		// parameters, json_schema) can fail to encode.
		e := llm.Errorf("", "the request holds invalid JSON: %v", err)
		e.Model = p.model
		return nil, e
	}
	return b, nil
}

// encodeMessage translates one message. A returned error's Param is
// relative to the message (".content[2].type").
func encodeMessage(m llm.Message) (message, *llm.Error) {
	wm := message{Role: m.Role, Name: m.Name, ToolCallID: m.ToolCallID, Refusal: m.Refusal}
	for _, tc := range m.ToolCalls {
		wm.ToolCalls = append(wm.ToolCalls, toolCall{
			ID:       tc.ID,
			Type:     cmp.Or(tc.Type, "function"),
			Function: functionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments},
		})
	}
	switch {
	case len(m.Parts) > 0:
		parts := make([]contentPart, 0, len(m.Parts))
		for j, part := range m.Parts {
			switch part.Type {
			case "text":
				parts = append(parts, contentPart{Type: "text", Text: &part.Text})
			case "image_url":
				parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: part.ImageURL, Detail: part.Detail}})
			default:
				return message{}, llm.Errorf(fmt.Sprintf(".content[%d].type", j),
					"content part type %q is not supported by this model", part.Type)
			}
		}
		wm.Content, _ = json.Marshal(parts)
	case m.Content == "" && m.Role == llm.RoleAssistant && (len(m.ToolCalls) > 0 || m.Refusal != ""):
		wm.Content = json.RawMessage("null")
	default:
		wm.Content, _ = json.Marshal(m.Content)
	}
	return wm, nil
}

type chatResponse struct {
	ID                string      `json:"id"`
	Created           int64       `json:"created"`
	Model             string      `json:"model"`
	Choices           []choice    `json:"choices"`
	Usage             *usage      `json:"usage"`
	SystemFingerprint string      `json:"system_fingerprint"`
	Error             *errorBody  `json:"error"`
	XGroq             *groqExtras `json:"x_groq"`
}

type choice struct {
	Index        int             `json:"index"`
	Message      responseMessage `json:"message"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     *logprobs       `json:"logprobs"`
}

type responseMessage struct {
	Role string `json:"role"`
	// Content is a string or null; a few compatible servers send an array
	// of parts, whose text parts are joined.
	Content   json.RawMessage `json:"content"`
	Refusal   *string         `json:"refusal"`
	ToolCalls []toolCall      `json:"tool_calls"`
}

type logprobs struct {
	Content []tokenLogprob `json:"content"`
	Refusal []tokenLogprob `json:"refusal"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// PromptCacheHitTokens is DeepSeek's name for cached prompt tokens.
	PromptCacheHitTokens int `json:"prompt_cache_hit_tokens"`
}

// groqExtras is where older Groq servers put a stream's usage.
type groqExtras struct {
	Usage *usage `json:"usage"`
}

type chunk struct {
	ID                string        `json:"id"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usage        `json:"usage"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Error             *errorBody    `json:"error"`
	XGroq             *groqExtras   `json:"x_groq"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        delta     `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *logprobs `json:"logprobs"`
}

type delta struct {
	Role      string          `json:"role"`
	Content   *string         `json:"content"`
	Refusal   *string         `json:"refusal"`
	ToolCalls []toolCallDelta `json:"tool_calls"`
}

type toolCallDelta struct {
	Index    int          `json:"index"`
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

func (r *chatResponse) llm() *llm.Response {
	out := &llm.Response{
		ID:                r.ID,
		Created:           r.Created,
		Model:             r.Model,
		Choices:           make([]llm.Choice, 0, len(r.Choices)),
		SystemFingerprint: r.SystemFingerprint,
	}
	for _, c := range r.Choices {
		msg := llm.Message{
			Role:    cmp.Or(c.Message.Role, llm.RoleAssistant),
			Content: contentText(c.Message.Content),
			Refusal: deref(c.Message.Refusal),
		}
		for _, tc := range c.Message.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{
				ID:       tc.ID,
				Type:     cmp.Or(tc.Type, "function"),
				Function: llm.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments},
			})
		}
		out.Choices = append(out.Choices, llm.Choice{
			Index:        c.Index,
			Message:      msg,
			FinishReason: deref(c.FinishReason),
			Logprobs:     c.Logprobs.llm(),
		})
	}
	u := r.Usage
	if u == nil && r.XGroq != nil {
		u = r.XGroq.Usage
	}
	if u != nil {
		out.Usage = u.llm()
	}
	return out
}

func (c *chunk) llm() *llm.Chunk {
	out := &llm.Chunk{
		ID:                c.ID,
		Created:           c.Created,
		Model:             c.Model,
		Choices:           make([]llm.ChunkChoice, 0, len(c.Choices)),
		SystemFingerprint: c.SystemFingerprint,
	}
	for _, ch := range c.Choices {
		d := llm.Delta{Role: ch.Delta.Role, Content: deref(ch.Delta.Content), Refusal: deref(ch.Delta.Refusal)}
		for _, tc := range ch.Delta.ToolCalls {
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{
				Index:    tc.Index,
				ID:       tc.ID,
				Type:     tc.Type,
				Function: llm.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments},
			})
		}
		out.Choices = append(out.Choices, llm.ChunkChoice{
			Index:        ch.Index,
			Delta:        d,
			FinishReason: deref(ch.FinishReason),
			Logprobs:     ch.Logprobs.llm(),
		})
	}
	u := c.Usage
	if u == nil && c.XGroq != nil {
		u = c.XGroq.Usage
	}
	if u != nil {
		lu := u.llm()
		out.Usage = &lu
	}
	return out
}

func (u *usage) llm() llm.Usage {
	out := llm.Usage{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		TotalTokens:      u.TotalTokens,
		CachedTokens:     u.PromptCacheHitTokens,
	}
	if u.PromptTokensDetails != nil && u.PromptTokensDetails.CachedTokens > 0 {
		out.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	return out
}

func (l *logprobs) llm() *llm.Logprobs {
	if l == nil {
		return nil
	}
	return &llm.Logprobs{Content: tokenLogprobs(l.Content), Refusal: tokenLogprobs(l.Refusal)}
}

func tokenLogprobs(in []tokenLogprob) []llm.TokenLogprob {
	if in == nil {
		return nil
	}
	out := make([]llm.TokenLogprob, len(in))
	for i, t := range in {
		top := make([]llm.TopLogprob, len(t.TopLogprobs))
		for j, tt := range t.TopLogprobs {
			top[j] = llm.TopLogprob{Token: tt.Token, Logprob: tt.Logprob, Bytes: tt.Bytes}
		}
		out[i] = llm.TokenLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: t.Bytes, TopLogprobs: top}
	}
	return out
}

// contentText reads a response message's content: a string, null, or an
// array of parts whose text parts are joined.
func contentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
