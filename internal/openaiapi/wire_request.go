package openaiapi

import (
	"errors"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The wire* types mirror the request body of POST /v1/chat/completions. They
// only carry what the JSON says; semantic checks and the mapping onto
// llm.Request live in decode.go. Fields whose JSON type is a union (content,
// stop, tool_choice) or whose integer syntax is looser than Go's are custom
// types that decode themselves from the shared decoder, so that errors inside
// them keep their full JSON pointer.

type wireRequest struct {
	Model    string         `json:"model"`
	Messages []*wireMessage `json:"messages"`

	Stream        bool               `json:"stream"`
	StreamOptions *wireStreamOptions `json:"stream_options"`

	Tools             []*wireTool         `json:"tools"`
	ToolChoice        wireToolChoice      `json:"tool_choice"`
	ParallelToolCalls *bool               `json:"parallel_tool_calls"`
	ResponseFormat    *wireResponseFormat `json:"response_format"`

	Logprobs    bool     `json:"logprobs"`
	TopLogprobs *jsonInt `json:"top_logprobs"`

	N                   *jsonInt   `json:"n"`
	Stop                wireStop   `json:"stop"`
	MaxTokens           *jsonInt   `json:"max_tokens"`
	MaxCompletionTokens *jsonInt   `json:"max_completion_tokens"`
	Temperature         *float64   `json:"temperature"`
	TopP                *float64   `json:"top_p"`
	PresencePenalty     *float64   `json:"presence_penalty"`
	FrequencyPenalty    *float64   `json:"frequency_penalty"`
	Seed                *jsonInt64 `json:"seed"`

	User     string            `json:"user"`
	Metadata map[string]string `json:"metadata"`

	// Legacy function calling; rejected when set (see doc.go).
	Functions    presence `json:"functions"`
	FunctionCall presence `json:"function_call"`
}

type wireStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireMessage struct {
	Role       string          `json:"role"`
	Content    wireContent     `json:"content"`
	Name       string          `json:"name"`
	ToolCalls  []*wireToolCall `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	Refusal    string          `json:"refusal"`
	// Legacy assistant function_call; rejected when set.
	FunctionCall presence `json:"function_call"`
}

type wirePart struct {
	Type     string        `json:"type"`
	Text     *string       `json:"text"`
	ImageURL *wireImageURL `json:"image_url"`
	Refusal  *string       `json:"refusal"`
}

type wireImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail"`
}

type wireToolCall struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Function *wireFunctionCall `json:"function"`
}

type wireFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type wireTool struct {
	Type     string           `json:"type"`
	Function *wireFunctionDef `json:"function"`
}

type wireFunctionDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  jsontext.Value `json:"parameters"`
	Strict      *bool          `json:"strict"`
}

type wireResponseFormat struct {
	Type       string         `json:"type"`
	JSONSchema jsontext.Value `json:"json_schema"`
}

type wireJSONSchema struct {
	Name        *string        `json:"name"`
	Description string         `json:"description"`
	Schema      jsontext.Value `json:"schema"`
	Strict      *bool          `json:"strict"`
}

// wantError is the cause of a type mismatch found by a custom decoder. It
// names the JSON type that was expected, in words ("an integer").
type wantError struct {
	want string
	got  string // overrides the JSON kind of the value in the message, if set
}

func (e *wantError) Error() string { return "expected " + e.want }

// mismatch reports that the next value, of kind k, is not what a custom
// decoder wants; the json package fills in the JSON pointer. When k does
// not start a value (0 after a syntax error, or a closing delimiter where a
// value belongs), reading the value reports the syntax error instead.
func mismatch(dec *jsontext.Decoder, k jsontext.Kind, want string) error {
	switch k {
	case 'n', 't', 'f', '"', '0', '{', '[':
	default:
		if _, err := dec.ReadValue(); err != nil {
			return err
		}
	}
	return &json.SemanticError{JSONKind: k, Err: &wantError{want: want}}
}

// presence records whether a member was present with a non-null value,
// without keeping the value.
type presence struct{ set bool }

func (p *presence) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	p.set = dec.PeekKind() != 'n'
	return dec.SkipValue()
}

// wireContent is a message's content: absent, null, a string, or an array of
// content parts. kind is 0 when absent.
type wireContent struct {
	kind  jsontext.Kind
	text  string
	parts []*wirePart
}

func (c *wireContent) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case 'n', '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		c.kind = k
		if k == '"' {
			c.text = tok.String()
		}
		return nil
	case '[':
		c.kind = k
		return json.UnmarshalDecode(dec, &c.parts)
	default:
		return mismatch(dec, k, "a string or an array of content parts")
	}
}

// wireStop is the stop parameter: null, one string, or an array of strings.
// kind is 0 when absent.
type wireStop struct {
	kind jsontext.Kind
	seqs []string
}

func (s *wireStop) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case 'n':
		s.kind = k
		_, err := dec.ReadToken()
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		s.kind = k
		s.seqs = []string{tok.String()}
		return nil
	case '[':
		s.kind = k
		return json.UnmarshalDecode(dec, &s.seqs)
	default:
		return mismatch(dec, k, "a string or an array of strings")
	}
}

// wireToolChoice is tool_choice: null, a mode string, or an object naming a
// function. kind is 0 when absent.
type wireToolChoice struct {
	kind jsontext.Kind
	mode string // when kind is '"'
	obj  wireToolChoiceObject
}

type wireToolChoiceObject struct {
	Type     string `json:"type"`
	Function *struct {
		Name string `json:"name"`
	} `json:"function"`
}

func (c *wireToolChoice) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case 'n', '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		c.kind = k
		if k == '"' {
			c.mode = tok.String()
		}
		return nil
	case '{':
		c.kind = k
		return json.UnmarshalDecode(dec, &c.obj)
	default:
		return mismatch(dec, k, "a string or an object")
	}
}

// jsonInt and jsonInt64 accept any JSON number with an integral value, so
// 1, 1.0 and 1e2 are all integers (as in JSON Schema). Go's decoder would
// reject the last two, but clients that compute a parameter as a float and
// print it (Python's json.dumps(256.0) is "256.0") send them.
type (
	jsonInt   int
	jsonInt64 int64
)

func (n *jsonInt) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := readInt(dec)
	if err != nil {
		return err
	}
	if int64(int(v)) != v {
		return &json.SemanticError{JSONKind: '0', Err: errIntRange}
	}
	*n = jsonInt(v)
	return nil
}

func (n *jsonInt64) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := readInt(dec)
	*n = jsonInt64(v)
	return err
}

var errIntRange = errors.New("integer out of range")

func readInt(dec *jsontext.Decoder) (int64, error) {
	k := dec.PeekKind()
	if k != '0' {
		return 0, mismatch(dec, k, "an integer")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return 0, err
	}
	v, err := tok.Int()
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, strconv.ErrRange):
		return 0, &json.SemanticError{JSONKind: '0', Err: errIntRange}
	}
	f, ferr := tok.Float()
	if ferr == nil && f != math.Trunc(f) {
		return 0, &json.SemanticError{JSONKind: '0', Err: &wantError{want: "an integer", got: "a decimal"}}
	}
	// Every integral float strictly inside ±2^63 converts to int64 exactly.
	if ferr != nil || f <= -(1<<63) || f >= 1<<63 {
		return 0, &json.SemanticError{JSONKind: '0', Err: errIntRange}
	}
	return int64(f), nil
}
