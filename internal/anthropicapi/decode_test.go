package anthropicapi

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// user1 is the smallest valid messages array.
const user1 = `[{"role":"user","content":"hi"}]`

// body returns a valid request with extra top-level members appended.
func body(extra string) string {
	b := `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":` + user1
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// msgs returns a valid request with the given messages array.
func msgs(messages string) string {
	return `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":` + messages + `}`
}

// tool returns a client tool declaration.
func tool(name string) string {
	return `{"name":"` + name + `","input_schema":{"type":"object"}}`
}

// image returns an image block with the given source.
func image(source string) string {
	return `{"type":"image","source":` + source + `}`
}

var decodeErrorCases = []struct {
	name  string
	body  string
	param string
	code  string
}{
	// The body as a whole.
	{"empty body", ``, "", CodeInvalidJSON},
	{"whitespace body", "  \n", "", CodeInvalidJSON},
	{"truncated", `{"model":"m","max_tokens":1`, "", CodeInvalidJSON},
	{"trailing data", body("") + `{}`, "", CodeInvalidJSON},
	{"trailing garbage", body("") + `x`, "", CodeInvalidJSON},
	{"array body", `[` + body("") + `]`, "", CodeInvalidType},
	{"string body", `"hello"`, "", CodeInvalidType},
	{"null body", `null`, "", CodeInvalidType},
	{"invalid utf8 in model", "{\"model\":\"m\xff\",\"max_tokens\":1,\"messages\":" + user1 + "}", "model", CodeInvalidJSON},
	{"invalid utf8 in content", msgs("[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]"), "messages.0.content", CodeInvalidJSON},
	{"syntax error inside content", msgs(`[{"role":"user","content":}]`), "messages.0.content", CodeInvalidJSON},
	{"trailing comma", `{"model":"m","max_tokens":1,"messages":` + user1 + `,}`, "", CodeInvalidJSON},

	// Duplicate keys at any depth.
	{"duplicate model", `{"model":"a","model":"b","max_tokens":1,"messages":` + user1 + `}`, "model", CodeDuplicateKey},
	{"duplicate unknown member", body(`"x":1,"x":2`), "x", CodeDuplicateKey},
	{"duplicate role", msgs(`[{"role":"user","role":"assistant","content":"hi"}]`), "messages.0.role", CodeDuplicateKey},
	{"duplicate in block", msgs(`[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]`), "messages.0.content.0.text", CodeDuplicateKey},
	{"duplicate in image source", msgs(`[{"role":"user","content":[` + image(`{"type":"url","url":"a","url":"b"}`) + `]}]`), "messages.0.content.0.source.url", CodeDuplicateKey},
	{"duplicate in tool_use input", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1,"a":2}}]}]`), "messages.0.content.0.input.a", CodeDuplicateKey},
	{"duplicate in input_schema", body(`"tools":[{"name":"f","input_schema":{"type":"object","type":"object"}}]`), "tools.0.input_schema.type", CodeDuplicateKey},
	{"duplicate in tool_result content", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","type":"text","text":"x"}]}]}]`), "messages.0.content.0.content.0.type", CodeDuplicateKey},
	{"duplicate in metadata", body(`"metadata":{"user_id":"a","user_id":"b"}`), "metadata.user_id", CodeDuplicateKey},
	{"duplicate escaped equal names", `{"model":"a","mod\u0065l":"b","max_tokens":1,"messages":` + user1 + `}`, "model", CodeDuplicateKey},

	// Wrong JSON types.
	{"model number", `{"model":4,"max_tokens":1,"messages":` + user1 + `}`, "model", CodeInvalidType},
	{"max_tokens string", `{"model":"m","max_tokens":"1024","messages":` + user1 + `}`, "max_tokens", CodeInvalidType},
	{"max_tokens decimal", `{"model":"m","max_tokens":10.5,"messages":` + user1 + `}`, "max_tokens", CodeInvalidType},
	{"max_tokens null", `{"model":"m","max_tokens":null,"messages":` + user1 + `}`, "max_tokens", CodeMissingParameter},
	{"messages object", msgs(`{"role":"user","content":"hi"}`), "messages", CodeInvalidType},
	{"message string", msgs(`["hi"]`), "messages.0", CodeInvalidType},
	{"message null", msgs(`[null]`), "messages.0", CodeInvalidType},
	{"second message null", msgs(`[{"role":"user","content":"hi"},null]`), "messages.1", CodeInvalidType},
	{"role number", msgs(`[{"role":1,"content":"hi"}]`), "messages.0.role", CodeInvalidType},
	{"content number", msgs(`[{"role":"user","content":1}]`), "messages.0.content", CodeInvalidType},
	{"content object", msgs(`[{"role":"user","content":{"type":"text","text":"hi"}}]`), "messages.0.content", CodeInvalidType},
	{"content null", msgs(`[{"role":"user","content":null}]`), "messages.0.content", CodeInvalidType},
	{"block string", msgs(`[{"role":"user","content":["hi"]}]`), "messages.0.content.0", CodeInvalidType},
	{"block null", msgs(`[{"role":"user","content":[null]}]`), "messages.0.content.0", CodeInvalidType},
	{"block type number", msgs(`[{"role":"user","content":[{"type":1}]}]`), "messages.0.content.0.type", CodeInvalidType},
	{"text number", msgs(`[{"role":"user","content":[{"type":"text","text":1}]}]`), "messages.0.content.0.text", CodeInvalidType},
	{"image source string", msgs(`[{"role":"user","content":[` + image(`"http://x"`) + `]}]`), "messages.0.content.0.source", CodeInvalidType},
	{"image url number", msgs(`[{"role":"user","content":[` + image(`{"type":"url","url":1}`) + `]}]`), "messages.0.content.0.source.url", CodeInvalidType},
	{"tool_use input string", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"{}"}]}]`), "messages.0.content.0.input", CodeInvalidType},
	{"tool_use input array", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[]}]}]`), "messages.0.content.0.input", CodeInvalidType},
	{"tool_use input null", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":null}]}]`), "messages.0.content.0.input", CodeInvalidType},
	{"tool_use id number", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":1,"name":"f","input":{}}]}]`), "messages.0.content.0.id", CodeInvalidType},
	{"tool_result content number", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":1}]}]`), "messages.0.content.0.content", CodeInvalidType},
	{"tool_result content object", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":{"type":"text","text":"x"}}]}]`), "messages.0.content.0.content", CodeInvalidType},
	{"tool_result block text number", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":2}]}]}]`), "messages.0.content.0.content.0.text", CodeInvalidType},
	{"tool_result is_error string", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]`), "messages.0.content.0.is_error", CodeInvalidType},
	{"system number", body(`"system":1`), "system", CodeInvalidType},
	{"system object", body(`"system":{"type":"text","text":"x"}`), "system", CodeInvalidType},
	{"system block null", body(`"system":[null]`), "system.0", CodeInvalidType},
	{"temperature string", body(`"temperature":"hot"`), "temperature", CodeInvalidType},
	{"top_p array", body(`"top_p":[1]`), "top_p", CodeInvalidType},
	{"top_k decimal", body(`"top_k":1.5`), "top_k", CodeInvalidType},
	{"top_k string", body(`"top_k":"5"`), "top_k", CodeInvalidType},
	{"stream string", body(`"stream":"true"`), "stream", CodeInvalidType},
	{"stop_sequences string", body(`"stop_sequences":"END"`), "stop_sequences", CodeInvalidType},
	{"stop_sequences number element", body(`"stop_sequences":["a",1]`), "stop_sequences.1", CodeInvalidType},
	{"tools object", body(`"tools":{}`), "tools", CodeInvalidType},
	{"tool null", body(`"tools":[null]`), "tools.0", CodeInvalidType},
	{"tool name number", body(`"tools":[{"name":1,"input_schema":{}}]`), "tools.0.name", CodeInvalidType},
	{"tool input_schema string", body(`"tools":[{"name":"f","input_schema":"{}"}]`), "tools.0.input_schema", CodeInvalidType},
	{"tool input_schema array", body(`"tools":[{"name":"f","input_schema":[]}]`), "tools.0.input_schema", CodeInvalidType},
	{"tool strict string", body(`"tools":[{"name":"f","input_schema":{},"strict":"yes"}]`), "tools.0.strict", CodeInvalidType},
	{"tool_choice string", body(`"tool_choice":"auto"`), "tool_choice", CodeInvalidType},
	{"tool_choice disable string", body(`"tool_choice":{"type":"auto","disable_parallel_tool_use":"yes"}`), "tool_choice.disable_parallel_tool_use", CodeInvalidType},
	{"metadata array", body(`"metadata":["a"]`), "metadata", CodeInvalidType},
	{"metadata user_id number", body(`"metadata":{"user_id":42}`), "metadata.user_id", CodeInvalidType},

	// Numbers out of the range of their Go type.
	{"max_tokens huge", `{"model":"m","max_tokens":1e30,"messages":` + user1 + `}`, "max_tokens", CodeInvalidValue},
	{"max_tokens beyond int64", `{"model":"m","max_tokens":9223372036854775808,"messages":` + user1 + `}`, "max_tokens", CodeInvalidValue},
	{"temperature overflows float64", body(`"temperature":1e400`), "temperature", CodeInvalidValue},

	// Missing or empty required parameters.
	{"empty object", `{}`, "model", CodeMissingParameter},
	{"no model", `{"max_tokens":1,"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"empty model", `{"model":"","max_tokens":1,"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"null model", `{"model":null,"max_tokens":1,"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"model wrong case key", `{"Model":"m","max_tokens":1,"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"no max_tokens", `{"model":"m","messages":` + user1 + `}`, "max_tokens", CodeMissingParameter},
	{"no messages", `{"model":"m","max_tokens":1}`, "messages", CodeMissingParameter},
	{"null messages", msgs(`null`), "messages", CodeMissingParameter},
	{"empty messages", msgs(`[]`), "messages", CodeEmptyArray},

	// Ranges.
	{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":` + user1 + `}`, "max_tokens", CodeInvalidValue},
	{"max_tokens negative", `{"model":"m","max_tokens":-5,"messages":` + user1 + `}`, "max_tokens", CodeInvalidValue},
	{"temperature above 1", body(`"temperature":1.5`), "temperature", CodeInvalidValue},
	{"temperature below 0", body(`"temperature":-0.1`), "temperature", CodeInvalidValue},
	{"top_p above 1", body(`"top_p":1.01`), "top_p", CodeInvalidValue},
	{"top_p below 0", body(`"top_p":-1`), "top_p", CodeInvalidValue},
	{"top_k negative", body(`"top_k":-1`), "top_k", CodeInvalidValue},
	{"stop sequence empty", body(`"stop_sequences":["END",""]`), "stop_sequences.1", CodeInvalidValue},
	{"stop sequence null", body(`"stop_sequences":[null]`), "stop_sequences.0", CodeInvalidValue},

	// Roles and content shapes.
	{"missing role", msgs(`[{"content":"hi"}]`), "messages.0.role", CodeMissingParameter},
	{"unknown role", msgs(`[{"role":"bot","content":"hi"}]`), "messages.0.role", CodeInvalidValue},
	{"tool role", msgs(`[{"role":"tool","content":"hi"}]`), "messages.0.role", CodeInvalidValue},
	{"role wrong case", msgs(`[{"role":"User","content":"hi"}]`), "messages.0.role", CodeInvalidValue},
	{"content missing", msgs(`[{"role":"user"}]`), "messages.0.content", CodeMissingParameter},
	{"empty blocks", msgs(`[{"role":"user","content":[]}]`), "messages.0.content", CodeEmptyArray},
	{"block type missing", msgs(`[{"role":"user","content":[{"text":"hi"}]}]`), "messages.0.content.0.type", CodeMissingParameter},
	{"block type unknown", msgs(`[{"role":"user","content":[{"type":"video"}]}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"text without text", msgs(`[{"role":"user","content":[{"type":"text"}]}]`), "messages.0.content.0.text", CodeMissingParameter},
	{"text null text", msgs(`[{"role":"user","content":[{"type":"text","text":null}]}]`), "messages.0.content.0.text", CodeMissingParameter},
	{"second block bad", msgs(`[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text"}]}]`), "messages.0.content.1.text", CodeMissingParameter},

	// Blocks in the wrong role.
	{"user tool_use", msgs(`[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"assistant tool_result", msgs(`[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"assistant image", msgs(`[{"role":"assistant","content":[` + image(`{"type":"url","url":"http://x"}`) + `]}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"user thinking", msgs(`[{"role":"user","content":[{"type":"thinking","thinking":"hm","signature":"s"}]}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"system message image", msgs(`[{"role":"system","content":[` + image(`{"type":"url","url":"http://x"}`) + `]},{"role":"user","content":"hi"}]`), "messages.0.content.0.type", CodeInvalidValue},
	{"system prompt image", body(`"system":[` + image(`{"type":"url","url":"http://x"}`) + `]`), "system.0.type", CodeInvalidValue},
	{"system prompt block without text", body(`"system":[{"type":"text"}]`), "system.0.text", CodeMissingParameter},

	// Unsupported blocks.
	{"document block", msgs(`[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]`), "messages.0.content.0.type", CodeUnsupportedValue},
	{"document url block", msgs(`[{"role":"user","content":[{"type":"text","text":"read"},{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]`), "messages.0.content.1.type", CodeUnsupportedValue},
	{"search_result block with string source", msgs(`[{"role":"user","content":[{"type":"search_result","source":"https://x","title":"t","content":[{"type":"text","text":"x"}]}]}]`), "messages.0.content.0.type", CodeUnsupportedValue},
	{"server_tool_use block", msgs(`[{"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}}]}]`), "messages.0.content.0.type", CodeUnsupportedValue},
	{"web_search_tool_result with error object", msgs(`[{"role":"assistant","content":[{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":{"type":"web_search_tool_result_error","error_code":"unavailable"}}]}]`), "messages.0.content.0.type", CodeUnsupportedValue},
	{"image from files api", msgs(`[{"role":"user","content":[` + image(`{"type":"file","file_id":"file_1"}`) + `]}]`), "messages.0.content.0.source.type", CodeUnsupportedValue},
	{"image in tool_result", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[` + image(`{"type":"url","url":"http://x"}`) + `]}]}]`), "messages.0.content.0.content.0.type", CodeUnsupportedValue},
	{"document in tool_result", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}]`), "messages.0.content.0.content.0.type", CodeUnsupportedValue},

	// Images.
	{"image without source", msgs(`[{"role":"user","content":[{"type":"image"}]}]`), "messages.0.content.0.source", CodeMissingParameter},
	{"image null source", msgs(`[{"role":"user","content":[{"type":"image","source":null}]}]`), "messages.0.content.0.source", CodeInvalidType},
	{"image source without type", msgs(`[{"role":"user","content":[` + image(`{"url":"http://x"}`) + `]}]`), "messages.0.content.0.source.type", CodeMissingParameter},
	{"image source unknown type", msgs(`[{"role":"user","content":[` + image(`{"type":"path","path":"/etc/passwd"}`) + `]}]`), "messages.0.content.0.source.type", CodeInvalidValue},
	{"image url empty", msgs(`[{"role":"user","content":[` + image(`{"type":"url","url":""}`) + `]}]`), "messages.0.content.0.source.url", CodeMissingParameter},
	{"image base64 without media_type", msgs(`[{"role":"user","content":[` + image(`{"type":"base64","data":"iVBORw0KGgo="}`) + `]}]`), "messages.0.content.0.source.media_type", CodeMissingParameter},
	{"image base64 bad media_type", msgs(`[{"role":"user","content":[` + image(`{"type":"base64","media_type":"image/bmp","data":"Qk0="}`) + `]}]`), "messages.0.content.0.source.media_type", CodeInvalidValue},
	{"image base64 without data", msgs(`[{"role":"user","content":[` + image(`{"type":"base64","media_type":"image/png"}`) + `]}]`), "messages.0.content.0.source.data", CodeMissingParameter},

	// Tool use and tool results.
	{"tool_use without id", msgs(`[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]`), "messages.0.content.0.id", CodeMissingParameter},
	{"tool_use without name", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]}]`), "messages.0.content.0.name", CodeMissingParameter},
	{"tool_use without input", msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f"}]}]`), "messages.0.content.0.input", CodeMissingParameter},
	{"tool_result without tool_use_id", msgs(`[{"role":"user","content":[{"type":"tool_result","content":"42"}]}]`), "messages.0.content.0.tool_use_id", CodeMissingParameter},
	{"tool_result block without type", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"text":"x"}]}]}]`), "messages.0.content.0.content.0.type", CodeMissingParameter},
	{"tool_result block null", msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[null]}]}]`), "messages.0.content.0.content.0", CodeInvalidType},

	// Tools.
	{"server tool web_search", body(`"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]`), "tools.0.type", CodeUnsupportedValue},
	{"server tool bash", body(`"tools":[` + tool("f") + `,{"type":"bash_20250124","name":"bash"}]`), "tools.1.type", CodeUnsupportedValue},
	{"tool without name", body(`"tools":[{"input_schema":{}}]`), "tools.0.name", CodeMissingParameter},
	{"tool name with space", body(`"tools":[` + tool("get weather") + `]`), "tools.0.name", CodeInvalidValue},
	{"tool name non-ascii", body(`"tools":[` + tool("wetter_für") + `]`), "tools.0.name", CodeInvalidValue},
	{"tool name 65 chars", body(`"tools":[` + tool(strings.Repeat("a", 65)) + `]`), "tools.0.name", CodeInvalidValue},
	{"duplicate tool names", body(`"tools":[` + tool("f") + `,` + tool("g") + `,` + tool("f") + `]`), "tools.2.name", CodeInvalidValue},
	{"tool without input_schema", body(`"tools":[{"name":"f"}]`), "tools.0.input_schema", CodeMissingParameter},
	{"tool null input_schema", body(`"tools":[{"name":"f","input_schema":null}]`), "tools.0.input_schema", CodeMissingParameter},

	// Tool choice.
	{"tool_choice without type", body(`"tools":[` + tool("f") + `],"tool_choice":{"name":"f"}`), "tool_choice.type", CodeMissingParameter},
	{"tool_choice unknown type", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"required"}`), "tool_choice.type", CodeInvalidValue},
	{"tool_choice function type", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{"name":"f"}}`), "tool_choice.type", CodeInvalidValue},
	{"tool_choice any without tools", body(`"tool_choice":{"type":"any"}`), "tool_choice.type", CodeParameterCombination},
	{"tool_choice tool without name", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"tool"}`), "tool_choice.name", CodeMissingParameter},
	{"tool_choice undeclared tool", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"tool","name":"g"}`), "tool_choice.name", CodeInvalidValue},
	{"tool_choice tool without tools", body(`"tool_choice":{"type":"tool","name":"f"}`), "tool_choice.name", CodeInvalidValue},
}

func TestDecodeMessagesRequestErrors(t *testing.T) {
	for _, tt := range decodeErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeMessagesRequest([]byte(tt.body))
			if req != nil {
				t.Errorf("request = %+v, want nil", req)
			}
			e := checkCallerError(t, err)
			if e.Param != tt.param || e.Code != tt.code {
				t.Errorf("param, code = %q, %q; want %q, %q (message %q)", e.Param, e.Code, tt.param, tt.code, e.Message)
			}
			if tt.param != "" && !strings.HasPrefix(e.Message, tt.param+": ") {
				t.Errorf("message %q does not start with %q", e.Message, tt.param+": ")
			}
		})
	}
}

// checkCallerError asserts that err is a 400 invalid_request_error of the
// caller class with a message and a code, and returns it.
func checkCallerError(t *testing.T, err error) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *llm.Error", err, err)
	}
	if e.Status != http.StatusBadRequest || e.Type != llm.TypeInvalidRequest || e.Class != llm.ClassCaller {
		t.Errorf("status, type, class = %d, %q, %v; want 400, invalid_request_error, caller", e.Status, e.Type, e.Class)
	}
	if e.Message == "" || e.Code == "" {
		t.Errorf("message, code = %q, %q; want both set", e.Message, e.Code)
	}
	return e
}

// TestDecodeErrorMessages pins the wording of a few errors that clients
// see, in Anthropic's "<path>: <what>" style.
func TestDecodeErrorMessages(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`{"model":"m","messages":` + user1 + `}`, "max_tokens: Field required"},
		{body(`"temperature":1.5`), "temperature: Input should be less than or equal to 1, but got 1.5"},
		{msgs(`[{"role":"bot","content":"hi"}]`), `messages.0.role: Input should be 'user' or 'assistant', but got "bot"`},
		{msgs(`[{"role":"user","content":[{"type":"text","text":1}]}]`), "messages.0.content.0.text: Input should be a string, but got a number"},
		{`{"model":"a","model":"b"}`, `model: Duplicate key "model" in the request body; each key may appear only once`},
		{msgs(`[{"role":"user","content":[{"type":"document","source":{}}]}]`), "messages.0.content.0.type: document blocks are not supported by this gateway"},
		{body(`"tools":[{"type":"web_search_20250305","name":"web_search"}]`),
			`tools.0.type: "web_search_20250305" is an Anthropic server tool, which this gateway does not run; declare client tools with name, description and input_schema`},
		{``, "The request body is empty; expected a JSON object"},
		{`[]`, "The request body must be a JSON object, but got an array"},
	}
	for _, tt := range tests {
		_, err := DecodeMessagesRequest([]byte(tt.body))
		if e := checkCallerError(t, err); e.Message != tt.want {
			t.Errorf("DecodeMessagesRequest(%s)\n got message %q\nwant %q", tt.body, e.Message, tt.want)
		}
	}
}

// TestDecodeErrorEchoIsBounded: a long client string is not repeated back
// in full, in the message or in the parameter path.
func TestDecodeErrorEchoIsBounded(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	_, err := DecodeMessagesRequest([]byte(msgs(`[{"role":"` + long + `","content":"hi"}]`)))
	if e := checkCallerError(t, err); len(e.Message) > 200 {
		t.Errorf("message is %d bytes long", len(e.Message))
	}
	_, err = DecodeMessagesRequest([]byte(body(`"metadata":{"` + long + `":1,"` + long + `":2}`)))
	if e := checkCallerError(t, err); len(e.Param) > jsonname.MaxPath+len("...") {
		t.Errorf("param is %d bytes long", len(e.Param))
	}
}

func TestDecodeMessagesRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *llm.Request
	}{
		{
			name: "minimal",
			body: body(""),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024),
				Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		},
		{
			name: "sampling, stop, stream, metadata and unknown members",
			body: body(`"temperature":0.5,"top_p":1,"top_k":40,"stop_sequences":["END","\n\nHuman:"],"stream":true,` +
				`"metadata":{"user_id":"u-1","tier":"x"},"thinking":{"type":"enabled","budget_tokens":2048},` +
				`"service_tier":"auto","container":null,"cache_control":{"type":"ephemeral"}`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Stream: true, IncludeUsage: true,
				Temperature: ptr(0.5), TopP: ptr(1.0), Stop: []string{"END", "\n\nHuman:"}, User: "u-1",
				Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		},
		{
			name: "integral floats and nulls",
			body: `{"model":"m","max_tokens":1024.0,"top_k":4e1,"messages":` + user1 +
				`,"system":null,"temperature":null,"stop_sequences":null,"tools":null,"tool_choice":null,"metadata":null,"stream":null}`,
			want: &llm.Request{Model: "m", MaxTokens: ptr(1024), Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		},
		{
			name: "system string",
			body: body(`"system":"Be brief."`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{
				{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hi"}}},
		},
		{
			name: "system blocks",
			body: body(`"system":[{"type":"text","text":"You are ","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Sextant."}]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{
				{Role: "system", Content: "You are Sextant.", Parts: []llm.ContentPart{{Type: "text", Text: "You are "}, {Type: "text", Text: "Sextant."}}},
				{Role: "user", Content: "hi"}}},
		},
		{
			name: "empty system adds nothing",
			body: body(`"system":""`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		},
		{
			name: "empty system blocks add nothing",
			body: body(`"system":[]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		},
		{
			name: "text and images",
			body: msgs(`[{"role":"user","content":[{"type":"text","text":"Compare "},` +
				image(`{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}`) + `,` +
				image(`{"type":"url","url":"https://example.com/a.jpg"}`) + `,{"type":"text","text":"please.","citations":[]}]}]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{{
				Role: "user", Content: "Compare please.", Parts: []llm.ContentPart{
					{Type: "text", Text: "Compare "},
					{Type: "image_url", ImageURL: "data:image/png;base64,iVBORw0KGgo="},
					{Type: "image_url", ImageURL: "https://example.com/a.jpg"},
					{Type: "text", Text: "please."},
				}}}},
		},
		{
			name: "tool round trip",
			body: msgs(`[{"role":"user","content":"Weather in Paris and Rome?"},` +
				`{"role":"assistant","content":[{"type":"thinking","thinking":"Two calls.","signature":"sig"},{"type":"redacted_thinking","data":"abc"},` +
				`{"type":"text","text":"Checking."},` +
				`{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{ "city" : "Paris", "units": ["c"] }},` +
				`{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},` +
				`{"type":"tool_result","tool_use_id":"toolu_2","is_error":true,"content":[{"type":"text","text":"timeout "},{"type":"text","text":"after 5s"}]},` +
				`{"type":"text","text":"Summarize."}]},` +
				`{"role":"assistant","content":"Paris is"}]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{
				{Role: "user", Content: "Weather in Paris and Rome?"},
				{Role: "assistant", Content: "Checking.", Parts: []llm.ContentPart{{Type: "text", Text: "Checking."}}, ToolCalls: []llm.ToolCall{
					{ID: "toolu_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris","units":["c"]}`}},
					{ID: "toolu_2", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Rome"}`}},
				}},
				{Role: "tool", ToolCallID: "toolu_1", Content: "18C"},
				{Role: "tool", ToolCallID: "toolu_2", Content: "Error: timeout after 5s", Parts: []llm.ContentPart{
					{Type: "text", Text: "Error: "}, {Type: "text", Text: "timeout "}, {Type: "text", Text: "after 5s"}}},
				{Role: "user", Content: "Summarize.", Parts: []llm.ContentPart{{Type: "text", Text: "Summarize."}}},
				{Role: "assistant", Content: "Paris is"},
			}},
		},
		{
			name: "tool results only",
			body: msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"},{"type":"tool_result","tool_use_id":"u","content":null,"is_error":true}]}]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{
				{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "t", Type: "function", Function: llm.FunctionCall{Name: "f", Arguments: "{}"}}}},
				{Role: "tool", ToolCallID: "t"},
				{Role: "tool", ToolCallID: "u", Content: "Error: "},
			}},
		},
		{
			name: "system role message keeps its place",
			body: msgs(`[{"role":"user","content":"hi"},{"role":"system","content":[{"type":"text","text":"Now in French."}]},{"role":"user","content":"again"}]`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{
				{Role: "user", Content: "hi"},
				{Role: "system", Content: "Now in French.", Parts: []llm.ContentPart{{Type: "text", Text: "Now in French."}}},
				{Role: "user", Content: "again"},
			}},
		},
		{
			name: "tools and tool choice tool",
			body: body(`"tools":[{"name":"get_weather","description":"Weather by city","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true,"cache_control":{"type":"ephemeral"}},` +
				`{"type":"custom","name":"get_time","input_schema":{"type":"object"}}],` +
				`"tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{{Role: "user", Content: "hi"}},
				Tools: []llm.Tool{
					{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Description: "Weather by city",
						Parameters: stdjson.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`), Strict: ptr(true)}},
					{Type: "function", Function: llm.FunctionDef{Name: "get_time", Parameters: stdjson.RawMessage(`{"type":"object"}`)}},
				},
				ToolChoice:        stdjson.RawMessage(`{"type":"function","function":{"name":"get_weather"}}`),
				ParallelToolCalls: ptr(false),
			},
		},
		{
			name: "empty tools",
			body: body(`"tools":[],"tool_choice":{"type":"auto"}`),
			want: &llm.Request{Model: "claude-sonnet-4-5", MaxTokens: ptr(1024), Messages: []llm.Message{{Role: "user", Content: "hi"}},
				ToolChoice: stdjson.RawMessage(`"auto"`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMessagesRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			assertRequest(t, got, tt.want)
		})
	}
}

func TestDecodeToolChoice(t *testing.T) {
	tools := `"tools":[` + tool("f") + `],`
	tests := []struct {
		choice   string
		want     string
		parallel *bool
	}{
		{`{"type":"auto"}`, `"auto"`, nil},
		{`{"type":"auto","disable_parallel_tool_use":false}`, `"auto"`, nil},
		{`{"type":"auto","disable_parallel_tool_use":true}`, `"auto"`, ptr(false)},
		{`{"type":"any"}`, `"required"`, nil},
		{`{"type":"any","disable_parallel_tool_use":true}`, `"required"`, ptr(false)},
		{`{"type":"tool","name":"f"}`, `{"type":"function","function":{"name":"f"}}`, nil},
		{`{"type":"none"}`, `"none"`, nil},
		{`{"type":"none","disable_parallel_tool_use":true}`, `"none"`, nil},
	}
	for _, tt := range tests {
		r, err := DecodeMessagesRequest([]byte(body(tools + `"tool_choice":` + tt.choice)))
		if err != nil {
			t.Fatalf("%s: %v", tt.choice, err)
		}
		if string(r.ToolChoice) != tt.want || !reflect.DeepEqual(r.ParallelToolCalls, tt.parallel) {
			t.Errorf("%s: tool_choice, parallel = %s, %v; want %s, %v", tt.choice, r.ToolChoice, deref(r.ParallelToolCalls), tt.want, deref(tt.parallel))
		}
		if !stdjson.Valid(r.ToolChoice) {
			t.Errorf("%s: tool_choice %s is not JSON", tt.choice, r.ToolChoice)
		}
	}
}

// TestDecodeDoesNotRetainBody: the caller may reuse the body buffer.
func TestDecodeDoesNotRetainBody(t *testing.T) {
	b := []byte(msgs(`[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]}]`))
	b = append(b[:len(b)-1], `,"tools":[{"name":"f","input_schema":{"type":"object"}}]}`...)
	r, err := DecodeMessagesRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if r.Messages[0].ToolCalls[0].Function.Arguments != `{"a":1}` || string(r.Tools[0].Function.Parameters) != `{"type":"object"}` {
		t.Errorf("decoded request changed with the body: %+v %s", r.Messages[0].ToolCalls, r.Tools[0].Function.Parameters)
	}
}

func assertRequest(t *testing.T, got, want *llm.Request) {
	t.Helper()
	g, _ := stdjson.MarshalIndent(got, "", "  ")
	w, _ := stdjson.MarshalIndent(want, "", "  ")
	if !bytes.Equal(g, w) {
		t.Errorf("request =\n%s\nwant\n%s", g, w)
	}
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
