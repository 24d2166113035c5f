package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// The request and response shapes of POST /v1/messages, as Anthropic
// documents them. Only fields Sextant reads or writes are declared; unknown
// response fields and content block types are ignored so that additions to
// the API do not break decoding.

type messagesRequest struct {
	Model         string      `json:"model"`
	MaxTokens     int         `json:"max_tokens"`
	System        []block     `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
}

type message struct {
	Role    string  `json:"role"` // "user" or "assistant"
	Content []block `json:"content"`
}

// block is a request content block: text, image, tool_use or tool_result.
type block struct {
	Type   string       `json:"type"`
	Text   string       `json:"text,omitempty"`   // text
	Source *imageSource `json:"source,omitempty"` // image
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result: Content is a string or an array of text and image
	// blocks.
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
}

// imageSource is {"type": "base64", "media_type", "data"} or
// {"type": "url", "url"}.
type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// toolChoice is {"type": "auto"|"any"|"none"} or {"type": "tool", "name"}.
type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

// imageTypes are the media types the Messages API accepts for images.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// emptySchema stands in for a tool declared without parameters; the
// Messages API requires an object schema.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// encodeRequest translates req into the wire request. It fails with a
// ClassUnsupported *llm.Error for what the Messages API cannot do and a
// caller-fault *llm.Error for content that is malformed.
func (p *Provider) encodeRequest(req *llm.Request, stream bool) ([]byte, error) {
	if err := p.checkSupported(req); err != nil {
		return nil, err
	}
	w := messagesRequest{
		Model:     p.upstream,
		MaxTokens: p.opts.DefaultMaxTokens,
		Messages:  make([]message, 0, len(req.Messages)),
		TopP:      req.TopP,
		Stream:    stream,
	}
	if w.Model == "" {
		w.Model = req.Model
	}
	if req.MaxTokens != nil {
		if *req.MaxTokens < 1 {
			return nil, p.callerError("max_tokens", "max_tokens must be at least 1, not %d", *req.MaxTokens)
		}
		w.MaxTokens = *req.MaxTokens
	}
	if t := req.Temperature; t != nil {
		// The Messages API takes 0..1 where OpenAI takes 0..2; above 1 the
		// closest the model can come is 1.
		w.Temperature = t
		if *t > 1 {
			one := 1.0
			w.Temperature = &one
		}
		// Recent models reject temperature and top_p together, and
		// Anthropic advises changing only one; temperature wins.
		w.TopP = nil
	}
	for _, s := range req.Stop {
		if s != "" { // an empty stop sequence stops nothing
			w.StopSequences = append(w.StopSequences, s)
		}
	}
	if req.User != "" {
		w.Metadata = &metadata{UserID: req.User}
	}
	for i, m := range req.Messages {
		if err := p.encodeMessage(&w, m, conf.Index("messages", i)); err != nil {
			return nil, err
		}
	}
	for _, t := range req.Tools {
		schema := t.Function.Parameters
		if s := bytes.TrimSpace(schema); len(s) == 0 || string(s) == "null" {
			schema = emptySchema
		}
		w.Tools = append(w.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	tc, err := p.toolChoice(req.ToolChoice, req.ParallelToolCalls)
	if err != nil {
		return nil, err
	}
	if len(w.Tools) > 0 {
		// Without tools a choice among them means nothing, and the
		// Messages API rejects it.
		w.ToolChoice = tc
	}
	b, merr := json.Marshal(&w)
	if merr != nil {
		// Only the raw JSON the client passed through (tool parameters)
		// can fail to encode.
		return nil, p.callerError("tools", "the request holds invalid JSON: %v", merr)
	}
	return b, nil
}

// checkSupported rejects parameters the Messages API has no equivalent
// for, so that a fallback can move on to a model that has them.
func (p *Provider) checkSupported(req *llm.Request) *llm.Error {
	switch {
	case req.N != nil && *req.N > 1:
		return p.unsupported("n", "this model cannot return more than one choice (n=%d)", *req.N)
	case req.Logprobs:
		return p.unsupported("logprobs", "this model does not return logprobs")
	case req.TopLogprobs != nil && *req.TopLogprobs > 0:
		return p.unsupported("top_logprobs", "this model does not return logprobs")
	case req.ResponseFormat != nil && req.ResponseFormat.Type != "" && req.ResponseFormat.Type != "text":
		return p.unsupported("response_format", "this model does not support response_format %q", req.ResponseFormat.Type)
	}
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return p.unsupported(conf.Join(conf.Index("tools", i), "type"), "tool type %q is not supported by this model", t.Type)
		}
	}
	for i, s := range req.Stop {
		if s != "" && strings.TrimSpace(s) == "" {
			return p.unsupported(conf.Index("stop", i), "this model does not support stop sequences made only of whitespace (%q)", s)
		}
	}
	return nil
}

// encodeMessage appends m to w: system and developer messages to the
// top-level system blocks, the rest as user or assistant turns. A turn with
// the same role as the one before it is merged into it, as the Messages API
// requires the roles to alternate; tool results become user turns.
func (p *Provider) encodeMessage(w *messagesRequest, m llm.Message, param string) *llm.Error {
	var (
		role   string
		blocks []block
		err    *llm.Error
	)
	switch m.Role {
	case llm.RoleSystem, llm.RoleDeveloper:
		blocks, err = p.systemBlocks(m, param)
		w.System = append(w.System, blocks...)
		return err
	case llm.RoleUser:
		role = "user"
		blocks, err = p.contentBlocks(m, param)
	case llm.RoleAssistant:
		role = "assistant"
		blocks, err = p.assistantBlocks(m, param)
	case llm.RoleTool:
		role = "user"
		blocks, err = p.toolResult(m, param)
	default:
		return p.callerError(conf.Join(param, "role"), "unknown role %q", m.Role)
	}
	if err != nil || len(blocks) == 0 {
		// A turn with nothing in it (empty text) is dropped: the Messages
		// API rejects empty content.
		return err
	}
	if n := len(w.Messages); n > 0 && w.Messages[n-1].Role == role {
		w.Messages[n-1].Content = append(w.Messages[n-1].Content, blocks...)
		return nil
	}
	w.Messages = append(w.Messages, message{Role: role, Content: blocks})
	return nil
}

func (p *Provider) systemBlocks(m llm.Message, param string) ([]block, *llm.Error) {
	if len(m.Parts) == 0 {
		if m.Content == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: m.Content}}, nil
	}
	var out []block
	for j, part := range m.Parts {
		if part.Type != "text" {
			return nil, p.callerError(fmt.Sprintf("%s.content[%d].type", param, j),
				"a %s message may hold only text, not %q", m.Role, part.Type)
		}
		if part.Text != "" {
			out = append(out, block{Type: "text", Text: part.Text})
		}
	}
	return out, nil
}

// contentBlocks translates a message's text and images.
func (p *Provider) contentBlocks(m llm.Message, param string) ([]block, *llm.Error) {
	if len(m.Parts) == 0 {
		if m.Content == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: m.Content}}, nil
	}
	out := make([]block, 0, len(m.Parts))
	for j, part := range m.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch part.Type {
		case "text":
			if part.Text != "" {
				out = append(out, block{Type: "text", Text: part.Text})
			}
		case "image_url":
			src, err := p.imageSource(part.ImageURL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, block{Type: "image", Source: src})
		default:
			return nil, p.unsupported(pp+".type", "content part type %q is not supported by this model", part.Type)
		}
	}
	return out, nil
}

// imageSource translates an image URL: a base64 data URL to a base64
// source, an http(s) URL to a url source.
func (p *Provider) imageSource(u, param string) (*imageSource, *llm.Error) {
	lower := strings.ToLower(u)
	switch {
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		return &imageSource{Type: "url", URL: u}, nil
	case !strings.HasPrefix(lower, "data:"):
		return nil, p.callerError(param, "an image must be an http(s) URL or a base64 data URL")
	}
	meta, data, ok := strings.Cut(u[len("data:"):], ",")
	params := strings.Split(meta, ";")
	mediaType := strings.ToLower(strings.TrimSpace(params[0]))
	if !ok || data == "" || len(params) < 2 || !strings.EqualFold(params[len(params)-1], "base64") {
		return nil, p.callerError(param, "an image data URL must be base64-encoded (data:<type>;base64,<data>)")
	}
	if !imageTypes[mediaType] {
		return nil, p.unsupported(param, "image type %q is not supported by this model (jpeg, png, gif and webp are)", mediaType)
	}
	return &imageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
}

// assistantBlocks translates an assistant turn: its text (or refusal),
// then a tool_use block per tool call.
func (p *Provider) assistantBlocks(m llm.Message, param string) ([]block, *llm.Error) {
	out, err := p.contentBlocks(m, param)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && m.Refusal != "" {
		out = append(out, block{Type: "text", Text: m.Refusal})
	}
	for j, tc := range m.ToolCalls {
		tp := fmt.Sprintf("%s.tool_calls[%d]", param, j)
		if tc.ID == "" {
			return nil, p.callerError(tp+".id", "a tool call needs an id")
		}
		input, ok := jsonObject(tc.Function.Arguments)
		if !ok {
			return nil, p.callerError(tp+".function.arguments", "the arguments of tool call %q are not a JSON object", tc.ID)
		}
		out = append(out, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

// jsonObject returns args as compact JSON if it is an object; empty
// arguments read as {}.
func jsonObject(args string) (json.RawMessage, bool) {
	s := strings.TrimSpace(args)
	if s == "" {
		return json.RawMessage("{}"), true
	}
	if s[0] != '{' || !json.Valid([]byte(s)) {
		return nil, false
	}
	var b bytes.Buffer
	json.Compact(&b, []byte(s)) // cannot fail on valid JSON
	return b.Bytes(), true
}

// toolResult translates a tool message to a tool_result block for the
// tool_use block with its ToolCallID.
func (p *Provider) toolResult(m llm.Message, param string) ([]block, *llm.Error) {
	if m.ToolCallID == "" {
		return nil, p.callerError(conf.Join(param, "tool_call_id"), "a tool message needs a tool_call_id")
	}
	b := block{Type: "tool_result", ToolUseID: m.ToolCallID}
	switch {
	case len(m.Parts) > 0:
		parts, err := p.contentBlocks(m, param)
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 {
			b.Content, _ = json.Marshal(parts)
		}
	case m.Content != "":
		b.Content, _ = json.Marshal(m.Content)
	}
	return []block{b}, nil
}

// toolChoice translates an OpenAI tool_choice ("auto", "none",
// "required", or {"type": "function", "function": {"name"}}) and
// parallel_tool_calls.
func (p *Provider) toolChoice(raw json.RawMessage, parallel *bool) (*toolChoice, *llm.Error) {
	var tc *toolChoice
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, p.callerError("tool_choice", "tool_choice is not valid JSON")
		}
		switch s {
		case "auto":
			tc = &toolChoice{Type: "auto"}
		case "none":
			tc = &toolChoice{Type: "none"}
		case "required":
			tc = &toolChoice{Type: "any"}
		default:
			return nil, p.callerError("tool_choice", "tool_choice %q is not one of auto, none or required", s)
		}
	default:
		var obj struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return nil, p.callerError("tool_choice", "tool_choice is not a string or a tool choice object")
		}
		if obj.Type != "function" {
			return nil, p.unsupported("tool_choice.type", "tool_choice type %q is not supported by this model", obj.Type)
		}
		if obj.Function.Name == "" {
			return nil, p.callerError("tool_choice.function.name", "tool_choice names no function")
		}
		tc = &toolChoice{Type: "tool", Name: obj.Function.Name}
	}
	if parallel != nil && !*parallel {
		if tc == nil {
			tc = &toolChoice{Type: "auto"}
		}
		tc.DisableParallelToolUse = tc.Type != "none"
	}
	return tc, nil
}

// callerError is a 400 invalid_request_error for param: the request is
// malformed for any model.
func (p *Provider) callerError(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(param, format, args...)
	e.Model = p.model
	return e
}

// messageResponse is a Message, and the "message" of a message_start
// event. Error is set instead when a 2xx body holds an error object.
type messageResponse struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Role       string          `json:"role"`
	Model      string          `json:"model"`
	Content    []responseBlock `json:"content"`
	StopReason *string         `json:"stop_reason"`
	Usage      *usage          `json:"usage"`
	Error      *errorBody      `json:"error"`
}

// responseBlock is a response content block. Only text and tool_use are
// read; thinking, redacted_thinking and server tool blocks are skipped.
type responseBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// usage is a Message's usage, or a message_delta's cumulative counts, in
// which any member may be absent or null.
type usage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
	OutputTokensDetails      *struct {
		ThinkingTokens *int `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// tokens accumulates usage. Every count Anthropic sends is a whole-message
// total, so a later report replaces an earlier one rather than adding to it.
type tokens struct {
	input, output, cacheRead, cacheWrite, thinking int
}

func (t *tokens) merge(u *usage) {
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = max(*v, 0)
		}
	}
	set(&t.input, u.InputTokens)
	set(&t.output, u.OutputTokens)
	set(&t.cacheRead, u.CacheReadInputTokens)
	set(&t.cacheWrite, u.CacheCreationInputTokens)
	if d := u.OutputTokensDetails; d != nil {
		set(&t.thinking, d.ThinkingTokens)
	}
}

// llm converts to the normalized usage. Anthropic's input_tokens counts
// only the uncached input, so the prompt is the sum of the three input
// counts; cache reads are the cached tokens and cache writes the
// cache-write tokens, each charged at its own price.
func (t tokens) llm() llm.Usage {
	prompt := t.input + t.cacheRead + t.cacheWrite
	return llm.Usage{
		PromptTokens:     prompt,
		CompletionTokens: t.output,
		TotalTokens:      prompt + t.output,
		CachedTokens:     t.cacheRead,
		CacheWriteTokens: t.cacheWrite,
		ReasoningTokens:  t.thinking,
	}
}

func (r *messageResponse) llm(created int64) *llm.Response {
	msg := llm.Message{Role: llm.RoleAssistant}
	var text strings.Builder
	for _, b := range r.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{
				ID:       b.ID,
				Type:     "function",
				Function: llm.FunctionCall{Name: b.Name, Arguments: toolArguments(b.Input)},
			})
		}
	}
	msg.Content = text.String()
	out := &llm.Response{
		ID:      r.ID,
		Created: created,
		Model:   r.Model,
		Choices: []llm.Choice{{Index: 0, Message: msg, FinishReason: finishReason(r.StopReason)}},
	}
	if r.Usage != nil {
		var t tokens
		t.merge(r.Usage)
		out.Usage = t.llm()
	}
	return out
}

// toolArguments renders a tool_use input as compact JSON text; a missing
// or null input reads as {}.
func toolArguments(input json.RawMessage) string {
	input = bytes.TrimSpace(input)
	if len(input) == 0 || string(input) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, input) != nil {
		return string(input)
	}
	return b.String()
}

// finishReason maps a stop_reason onto the OpenAI vocabulary. pause_turn
// (a long server-tool turn the caller may continue) reads as stop; a
// reason this adapter does not know reads as stop too, since the message
// is complete; null stays "".
func finishReason(s *string) string {
	if s == nil {
		return ""
	}
	switch *s {
	case "max_tokens", "model_context_window_exceeded":
		return llm.FinishLength
	case "tool_use":
		return llm.FinishToolCalls
	case "refusal":
		return llm.FinishContentFilter
	}
	return llm.FinishStop // end_turn, stop_sequence, pause_turn, and any new reason
}
