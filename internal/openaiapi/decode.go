package openaiapi

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// Limits of the request schema, as OpenAI documents them.
const (
	maxStop          = 4
	maxN             = 128
	maxTopLogprobs   = 20
	maxTools         = 128
	maxMetadataKeys  = 16
	maxMetadataKey   = 64  // characters
	maxMetadataValue = 512 // characters
	maxNameLen       = 64  // function and json_schema names
)

// decodeOptions spell out the strictness DecodeChatRequest relies on, so a
// change of the json package's defaults cannot loosen it: duplicate member
// names and invalid UTF-8 are errors, member names match case-sensitively,
// and unknown members are skipped.
var decodeOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	json.MatchCaseInsensitiveNames(false),
	json.RejectUnknownMembers(false),
)

// DecodeChatRequest decodes the body of POST /v1/chat/completions into a
// normalized request.
//
// On success the request has a non-empty Model and at least one message,
// and every parameter is within OpenAI's documented range. On failure the
// error is always an *llm.Error with Status 400, Type invalid_request_error,
// Class caller, a Code from this package's Code constants and Param set to
// the offending parameter path ("messages[2].content", "temperature"; empty
// when the fault is the body as a whole).
//
// The body must be exactly one JSON object: trailing data, invalid UTF-8 and
// an object that names a member twice (at any depth, including inside tool
// parameter schemas) are rejected. Unknown members are ignored at every
// level. See the package documentation for the choices made where OpenAI's
// API leaves room.
//
// DecodeChatRequest does not retain body; the caller may reuse it.
func DecodeChatRequest(body []byte) (*llm.Request, error) {
	var w wireRequest
	if err := json.Unmarshal(body, &w, decodeOptions); err != nil {
		return nil, jsonError(err, "", body)
	}
	if jsontext.Value(body).Kind() != '{' {
		// Decoding null into a struct succeeds; the body must be an object.
		return nil, invalid(CodeInvalidType, "", "The request body must be a JSON object, but got null instead.")
	}
	r, e := w.request()
	if e != nil {
		return nil, e
	}
	return r, nil
}

// request checks w and maps it onto an llm.Request.
func (w *wireRequest) request() (*llm.Request, *llm.Error) {
	if w.Model == "" {
		return nil, missing("model")
	}
	if w.Messages == nil {
		return nil, missing("messages")
	}
	if len(w.Messages) == 0 {
		return nil, emptyArray("messages")
	}
	if w.Functions.set {
		return nil, invalid(CodeUnsupportedParameter, "functions",
			"The deprecated 'functions' parameter is not supported; declare them in 'tools' as {\"type\": \"function\", \"function\": {...}}.")
	}
	if w.FunctionCall.set {
		return nil, invalid(CodeUnsupportedParameter, "function_call",
			"The deprecated 'function_call' parameter is not supported; use 'tool_choice'.")
	}

	r := &llm.Request{
		Model:             w.Model,
		Messages:          make([]llm.Message, len(w.Messages)),
		Stream:            w.Stream,
		ParallelToolCalls: w.ParallelToolCalls,
		Logprobs:          w.Logprobs,
		TopLogprobs:       (*int)(w.TopLogprobs),
		N:                 (*int)(w.N),
		Temperature:       w.Temperature,
		TopP:              w.TopP,
		PresencePenalty:   w.PresencePenalty,
		FrequencyPenalty:  w.FrequencyPenalty,
		Seed:              (*int64)(w.Seed),
		User:              w.User,
	}
	for i, m := range w.Messages {
		if e := decodeMessage(i, m, &r.Messages[i]); e != nil {
			return nil, e
		}
	}

	if e := firstError(
		floatRange("temperature", w.Temperature, 0, 2),
		floatRange("top_p", w.TopP, 0, 1),
		floatRange("presence_penalty", w.PresencePenalty, -2, 2),
		floatRange("frequency_penalty", w.FrequencyPenalty, -2, 2),
		intRange("n", r.N, 1, maxN),
		intRange("top_logprobs", r.TopLogprobs, 0, maxTopLogprobs),
		intRange("max_tokens", (*int)(w.MaxTokens), 1, -1),
		intRange("max_completion_tokens", (*int)(w.MaxCompletionTokens), 1, -1),
	); e != nil {
		return nil, e
	}
	if w.TopLogprobs != nil && !w.Logprobs {
		return nil, invalid(CodeParameterCombination, "top_logprobs",
			"Invalid value for 'top_logprobs': 'logprobs' must be true when 'top_logprobs' is set.")
	}
	switch mt, mct := w.MaxTokens, w.MaxCompletionTokens; {
	case mt != nil && mct != nil && *mt != *mct:
		return nil, invalid(CodeParameterCombination, "max_tokens",
			"'max_tokens' (%d) and 'max_completion_tokens' (%d) disagree; send only 'max_completion_tokens' ('max_tokens' is its deprecated alias).",
			*mt, *mct)
	case mct != nil:
		r.MaxTokens = (*int)(mct)
	default:
		r.MaxTokens = (*int)(mt)
	}

	var e *llm.Error
	if r.Stop, e = w.Stop.decode(); e != nil {
		return nil, e
	}
	if r.Tools, e = decodeTools(w.Tools); e != nil {
		return nil, e
	}
	if r.ToolChoice, e = w.ToolChoice.decode(r.Tools); e != nil {
		return nil, e
	}
	if r.ResponseFormat, e = decodeResponseFormat(w.ResponseFormat); e != nil {
		return nil, e
	}
	if w.StreamOptions != nil {
		if !w.Stream {
			return nil, invalid(CodeParameterCombination, "stream_options",
				"The 'stream_options' parameter is only allowed when 'stream' is true.")
		}
		r.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	if e := checkMetadata(w.Metadata); e != nil {
		return nil, e
	}
	if len(w.Metadata) > 0 {
		r.Metadata = w.Metadata
	}
	return r, nil
}

func emptyArray(param string) *llm.Error {
	return invalid(CodeEmptyArray, param,
		"Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", param)
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
	if v == nil || (*v >= lo && *v <= hi) {
		return nil
	}
	return invalid(CodeInvalidValue, param,
		"Invalid value for '%s': expected a number from %g to %g, but got %g instead.", param, lo, hi, *v)
}

// intRange checks lo <= *v <= hi when v is set; hi < lo means no upper
// bound.
func intRange(param string, v *int, lo, hi int) *llm.Error {
	switch {
	case v == nil || (*v >= lo && (hi < lo || *v <= hi)):
		return nil
	case hi < lo:
		return invalid(CodeInvalidValue, param,
			"Invalid value for '%s': expected an integer of at least %d, but got %d instead.", param, lo, *v)
	}
	return invalid(CodeInvalidValue, param,
		"Invalid value for '%s': expected an integer from %d to %d, but got %d instead.", param, lo, hi, *v)
}

// Content part types each role may send. OpenAI also accepts input_audio
// and file parts from users; Sextant's normalized message cannot carry
// them, so they are rejected as unsupported rather than dropped.
const (
	partText       = "text"
	partImageURL   = "image_url"
	partRefusal    = "refusal"
	partInputAudio = "input_audio"
	partFile       = "file"
)

func decodeMessage(i int, m *wireMessage, out *llm.Message) *llm.Error {
	p := "messages[" + strconv.Itoa(i) + "]"
	if m == nil {
		return wrongType(p, "an object", "null")
	}
	switch m.Role {
	case llm.RoleSystem, llm.RoleDeveloper, llm.RoleUser, llm.RoleAssistant, llm.RoleTool:
	case "":
		return missing(p + ".role")
	case "function":
		return invalid(CodeUnsupportedParameter, p+".role",
			"Role 'function' belongs to the deprecated function-calling API, which is not supported; send tool results as role 'tool' with a 'tool_call_id'.")
	default:
		return invalid(CodeInvalidValue, p+".role",
			"Invalid value for '%s.role': %s. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.", p, jsonname.Quote(m.Role))
	}
	if m.FunctionCall.set {
		return invalid(CodeUnsupportedParameter, p+".function_call",
			"The deprecated 'function_call' of assistant messages is not supported; use 'tool_calls'.")
	}
	*out = llm.Message{Role: m.Role, Name: m.Name}

	switch m.Role {
	case llm.RoleAssistant:
		out.Refusal = m.Refusal
		calls, e := decodeToolCalls(p+".tool_calls", m.ToolCalls)
		if e != nil {
			return e
		}
		out.ToolCalls = calls
	case llm.RoleTool:
		if m.ToolCallID == "" {
			return missing(p + ".tool_call_id")
		}
		out.ToolCallID = m.ToolCallID
	}
	if len(m.ToolCalls) > 0 && m.Role != llm.RoleAssistant {
		return invalid(CodeInvalidValue, p+".tool_calls",
			"Invalid parameter '%s.tool_calls': only assistant messages may carry tool calls.", p)
	}

	cp := p + ".content"
	switch m.Content.kind {
	case '"':
		out.Content = m.Content.text
	case '[':
		return decodeParts(cp, m.Role, m.Content.parts, out)
	default: // absent or null
		switch {
		case m.Role == llm.RoleAssistant && (len(out.ToolCalls) > 0 || out.Refusal != ""):
		case m.Role == llm.RoleAssistant:
			return invalid(CodeMissingParameter, cp,
				"Missing required parameter: '%s' (an assistant message needs content, tool_calls or a refusal).", cp)
		case m.Content.kind == 'n':
			return wrongType(cp, "a string or an array of content parts", "null")
		default:
			return missing(cp)
		}
	}
	return nil
}

// decodeParts maps content parts onto out: text and image parts become
// out.Parts, their text is concatenated (without separator) into
// out.Content, and an assistant's refusal parts are appended to out.Refusal.
func decodeParts(p, role string, parts []*wirePart, out *llm.Message) *llm.Error {
	if len(parts) == 0 {
		return emptyArray(p)
	}
	out.Parts = make([]llm.ContentPart, 0, len(parts))
	var (
		first string // the text of the first text part
		texts int
		sb    strings.Builder // the concatenation, once there are two
	)
	for j, part := range parts {
		pp := p + "[" + strconv.Itoa(j) + "]"
		if part == nil {
			return wrongType(pp, "an object", "null")
		}
		if e := partAllowed(pp, role, part.Type); e != nil {
			return e
		}
		switch part.Type {
		case partText:
			if part.Text == nil {
				return missing(pp + ".text")
			}
			t := *part.Text
			switch texts {
			case 0:
				first = t
			case 1:
				sb.WriteString(first)
				fallthrough
			default:
				sb.WriteString(t)
			}
			texts++
			out.Parts = append(out.Parts, llm.ContentPart{Type: partText, Text: t})
		case partImageURL:
			img := part.ImageURL
			switch {
			case img == nil:
				return missing(pp + ".image_url")
			case img.URL == "":
				return missing(pp + ".image_url.url")
			}
			switch img.Detail {
			case "", "auto", "low", "high":
			default:
				return invalid(CodeInvalidValue, pp+".image_url.detail",
					"Invalid value for '%s.image_url.detail': %s. Supported values are: 'auto', 'low' and 'high'.", pp, jsonname.Quote(img.Detail))
			}
			out.Parts = append(out.Parts, llm.ContentPart{Type: partImageURL, ImageURL: img.URL, Detail: img.Detail})
		case partRefusal:
			if part.Refusal == nil {
				return missing(pp + ".refusal")
			}
			out.Refusal += *part.Refusal
		}
	}
	if texts > 1 {
		first = sb.String()
	}
	out.Content = first
	if len(out.Parts) == 0 {
		out.Parts = nil
	}
	return nil
}

// partAllowed checks a content part's type against what role may send.
func partAllowed(pp, role, typ string) *llm.Error {
	var ok bool
	var supported string
	switch role {
	case llm.RoleUser:
		ok = typ == partText || typ == partImageURL
		supported = "'text' and 'image_url'"
		if typ == partInputAudio || typ == partFile {
			return invalid(CodeUnsupportedValue, pp+".type",
				"Content parts of type '%s' are not supported by this gateway; send 'text' or 'image_url' parts.", typ)
		}
	case llm.RoleAssistant:
		ok = typ == partText || typ == partRefusal
		supported = "'text' and 'refusal'"
	default:
		ok = typ == partText
		supported = "'text'"
	}
	switch {
	case ok:
		return nil
	case typ == "":
		return missing(pp + ".type")
	}
	return invalid(CodeInvalidValue, pp+".type",
		"Invalid value for '%s.type': %s. Content parts of %s messages may be of type %s.", pp, jsonname.Quote(typ), role, supported)
}

func decodeToolCalls(p string, calls []*wireToolCall) ([]llm.ToolCall, *llm.Error) {
	if len(calls) == 0 {
		return nil, nil
	}
	out := make([]llm.ToolCall, len(calls))
	for j, c := range calls {
		cp := p + "[" + strconv.Itoa(j) + "]"
		if c == nil {
			return nil, wrongType(cp, "an object", "null")
		}
		if e := checkToolType(cp+".type", c.Type, true); e != nil {
			return nil, e
		}
		switch {
		case c.ID == "":
			return nil, missing(cp + ".id")
		case c.Function == nil:
			return nil, missing(cp + ".function")
		case c.Function.Name == "":
			return nil, missing(cp + ".function.name")
		}
		out[j] = llm.ToolCall{ID: c.ID, Type: "function",
			Function: llm.FunctionCall{Name: c.Function.Name, Arguments: c.Function.Arguments}}
	}
	return out, nil
}

// checkToolType accepts "function", and "" when optional. OpenAI's
// "custom" tools take free-form text input that the normalized request
// cannot describe, so they are unsupported.
func checkToolType(param, typ string, optional bool) *llm.Error {
	switch {
	case typ == "function", typ == "" && optional:
		return nil
	case typ == "":
		return missing(param)
	case typ == "custom":
		return invalid(CodeUnsupportedValue, param, "Tools of type 'custom' are not supported; use type 'function'.")
	}
	return invalid(CodeInvalidValue, param, "Invalid value for '%s': %s. Supported values are: 'function'.", param, jsonname.Quote(typ))
}

func decodeTools(tools []*wireTool) ([]llm.Tool, *llm.Error) {
	if len(tools) == 0 {
		return nil, nil
	}
	if len(tools) > maxTools {
		return nil, invalid(CodeInvalidValue, "tools",
			"Invalid 'tools': array too long. Expected an array with at most %d tools, but got %d instead.", maxTools, len(tools))
	}
	out := make([]llm.Tool, len(tools))
	for i, t := range tools {
		tp := "tools[" + strconv.Itoa(i) + "]"
		if t == nil {
			return nil, wrongType(tp, "an object", "null")
		}
		if e := checkToolType(tp+".type", t.Type, false); e != nil {
			return nil, e
		}
		f := t.Function
		if f == nil {
			return nil, missing(tp + ".function")
		}
		if e := checkName(tp+".function.name", f.Name); e != nil {
			return nil, e
		}
		for j := range i {
			if out[j].Function.Name == f.Name {
				return nil, invalid(CodeInvalidValue, tp+".function.name",
					"Invalid value for '%s.function.name': %s is already the name of tools[%d]; tool names must be unique.", tp, jsonname.Quote(f.Name), j)
			}
		}
		params := f.Parameters
		switch k := params.Kind(); {
		case len(params) == 0 || k == 'n':
			params = nil
		case k != '{':
			return nil, wrongType(tp+".function.parameters", "an object", jsonname.Kind(k))
		}
		out[i] = llm.Tool{Type: "function", Function: llm.FunctionDef{
			Name: f.Name, Description: f.Description, Parameters: []byte(params), Strict: f.Strict}}
	}
	return out, nil
}

// checkName enforces OpenAI's pattern for function and schema names,
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
		return invalid(CodeInvalidValue, param,
			"Invalid '%s': %s does not match '^[a-zA-Z0-9_-]{1,64}$'.", param, jsonname.Quote(name))
	}
	return nil
}

// decode returns tool_choice in a canonical form: "none", "auto",
// "required" as a JSON string, or {"type":"function","function":{"name":…}}
// naming one of tools.
func (c *wireToolChoice) decode(tools []llm.Tool) ([]byte, *llm.Error) {
	const param = "tool_choice"
	switch c.kind {
	case '"':
		switch c.mode {
		case "none", "auto":
		case "required":
			if len(tools) == 0 {
				return nil, invalid(CodeParameterCombination, param,
					"Invalid value for 'tool_choice': 'required' is only allowed when 'tools' are specified.")
			}
		default:
			return nil, invalid(CodeInvalidValue, param,
				"Invalid value for 'tool_choice': %s. Supported values are: 'none', 'auto', 'required' or an object naming a function.", jsonname.Quote(c.mode))
		}
		return []byte(`"` + c.mode + `"`), nil
	case '{':
		switch t := c.obj.Type; t {
		case "function":
		case "":
			return nil, missing(param + ".type")
		case "allowed_tools", "custom":
			return nil, invalid(CodeUnsupportedValue, param+".type",
				"A 'tool_choice' of type '%s' is not supported; name a function with {\"type\": \"function\", \"function\": {\"name\": ...}}.", t)
		default:
			return nil, invalid(CodeInvalidValue, param+".type",
				"Invalid value for 'tool_choice.type': %s. Supported values are: 'function'.", jsonname.Quote(t))
		}
		switch {
		case c.obj.Function == nil:
			return nil, missing(param + ".function")
		case c.obj.Function.Name == "":
			return nil, missing(param + ".function.name")
		}
		name := c.obj.Function.Name
		if !slices.ContainsFunc(tools, func(t llm.Tool) bool { return t.Function.Name == name }) {
			return nil, invalid(CodeInvalidValue, param+".function.name",
				"Invalid value for 'tool_choice.function.name': no function named %s is declared in 'tools'.", jsonname.Quote(name))
		}
		b := append([]byte(nil), `{"type":"function","function":{"name":`...)
		b, _ = jsontext.AppendQuote(b, name) // valid UTF-8: it matched a declared name
		return append(b, "}}"...), nil
	}
	return nil, nil // absent or null
}

func (s *wireStop) decode() ([]string, *llm.Error) {
	if s.kind != '"' && s.kind != '[' {
		return nil, nil // absent or null
	}
	if len(s.seqs) > maxStop {
		return nil, invalid(CodeInvalidValue, "stop",
			"Invalid 'stop': array too long. Expected an array with at most %d strings, but got %d instead.", maxStop, len(s.seqs))
	}
	for j, seq := range s.seqs {
		if seq == "" {
			param := "stop"
			if s.kind == '[' {
				param = "stop[" + strconv.Itoa(j) + "]"
			}
			return nil, invalid(CodeInvalidValue, param, "Invalid value for '%s': stop sequences must be non-empty strings.", param)
		}
	}
	if len(s.seqs) == 0 {
		return nil, nil
	}
	return s.seqs, nil
}

func decodeResponseFormat(rf *wireResponseFormat) (*llm.ResponseFormat, *llm.Error) {
	const param = "response_format"
	if rf == nil {
		return nil, nil
	}
	switch rf.Type {
	case "text", "json_object":
		return &llm.ResponseFormat{Type: rf.Type}, nil
	case "json_schema":
	case "":
		return nil, missing(param + ".type")
	default:
		return nil, invalid(CodeInvalidValue, param+".type",
			"Invalid value for 'response_format.type': %s. Supported values are: 'text', 'json_object' and 'json_schema'.", jsonname.Quote(rf.Type))
	}
	const sp = param + ".json_schema"
	raw := rf.JSONSchema
	switch k := raw.Kind(); {
	case len(raw) == 0 || k == 'n':
		return nil, missing(sp)
	case k != '{':
		return nil, wrongType(sp, "an object", jsonname.Kind(k))
	}
	var s wireJSONSchema
	if err := json.Unmarshal(raw, &s, decodeOptions); err != nil {
		return nil, jsonError(err, sp, raw)
	}
	if s.Name == nil {
		return nil, missing(sp + ".name")
	}
	if e := checkName(sp+".name", *s.Name); e != nil {
		return nil, e
	}
	switch k := s.Schema.Kind(); {
	case len(s.Schema) == 0 || k == 'n':
		return nil, missing(sp + ".schema")
	case k != '{':
		return nil, wrongType(sp+".schema", "an object", jsonname.Kind(k))
	}
	return &llm.ResponseFormat{Type: rf.Type, JSONSchema: []byte(raw)}, nil
}

// checkMetadata enforces OpenAI's limits: at most 16 pairs, keys of at most
// 64 characters, values of at most 512. Keys are checked in sorted order so
// that the error names the same key every time.
func checkMetadata(m map[string]string) *llm.Error {
	const param = "metadata"
	if len(m) > maxMetadataKeys {
		return invalid(CodeInvalidValue, param,
			"Invalid 'metadata': too many keys. Expected at most %d keys, but got %d instead.", maxMetadataKeys, len(m))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if n := utf8.RuneCountInString(k); n > maxMetadataKey {
			return invalid(CodeInvalidValue, param,
				"Invalid 'metadata': key %s is %d characters long; keys may have at most %d.", jsonname.Quote(k), n, maxMetadataKey)
		}
		if n := utf8.RuneCountInString(m[k]); n > maxMetadataValue {
			return invalid(CodeInvalidValue, param,
				"Invalid 'metadata': the value of key %s is %d characters long; values may have at most %d.", jsonname.Quote(k), n, maxMetadataValue)
		}
	}
	return nil
}
