package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// The request shapes of generateContent and streamGenerateContent
// (generativelanguage v1beta), as the API reference documents them. Only
// fields Sextant writes are declared.

type generateRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []tool            `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	SafetySettings    []SafetySetting   `json:"safetySettings,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
}

// content is one turn: role "user" or "model" (empty in systemInstruction)
// and its parts.
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
	// responses marks a content of function responses, which must hold
	// nothing else.
	responses bool
}

// part is a union: exactly one of Text, InlineData, FunctionCall and
// FunctionResponse is set. Thought and ThoughtSignature ride along.
type part struct {
	Text             string            `json:"text,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	// Thought marks a part as the model's reasoning, not its answer.
	Thought bool `json:"thought,omitempty"`
	// ThoughtSignature is opaque bytes, base64 in JSON.
	ThoughtSignature string `json:"thoughtSignature,omitempty"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"` // base64
}

type functionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"` // a JSON object
}

type functionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"` // a JSON object
}

type tool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

type functionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	Mode                 string   `json:"mode"` // AUTO, ANY or NONE
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type generationConfig struct {
	StopSequences      []string        `json:"stopSequences,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	CandidateCount     *int            `json:"candidateCount,omitempty"`
	MaxOutputTokens    *int            `json:"maxOutputTokens,omitempty"`
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	Seed               *int32          `json:"seed,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	ResponseLogprobs   bool            `json:"responseLogprobs,omitempty"`
	Logprobs           *int            `json:"logprobs,omitempty"`
}

func (g *generationConfig) isZero() bool {
	return g.StopSequences == nil && g.ResponseMimeType == "" && g.ResponseJSONSchema == nil &&
		g.CandidateCount == nil && g.MaxOutputTokens == nil && g.Temperature == nil && g.TopP == nil &&
		g.Seed == nil && g.PresencePenalty == nil && g.FrequencyPenalty == nil && !g.ResponseLogprobs && g.Logprobs == nil
}

// skipSignature is the placeholder the API documents for function calls
// that no Gemini model produced, such as history carried over from
// another provider: it turns off thought-signature validation for them.
const skipSignature = "skip_thought_signature_validator"

// encodeRequest translates req into the wire request. It fails only with a
// caller-fault or unsupported *llm.Error for content the wire format
// cannot carry.
func (p *Provider) encodeRequest(req *llm.Request) ([]byte, error) {
	w := generateRequest{SafetySettings: p.opts.SafetySettings}
	contents, system, err := p.encodeMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	if len(contents) == 0 && system != nil {
		// The API needs at least one content; a request of system text
		// alone is sent as the user's turn.
		contents, system = []content{{Role: "user", Parts: system.Parts}}, nil
	}
	w.Contents, w.SystemInstruction = contents, system

	if len(req.Tools) > 0 {
		decls := make([]functionDeclaration, 0, len(req.Tools))
		for i, t := range req.Tools {
			param := conf.Index("tools", i)
			if t.Type != "" && t.Type != "function" {
				return nil, p.unsupported(param+".type", "tool type %q is not supported by this model", t.Type)
			}
			params, err := functionParameters(t.Function.Parameters)
			if err != nil {
				return nil, p.schemaError(param+".function.parameters", err)
			}
			decls = append(decls, functionDeclaration{Name: t.Function.Name, Description: t.Function.Description, Parameters: params})
		}
		w.Tools = []tool{{FunctionDeclarations: decls}}
		tc, err := p.toolConfig(req.ToolChoice)
		if err != nil {
			return nil, err
		}
		w.ToolConfig = tc
	}

	g, err := p.generationConfig(req)
	if err != nil {
		return nil, err
	}
	if !g.isZero() {
		w.GenerationConfig = g
	}
	b, merr := json.Marshal(&w)
	if merr != nil {
		// Only the raw JSON the client passed through (tool arguments,
		// json_schema) can fail to encode.
		return nil, p.callerError("", "the request holds invalid JSON: %v", merr)
	}
	return b, nil
}

func (p *Provider) generationConfig(req *llm.Request) (*generationConfig, *llm.Error) {
	g := &generationConfig{
		StopSequences:   req.Stop,
		CandidateCount:  req.N,
		MaxOutputTokens: req.MaxTokens,
		Temperature:     req.Temperature,
		TopP:            req.TopP,
	}
	if len(g.StopSequences) == 0 {
		g.StopSequences = nil
	}
	// Zero penalties are the neutral value; some clients send them by
	// default and some Gemini models reject penalties outright.
	if v := req.PresencePenalty; v != nil && *v != 0 {
		g.PresencePenalty = v
	}
	if v := req.FrequencyPenalty; v != nil && *v != 0 {
		g.FrequencyPenalty = v
	}
	if req.Seed != nil {
		// The API's seed is 32 bits; folding a wider one keeps equal
		// seeds equal.
		v := *req.Seed
		s := int32(v)
		if v < math.MinInt32 || v > math.MaxInt32 {
			s = int32(uint32(v) ^ uint32(uint64(v)>>32))
		}
		g.Seed = &s
	}
	if req.Logprobs {
		g.ResponseLogprobs = true
		g.Logprobs = req.TopLogprobs
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			g.ResponseMimeType = "application/json"
		case "json_schema":
			g.ResponseMimeType = "application/json"
			var js struct {
				Schema json.RawMessage `json:"schema"`
			}
			if len(rf.JSONSchema) > 0 {
				if err := json.Unmarshal(rf.JSONSchema, &js); err != nil {
					return nil, p.callerError("response_format.json_schema", "invalid json_schema: %v", err)
				}
			}
			if s := bytes.TrimSpace(js.Schema); len(s) > 0 && string(s) != "null" {
				g.ResponseJSONSchema = s
			}
		default:
			return nil, p.unsupported("response_format.type", "response_format type %q is not supported by this model", rf.Type)
		}
	}
	return g, nil
}

// toolConfig maps tool_choice: "auto" → AUTO, "none" → NONE, "required" →
// ANY, a named function → ANY limited to that name, and OpenAI's
// allowed_tools form → AUTO or ANY limited to its names (AUTO cannot be
// limited, so its names are dropped). Absent means the API's default, AUTO.
func (p *Provider) toolConfig(raw json.RawMessage) (*toolConfig, *llm.Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return &toolConfig{functionCallingConfig{Mode: "AUTO"}}, nil
		case "none":
			return &toolConfig{functionCallingConfig{Mode: "NONE"}}, nil
		case "required":
			return &toolConfig{functionCallingConfig{Mode: "ANY"}}, nil
		}
		return nil, p.callerError("tool_choice", "unknown tool_choice %q", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools *struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, p.callerError("tool_choice", "invalid tool_choice: %v", err)
	}
	switch {
	case obj.Type == "function" && obj.Function != nil && obj.Function.Name != "":
		return &toolConfig{functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{obj.Function.Name}}}, nil
	case obj.Type == "allowed_tools" && obj.AllowedTools != nil:
		switch obj.AllowedTools.Mode {
		case "auto":
			return &toolConfig{functionCallingConfig{Mode: "AUTO"}}, nil
		case "required":
			cfg := functionCallingConfig{Mode: "ANY"}
			for _, t := range obj.AllowedTools.Tools {
				if t.Function.Name != "" {
					cfg.AllowedFunctionNames = append(cfg.AllowedFunctionNames, t.Function.Name)
				}
			}
			return &toolConfig{cfg}, nil
		}
	}
	return nil, p.unsupported("tool_choice", "this tool_choice is not supported by this model")
}

// encodeMessages translates the conversation: system and developer
// messages into the system instruction, the rest into contents with
// consecutive turns of the same role merged (the API wants user and model
// turns to alternate, and all responses to a parallel call in one turn).
// Function responses are never merged with other parts: the API splits
// turns at the function-response content and refuses one that holds text
// or media beside the responses.
func (p *Provider) encodeMessages(msgs []llm.Message) ([]content, *content, *llm.Error) {
	var (
		contents []content
		system   *content
		// callNames maps a tool call id to its function name, as of the
		// latest assistant message that used the id.
		callNames = map[string]string{}
	)
	add := func(role string, parts []part, responses bool) {
		if len(parts) == 0 {
			return
		}
		if n := len(contents); n > 0 && contents[n-1].Role == role && contents[n-1].responses == responses {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			return
		}
		contents = append(contents, content{Role: role, Parts: parts, responses: responses})
	}
	for i, m := range msgs {
		param := conf.Index("messages", i)
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			parts, err := p.textParts(m, param)
			if err != nil {
				return nil, nil, err
			}
			if len(parts) > 0 {
				if system == nil {
					system = &content{}
				}
				system.Parts = append(system.Parts, parts...)
			}
		case llm.RoleUser:
			parts, err := p.userParts(m, param)
			if err != nil {
				return nil, nil, err
			}
			add("user", parts, false)
		case llm.RoleAssistant:
			parts, err := p.modelParts(m, param)
			if err != nil {
				return nil, nil, err
			}
			for _, tc := range m.ToolCalls {
				callNames[tc.ID] = tc.Function.Name
			}
			add("model", parts, false)
		case llm.RoleTool:
			name, ok := callNames[m.ToolCallID]
			if !ok {
				name = m.Name
			}
			if name == "" {
				return nil, nil, p.callerError(param+".tool_call_id",
					"no earlier assistant message has a tool call with id %q", m.ToolCallID)
			}
			add("user", []part{{FunctionResponse: &functionResponse{Name: name, Response: toolResult(messageText(m))}}}, true)
		default:
			return nil, nil, p.callerError(param+".role", "unknown role %q", m.Role)
		}
	}
	return contents, system, nil
}

// messageText is a message's text: Content, or its text parts joined.
func messageText(m llm.Message) string {
	if m.Content != "" || len(m.Parts) == 0 {
		return m.Content
	}
	var b strings.Builder
	for _, part := range m.Parts {
		if part.Type == "text" {
			b.WriteString(part.Text)
		}
	}
	return b.String()
}

// textParts is the text of a system message; other parts are refused.
func (p *Provider) textParts(m llm.Message, param string) ([]part, *llm.Error) {
	if len(m.Parts) == 0 {
		return textPart(m.Content), nil
	}
	var out []part
	for j, cp := range m.Parts {
		if cp.Type != "text" {
			return nil, p.unsupported(fmt.Sprintf("%s.content[%d].type", param, j),
				"a %s message may hold only text for this model, not %q", m.Role, cp.Type)
		}
		out = append(out, textPart(cp.Text)...)
	}
	return out, nil
}

// textPart is a text part, or none for empty text: the API rejects a part
// with no data.
func textPart(s string) []part {
	if s == "" {
		return nil
	}
	return []part{{Text: s}}
}

// userParts translates a user message's text and images.
func (p *Provider) userParts(m llm.Message, param string) ([]part, *llm.Error) {
	if len(m.Parts) == 0 {
		return textPart(m.Content), nil
	}
	var out []part
	for j, cp := range m.Parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch cp.Type {
		case "text":
			out = append(out, textPart(cp.Text)...)
		case "image_url":
			b, ok := dataURL(cp.ImageURL)
			if !ok {
				return nil, p.unsupported(pp+".image_url",
					"this model takes images only as base64 data: URLs, not links")
			}
			out = append(out, part{InlineData: b})
		default:
			return nil, p.unsupported(pp+".type", "content part type %q is not supported by this model", cp.Type)
		}
	}
	return out, nil
}

// dataURL decodes "data:[<mediatype>][;base64],<data>" into a blob with
// base64 data. Other URLs are not ok.
func dataURL(u string) (*blob, bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, false
	}
	params := strings.Split(meta, ";")
	mt := strings.TrimSpace(params[0])
	isBase64 := false
	for _, prm := range params[1:] {
		if strings.EqualFold(strings.TrimSpace(prm), "base64") {
			isBase64 = true
		}
	}
	if mt == "" {
		mt = "text/plain"
	}
	if isBase64 {
		data = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, data)
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(data, "="))
			if err != nil {
				return nil, false
			}
			data = base64.StdEncoding.EncodeToString(raw)
		}
		return &blob{MimeType: mt, Data: data}, true
	}
	raw, err := url.PathUnescape(data)
	if err != nil {
		return nil, false
	}
	return &blob{MimeType: mt, Data: base64.StdEncoding.EncodeToString([]byte(raw))}, true
}

// modelParts translates an assistant message: its text (or refusal), then
// one functionCall part per tool call, each carrying the thought signature
// its id holds (see callID).
func (p *Provider) modelParts(m llm.Message, param string) ([]part, *llm.Error) {
	var out []part
	switch text := messageText(m); {
	case text != "":
		out = append(out, part{Text: text})
	case m.Refusal != "":
		out = append(out, part{Text: m.Refusal})
	}
	first, signed := -1, false
	for j, tc := range m.ToolCalls {
		args, err := callArgs(tc.Function.Arguments)
		if err != nil {
			return nil, p.callerError(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "%v", err)
		}
		sig := signatureOf(tc.ID)
		signed = signed || sig != ""
		if first < 0 {
			first = len(out)
		}
		out = append(out, part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: args}, ThoughtSignature: sig})
	}
	if first >= 0 && !signed && p.opts.signatureFallback() {
		// Gemini 3 wants a signature on the first call of each step.
		out[first].ThoughtSignature = skipSignature
	}
	return out, nil
}

// callArgs parses a tool call's arguments, which the API takes as a JSON
// object. Empty arguments are an empty object.
func callArgs(s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(s)) || s[0] != '{' {
		return nil, fmt.Errorf("tool call arguments must be a JSON object")
	}
	return json.RawMessage(s), nil
}

// toolResult is a tool message's content as a functionResponse response: a
// JSON object as sent, anything else wrapped as {"result": "<text>"}.
func toolResult(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(map[string]string{"result": s})
	return b
}

// Tool call ids. The API names calls by function name and order, so the
// adapter makes its own ids, "call_<n>" with n the call's position in its
// choice. A call that came with a thought signature (Gemini 3 and thinking
// 2.5 models) carries it in its id as "call_<n>_ts_<signature>", the
// signature in unpadded URL-safe base64 so the id stays [A-Za-z0-9_-]; the
// client sends the id back with the tool result and the adapter restores
// the signature, which Gemini 3 requires.
const sigMarker = "_ts_"

// callID returns the id of the n-th call of a choice, with sig (standard
// base64, as the API sends it) folded in when present.
func callID(n int, sig string) string {
	id := "call_" + strconv.Itoa(n)
	if sig == "" {
		return id
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.URLEncoding.DecodeString(sig); err != nil {
			return id // not base64: the API would not take it back either
		}
	}
	return id + sigMarker + base64.RawURLEncoding.EncodeToString(raw)
}

// signatureOf returns the thought signature held in an id made by callID,
// in standard base64, or "" for any other id.
func signatureOf(id string) string {
	rest, ok := strings.CutPrefix(id, "call_")
	if !ok {
		return ""
	}
	n, enc, ok := strings.Cut(rest, sigMarker)
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" || enc == "" {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}
