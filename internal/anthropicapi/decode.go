package anthropicapi

import (
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// maxNameLen is the longest tool name Anthropic documents
// (^[a-zA-Z0-9_-]{1,64}$), which is also OpenAI's limit.
const maxNameLen = 64

// decodeOptions spell out the strictness DecodeMessagesRequest relies on,
// so a change of the json package's defaults cannot loosen it: duplicate
// member names and invalid UTF-8 are errors, member names match
// case-sensitively, and unknown members are skipped.
var decodeOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	json.MatchCaseInsensitiveNames(false),
	json.RejectUnknownMembers(false),
)

// Content block types.
const (
	blockText             = "text"
	blockImage            = "image"
	blockToolUse          = "tool_use"
	blockToolResult       = "tool_result"
	blockThinking         = "thinking"
	blockRedactedThinking = "redacted_thinking"
	blockDocument         = "document"
)

// unsupportedBlocks are block types Anthropic accepts that the normalized
// request cannot carry: documents and search results need a model that
// reads them natively, and the rest belong to server tools that Sextant
// does not run.
var unsupportedBlocks = map[string]string{
	blockDocument:                            "document blocks",
	"search_result":                          "search_result blocks",
	"container_upload":                       "container_upload blocks",
	"server_tool_use":                        "server tool blocks",
	"web_search_tool_result":                 "server tool blocks",
	"web_fetch_tool_result":                  "server tool blocks",
	"code_execution_tool_result":             "server tool blocks",
	"bash_code_execution_tool_result":        "server tool blocks",
	"text_editor_code_execution_tool_result": "server tool blocks",
	"tool_search_tool_result":                "server tool blocks",
	"mcp_tool_use":                           "MCP tool blocks",
	"mcp_tool_result":                        "MCP tool blocks",
	"tool_reference":                         "tool_reference blocks",
	"browser_state":                          "browser_state blocks",
}

// imageMediaTypes are the media types Anthropic accepts for base64 images.
var imageMediaTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// toolErrorPrefix starts the content of a tool message whose tool_result
// had is_error set, since the normalized tool message has no error flag.
const toolErrorPrefix = "Error: "

// DecodeMessagesRequest decodes the body of POST /v1/messages into a
// normalized request.
//
// On success the request has a non-empty Model, MaxTokens of at least 1
// and at least one message, and every parameter is within Anthropic's
// documented range. On failure the error is always an *llm.Error with
// Status 400, Type invalid_request_error, Class caller, a Code from this
// package's Code constants and Param set to the offending parameter path
// in Anthropic's style ("messages.2.content.0.source.data", "max_tokens";
// empty when the fault is the body as a whole). The message starts with
// the same path.
//
// The body must be exactly one JSON object: trailing data, invalid UTF-8 and
// an object that names a member twice (at any depth, including inside tool
// input schemas and tool_use inputs) are rejected. Unknown members are
// ignored at every level. See the package documentation for how each part
// of the request maps onto llm.Request.
//
// DecodeMessagesRequest does not retain body; the caller may reuse it.
func DecodeMessagesRequest(body []byte) (*llm.Request, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w, decodeOptions); err != nil {
		return nil, jsonError(err, "", body)
	}
	if jsontext.Value(body).Kind() != '{' {
		// Decoding null into a struct succeeds; the body must be an object.
		return nil, invalid(CodeInvalidType, "", "The request body must be a JSON object, but got null")
	}
	r, e := w.request()
	if e != nil {
		return nil, e
	}
	return r, nil
}

// request checks w and maps it onto an llm.Request.
func (w *wireRequest) request() (*llm.Request, *llm.Error) {
	switch {
	case w.Model == "":
		return nil, missing("model")
	case w.MaxTokens == nil:
		return nil, missing("max_tokens")
	case *w.MaxTokens < 1:
		return nil, invalid(CodeInvalidValue, "max_tokens", "Input should be greater than or equal to 1, but got %d", *w.MaxTokens)
	case w.Messages == nil:
		return nil, missing("messages")
	case len(w.Messages) == 0:
		return nil, emptyArray("messages")
	}

	maxTokens := int(*w.MaxTokens)
	r := &llm.Request{
		Model:        w.Model,
		Messages:     make([]llm.Message, 0, len(w.Messages)+1),
		Stream:       w.Stream,
		IncludeUsage: w.Stream, // every Anthropic stream reports usage
		MaxTokens:    &maxTokens,
		Temperature:  w.Temperature,
		TopP:         w.TopP,
	}
	var e *llm.Error
	if r.Messages, e = decodeSystem(&w.System, r.Messages); e != nil {
		return nil, e
	}
	for i, m := range w.Messages {
		if r.Messages, e = decodeMessage(i, m, r.Messages); e != nil {
			return nil, e
		}
	}
	if e := firstError(
		floatRange("temperature", w.Temperature, 0, 1),
		floatRange("top_p", w.TopP, 0, 1),
		intMin("top_k", w.TopK, 0),
	); e != nil {
		return nil, e
	}
	for i, s := range w.StopSequences {
		if s == "" {
			return nil, invalid(CodeInvalidValue, "stop_sequences."+strconv.Itoa(i), "Stop sequences must be non-empty strings")
		}
	}
	if len(w.StopSequences) > 0 {
		r.Stop = w.StopSequences
	}
	if r.Tools, e = decodeTools(w.Tools); e != nil {
		return nil, e
	}
	if r.ToolChoice, r.ParallelToolCalls, e = decodeToolChoice(w.ToolChoice, r.Tools); e != nil {
		return nil, e
	}
	if w.Metadata != nil && w.Metadata.UserID != nil {
		r.User = *w.Metadata.UserID
	}
	return r, nil
}

func firstError(errs ...*llm.Error) *llm.Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// floatRange checks lo <= *v <= hi when v is set.
func floatRange(param string, v *float64, lo, hi float64) *llm.Error {
	switch {
	case v == nil || (*v >= lo && *v <= hi):
		return nil
	case *v < lo:
		return invalid(CodeInvalidValue, param, "Input should be greater than or equal to %g, but got %g", lo, *v)
	}
	return invalid(CodeInvalidValue, param, "Input should be less than or equal to %g, but got %g", hi, *v)
}

// intMin checks lo <= *v when v is set.
func intMin(param string, v *jsonInt, lo int) *llm.Error {
	if v == nil || int(*v) >= lo {
		return nil
	}
	return invalid(CodeInvalidValue, param, "Input should be greater than or equal to %d, but got %d", lo, *v)
}

// decodeSystem appends the system prompt, if any, to out as one system
// message. A string is its content; text blocks are concatenated into
// Content and kept as Parts. An empty string or array adds nothing.
func decodeSystem(c *wireContent, out []llm.Message) ([]llm.Message, *llm.Error) {
	const p = "system"
	switch c.kind {
	case '"':
		if c.text != "" {
			out = append(out, llm.Message{Role: llm.RoleSystem, Content: c.text})
		}
	case '[':
		m := llm.Message{Role: llm.RoleSystem}
		for j, b := range c.blocks {
			bp := p + "." + strconv.Itoa(j)
			if e := checkBlockType(bp, b, llm.RoleSystem, blockText); e != nil {
				return nil, e
			}
			if e := addText(bp, b, &m); e != nil {
				return nil, e
			}
		}
		if len(m.Parts) > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

// decodeMessage appends the llm messages of messages[i] to out: usually
// one, but the tool_result blocks of a user message each become a tool
// message of their own, placed before the user message that holds the
// message's other blocks (which is left out when there are none).
func decodeMessage(i int, m *wireMessage, out []llm.Message) ([]llm.Message, *llm.Error) {
	p := "messages." + strconv.Itoa(i)
	if m == nil {
		return nil, wrongType(p, "an object", "null")
	}
	switch m.Role {
	case llm.RoleUser, llm.RoleAssistant, llm.RoleSystem:
	case "":
		return nil, missing(p + ".role")
	default:
		return nil, invalid(CodeInvalidValue, p+".role", "Input should be 'user' or 'assistant', but got %s", jsonname.Quote(m.Role))
	}
	cp := p + ".content"
	switch m.Content.kind {
	case '"':
		return append(out, llm.Message{Role: m.Role, Content: m.Content.text}), nil
	case '[':
	case 'n':
		return nil, wrongType(cp, "a string or an array of content blocks", "null")
	default:
		return nil, missing(cp)
	}
	if len(m.Content.blocks) == 0 {
		return nil, emptyArray(cp)
	}

	msg := llm.Message{Role: m.Role}
	var tools []llm.Message
	for j, b := range m.Content.blocks {
		bp := cp + "." + strconv.Itoa(j)
		var e *llm.Error
		switch m.Role {
		case llm.RoleUser:
			if e = checkBlockType(bp, b, m.Role, blockText, blockImage, blockToolResult); e != nil {
				return nil, e
			}
			switch b.Type {
			case blockText:
				e = addText(bp, b, &msg)
			case blockImage:
				e = addImage(bp, b, &msg)
			case blockToolResult:
				var t llm.Message
				t, e = toolResult(bp, b)
				tools = append(tools, t)
			}
		case llm.RoleAssistant:
			if e = checkBlockType(bp, b, m.Role, blockText, blockToolUse, blockThinking, blockRedactedThinking); e != nil {
				return nil, e
			}
			switch b.Type {
			case blockText:
				e = addText(bp, b, &msg)
			case blockToolUse:
				e = addToolUse(bp, b, &msg)
			}
			// Thinking blocks are dropped: no upstream accepts another
			// model's reasoning back, and their signatures are Anthropic's.
		default: // system
			if e = checkBlockType(bp, b, m.Role, blockText); e == nil {
				e = addText(bp, b, &msg)
			}
		}
		if e != nil {
			return nil, e
		}
	}
	out = append(out, tools...)
	if len(tools) == 0 || len(msg.Parts) > 0 {
		out = append(out, msg)
	}
	return out, nil
}

// checkBlockType checks that b is a block of one of the allowed types for
// role.
func checkBlockType(bp string, b *wireBlock, role string, allowed ...string) *llm.Error {
	if b == nil {
		return wrongType(bp, "an object", "null")
	}
	tp := bp + ".type"
	switch {
	case slices.Contains(allowed, b.Type):
		return nil
	case b.Type == "":
		return missing(tp)
	}
	if what, ok := unsupportedBlocks[b.Type]; ok {
		return invalid(CodeUnsupportedValue, tp, "%s are not supported by this gateway", what)
	}
	switch b.Type {
	case blockText, blockImage, blockToolUse, blockToolResult, blockThinking, blockRedactedThinking:
		return invalid(CodeInvalidValue, tp, "%s blocks are not allowed in %s content", b.Type, role)
	}
	return invalid(CodeInvalidValue, tp, "Input tag %s does not match any of the expected tags: %s",
		jsonname.Quote(b.Type), "'"+strings.Join(allowed, "', '")+"'")
}

// addText appends a text block to m: its text to m.Content and a text part
// to m.Parts.
func addText(bp string, b *wireBlock, m *llm.Message) *llm.Error {
	if b.Text == nil {
		return missing(bp + ".text")
	}
	m.Content += *b.Text
	m.Parts = append(m.Parts, llm.ContentPart{Type: "text", Text: *b.Text})
	return nil
}

// addImage appends an image block to m.Parts as an image_url part: a data
// URL for a base64 source, the URL itself for a url source.
func addImage(bp string, b *wireBlock, m *llm.Message) *llm.Error {
	sp := bp + ".source"
	switch k := b.Source.Kind(); {
	case len(b.Source) == 0:
		return missing(sp)
	case k != '{':
		return wrongType(sp, "an object", jsonname.Kind(k))
	}
	var s wireImageSource
	if err := json.Unmarshal(b.Source, &s, decodeOptions); err != nil {
		return jsonError(err, sp, b.Source)
	}
	var url string
	switch s.Type {
	case "base64":
		switch {
		case s.MediaType == "":
			return missing(sp + ".media_type")
		case !slices.Contains(imageMediaTypes, s.MediaType):
			return invalid(CodeInvalidValue, sp+".media_type", "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp', but got %s", jsonname.Quote(s.MediaType))
		case s.Data == "":
			return missing(sp + ".data")
		}
		url = "data:" + s.MediaType + ";base64," + s.Data
	case "url":
		if s.URL == "" {
			return missing(sp + ".url")
		}
		url = s.URL
	case "file":
		return invalid(CodeUnsupportedValue, sp+".type", "Images from the Files API are not supported by this gateway; send base64 data or a URL")
	case "":
		return missing(sp + ".type")
	default:
		return invalid(CodeInvalidValue, sp+".type", "Input tag %s does not match any of the expected tags: 'base64', 'url'", jsonname.Quote(s.Type))
	}
	m.Parts = append(m.Parts, llm.ContentPart{Type: "image_url", ImageURL: url})
	return nil
}

// addToolUse appends an assistant's tool_use block to m.ToolCalls, with its
// input as compact JSON text.
func addToolUse(bp string, b *wireBlock, m *llm.Message) *llm.Error {
	switch {
	case b.ID == "":
		return missing(bp + ".id")
	case b.Name == "":
		return missing(bp + ".name")
	}
	ip := bp + ".input"
	switch k := b.Input.Kind(); {
	case len(b.Input) == 0:
		return missing(ip)
	case k != '{':
		return wrongType(ip, "an object", jsonname.Kind(k))
	}
	args := b.Input.Clone()
	if err := args.Compact(); err != nil {
		return jsonError(err, ip, b.Input) // unreachable: the decoder checked it
	}
	m.ToolCalls = append(m.ToolCalls, llm.ToolCall{ID: b.ID, Type: "function",
		Function: llm.FunctionCall{Name: b.Name, Arguments: string(args)}})
	return nil
}

// toolResult returns the tool message of a user's tool_result block. Its
// content is the block's string content, or the concatenation of its text
// blocks (also kept as Parts); is_error adds toolErrorPrefix.
func toolResult(bp string, b *wireBlock) (llm.Message, *llm.Error) {
	t := llm.Message{Role: llm.RoleTool, ToolCallID: b.ToolUseID}
	if b.ToolUseID == "" {
		return t, missing(bp + ".tool_use_id")
	}
	cp := bp + ".content"
	switch k := b.Content.Kind(); {
	case len(b.Content) == 0 || k == 'n':
	case k == '"':
		if err := json.Unmarshal(b.Content, &t.Content, decodeOptions); err != nil {
			return t, jsonError(err, cp, b.Content)
		}
	case k == '[':
		var blocks []*wireBlock
		if err := json.Unmarshal(b.Content, &blocks, decodeOptions); err != nil {
			return t, jsonError(err, cp, b.Content)
		}
		for j, c := range blocks {
			p := cp + "." + strconv.Itoa(j)
			if c != nil && c.Type == blockImage {
				return t, invalid(CodeUnsupportedValue, p+".type", "Images in tool results are not supported by this gateway")
			}
			if e := checkBlockType(p, c, "tool_result", blockText); e != nil {
				return t, e
			}
			if e := addText(p, c, &t); e != nil {
				return t, e
			}
		}
	default:
		return t, wrongType(cp, "a string or an array of content blocks", jsonname.Kind(k))
	}
	if b.IsError != nil && *b.IsError {
		t.Content = toolErrorPrefix + t.Content
		if len(t.Parts) > 0 {
			t.Parts = append([]llm.ContentPart{{Type: "text", Text: toolErrorPrefix}}, t.Parts...)
		}
	}
	return t, nil
}

// decodeTools maps client tools onto llm tools. Server tools (a type other
// than "custom") are rejected: Sextant does not run them.
func decodeTools(tools []*wireTool) ([]llm.Tool, *llm.Error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make([]llm.Tool, len(tools))
	for i, t := range tools {
		tp := "tools." + strconv.Itoa(i)
		if t == nil {
			return nil, wrongType(tp, "an object", "null")
		}
		if t.Type != "" && t.Type != "custom" {
			return nil, invalid(CodeUnsupportedValue, tp+".type",
				"%s is an Anthropic server tool, which this gateway does not run; declare client tools with name, description and input_schema", jsonname.Quote(t.Type))
		}
		if e := checkName(tp+".name", t.Name); e != nil {
			return nil, e
		}
		for j := range i {
			if out[j].Function.Name == t.Name {
				return nil, invalid(CodeInvalidValue, tp+".name", "Tool names must be unique; %s is already the name of tools.%d", jsonname.Quote(t.Name), j)
			}
		}
		sp := tp + ".input_schema"
		switch k := t.InputSchema.Kind(); {
		case len(t.InputSchema) == 0 || k == 'n':
			return nil, missing(sp)
		case k != '{':
			return nil, wrongType(sp, "an object", jsonname.Kind(k))
		}
		out[i] = llm.Tool{Type: "function", Function: llm.FunctionDef{
			Name: t.Name, Description: t.Description, Parameters: []byte(t.InputSchema), Strict: t.Strict}}
	}
	return out, nil
}

// checkName enforces Anthropic's pattern for tool names,
// ^[a-zA-Z0-9_-]{1,64}$.
func checkName(param, name string) *llm.Error {
	if name == "" {
		return missing(param)
	}
	valid := len(name) <= maxNameLen
	for i := 0; valid && i < len(name); i++ {
		c := name[i]
		valid = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
	}
	if !valid {
		return invalid(CodeInvalidValue, param, "String should match pattern '^[a-zA-Z0-9_-]{1,64}$', but got %s", jsonname.Quote(name))
	}
	return nil
}

// decodeToolChoice returns tool_choice in llm.Request's canonical form
// ("auto", "required", "none" as JSON strings, or
// {"type":"function","function":{"name":...}}) and parallel_tool_calls:
// false when disable_parallel_tool_use is true, else unset.
func decodeToolChoice(c *wireToolChoice, tools []llm.Tool) ([]byte, *bool, *llm.Error) {
	const param = "tool_choice"
	if c == nil {
		return nil, nil, nil
	}
	var choice []byte
	switch c.Type {
	case "auto":
		choice = []byte(`"auto"`)
	case "none":
		choice = []byte(`"none"`)
	case "any":
		if len(tools) == 0 {
			return nil, nil, invalid(CodeParameterCombination, param+".type", "tool_choice 'any' needs at least one tool in 'tools'")
		}
		choice = []byte(`"required"`)
	case "tool":
		if c.Name == "" {
			return nil, nil, missing(param + ".name")
		}
		if !slices.ContainsFunc(tools, func(t llm.Tool) bool { return t.Function.Name == c.Name }) {
			return nil, nil, invalid(CodeInvalidValue, param+".name", "No tool named %s is declared in 'tools'", jsonname.Quote(c.Name))
		}
		choice = append([]byte(nil), `{"type":"function","function":{"name":`...)
		choice, _ = jsontext.AppendQuote(choice, c.Name) // valid: it matched a declared name
		choice = append(choice, "}}"...)
	case "":
		return nil, nil, missing(param + ".type")
	default:
		return nil, nil, invalid(CodeInvalidValue, param+".type",
			"Input tag %s does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", jsonname.Quote(c.Type))
	}
	var parallel *bool
	if c.DisableParallelToolUse != nil && *c.DisableParallelToolUse && c.Type != "none" {
		parallel = new(bool)
	}
	return choice, parallel, nil
}
