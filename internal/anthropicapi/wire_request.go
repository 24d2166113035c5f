package anthropicapi

import (
	"errors"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The wire* types mirror the body of POST /v1/messages. They only carry what
// the JSON says; semantic checks and the mapping onto llm.Request live in
// decode.go. Members whose JSON type depends on a block's type (an image's
// or a search result's source, a tool result's content, a tool call's
// input) are kept raw and decoded once the block's type is known, so that a
// block of an unsupported type is reported as such rather than as a type
// mismatch in one of its members.

type wireRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *jsonInt        `json:"max_tokens"`
	Messages      []*wireMessage  `json:"messages"`
	System        wireContent     `json:"system"`
	StopSequences []string        `json:"stop_sequences"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *jsonInt        `json:"top_k"`
	Stream        bool            `json:"stream"`
	Tools         []*wireTool     `json:"tools"`
	ToolChoice    *wireToolChoice `json:"tool_choice"`
	Metadata      *wireMetadata   `json:"metadata"`
}

type wireMessage struct {
	Role    string      `json:"role"`
	Content wireContent `json:"content"`
}

// wireBlock is any content block. Type selects which members matter.
type wireBlock struct {
	Type      string         `json:"type"`
	Text      *string        `json:"text"`        // text
	Source    jsontext.Value `json:"source"`      // image
	ID        string         `json:"id"`          // tool_use
	Name      string         `json:"name"`        // tool_use
	Input     jsontext.Value `json:"input"`       // tool_use
	ToolUseID string         `json:"tool_use_id"` // tool_result
	Content   jsontext.Value `json:"content"`     // tool_result
	IsError   *bool          `json:"is_error"`    // tool_result
}

// wireImageSource is an image block's source: base64 data or a URL.
type wireImageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
	URL       string `json:"url"`
}

type wireTool struct {
	Type        string         `json:"type"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	InputSchema jsontext.Value `json:"input_schema"`
	Strict      *bool          `json:"strict"`
}

type wireToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
}

type wireMetadata struct {
	UserID *string `json:"user_id"`
}

// wireContent is a message's content or the system prompt: absent, null, a
// string, or an array of content blocks. kind is 0 when absent.
type wireContent struct {
	kind   jsontext.Kind
	text   string
	blocks []*wireBlock
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
		return json.UnmarshalDecode(dec, &c.blocks)
	default:
		return mismatch(dec, k, "a string or an array of content blocks")
	}
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

// jsonInt accepts any JSON number with an integral value, so 1, 1.0 and 1e2
// are all integers (as in JSON Schema): clients that compute a limit as a
// float and print it (Python's json.dumps(1024.0) is "1024.0") send them.
type jsonInt int

var errIntRange = errors.New("integer out of range")

func (n *jsonInt) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	k := dec.PeekKind()
	if k != '0' {
		return mismatch(dec, k, "an integer")
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	v, err := tok.Int()
	switch {
	case err == nil:
	case errors.Is(err, strconv.ErrRange):
		return &json.SemanticError{JSONKind: '0', Err: errIntRange}
	default:
		f, ferr := tok.Float()
		if ferr == nil && f != math.Trunc(f) {
			return &json.SemanticError{JSONKind: '0', Err: &wantError{want: "an integer", got: "a decimal"}}
		}
		// Every integral float strictly inside ±2^63 converts exactly.
		if ferr != nil || f <= -(1<<63) || f >= 1<<63 {
			return &json.SemanticError{JSONKind: '0', Err: errIntRange}
		}
		v = int64(f)
	}
	if int64(int(v)) != v {
		return &json.SemanticError{JSONKind: '0', Err: errIntRange}
	}
	*n = jsonInt(v)
	return nil
}
