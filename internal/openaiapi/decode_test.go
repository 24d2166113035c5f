package openaiapi

import (
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// user1 is a minimal valid messages array.
const user1 = `[{"role":"user","content":"hi"}]`

// body returns a valid minimal request with extra top-level members
// appended (extra starts with a comma-free member list).
func body(extra string) string {
	b := `{"model":"m","messages":` + user1
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// msgs returns a request whose messages array is the given JSON.
func msgs(messages string) string {
	return `{"model":"m","messages":` + messages + `}`
}

// tool is a valid function tool declaration named name.
func tool(name string) string {
	return `{"type":"function","function":{"name":"` + name + `","parameters":{"type":"object"}}}`
}

type decodeErrorCase struct {
	name  string
	body  string
	param string
	code  string
}

// decodeErrorCases are bodies that DecodeChatRequest must reject with a 400
// naming param. They also seed the fuzzer.
var decodeErrorCases = []decodeErrorCase{
	// The body as a whole.
	{"empty body", ``, "", CodeInvalidJSON},
	{"whitespace body", " \n\t ", "", CodeInvalidJSON},
	{"not json", `{model: "m"}`, "", CodeInvalidJSON},
	{"truncated", `{"model":"m","messages":[{"role":"user"`, "messages[0]", CodeInvalidJSON},
	{"trailing object", body("") + ` {}`, "", CodeInvalidJSON},
	{"trailing garbage", body("") + `x`, "", CodeInvalidJSON},
	{"two objects no space", body("") + body(""), "", CodeInvalidJSON},
	{"array body", `[` + body("") + `]`, "", CodeInvalidType},
	{"string body", `"hello"`, "", CodeInvalidType},
	{"number body", `42`, "", CodeInvalidType},
	{"null body", `null`, "", CodeInvalidType},
	{"invalid utf8 in model", "{\"model\":\"m\xff\",\"messages\":" + user1 + "}", "model", CodeInvalidJSON},
	{"invalid utf8 in content", msgs("[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]"), "messages[0].content", CodeInvalidJSON},
	{"single quotes", `{'model':'m'}`, "", CodeInvalidJSON},
	{"trailing comma", `{"model":"m","messages":` + user1 + `,}`, "", CodeInvalidJSON},
	{"syntax error inside content", msgs(`[{"role":"user","content":}]`), "messages[0].content", CodeInvalidJSON},
	{"syntax error inside stop", body(`"stop":["a",]`), "stop", CodeInvalidJSON},

	// Duplicate keys at any depth.
	{"duplicate model", `{"model":"a","model":"b","messages":` + user1 + `}`, "model", CodeDuplicateKey},
	{"duplicate messages", `{"model":"a","messages":` + user1 + `,"messages":` + user1 + `}`, "messages", CodeDuplicateKey},
	{"duplicate unknown member", body(`"x":1,"x":2`), "x", CodeDuplicateKey},
	{"duplicate role", msgs(`[{"role":"user","role":"system","content":"hi"}]`), "messages[0].role", CodeDuplicateKey},
	{"duplicate in content part", msgs(`[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]`), "messages[0].content[0].text", CodeDuplicateKey},
	{"duplicate in tool parameters", body(`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{},"a":{}}}}}]`), "tools[0].function.parameters.properties.a", CodeDuplicateKey},
	{"duplicate in metadata", body(`"metadata":{"k":"1","k":"2"}`), "metadata.k", CodeDuplicateKey},
	{"duplicate in json_schema", body(`"response_format":{"type":"json_schema","json_schema":{"name":"a","name":"b","schema":{}}}`), "response_format.json_schema.name", CodeDuplicateKey},
	{"duplicate in tool_choice", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","type":"function","function":{"name":"f"}}`), "tool_choice.type", CodeDuplicateKey},
	{"duplicate escaped equal names", `{"model":"a","mod\u0065l":"b","messages":` + user1 + `}`, "model", CodeDuplicateKey},

	// Wrong JSON types.
	{"model number", `{"model":4,"messages":` + user1 + `}`, "model", CodeInvalidType},
	{"messages object", msgs(`{"role":"user","content":"hi"}`), "messages", CodeInvalidType},
	{"messages string", msgs(`"hi"`), "messages", CodeInvalidType},
	{"message string", msgs(`["hi"]`), "messages[0]", CodeInvalidType},
	{"message null", msgs(`[null]`), "messages[0]", CodeInvalidType},
	{"second message null", msgs(`[{"role":"user","content":"hi"},null]`), "messages[1]", CodeInvalidType},
	{"role number", msgs(`[{"role":1,"content":"hi"}]`), "messages[0].role", CodeInvalidType},
	{"content number", msgs(`[{"role":"user","content":1}]`), "messages[0].content", CodeInvalidType},
	{"content object", msgs(`[{"role":"user","content":{"type":"text","text":"hi"}}]`), "messages[0].content", CodeInvalidType},
	{"content bool", msgs(`[{"role":"user","content":true}]`), "messages[0].content", CodeInvalidType},
	{"content part string", msgs(`[{"role":"user","content":["hi"]}]`), "messages[0].content[0]", CodeInvalidType},
	{"content part null", msgs(`[{"role":"user","content":[null]}]`), "messages[0].content[0]", CodeInvalidType},
	{"text part text number", msgs(`[{"role":"user","content":[{"type":"text","text":1}]}]`), "messages[0].content[0].text", CodeInvalidType},
	{"image_url string", msgs(`[{"role":"user","content":[{"type":"image_url","image_url":"http://x"}]}]`), "messages[0].content[0].image_url", CodeInvalidType},
	{"name number", msgs(`[{"role":"user","content":"hi","name":1}]`), "messages[0].name", CodeInvalidType},
	{"tool_calls object", msgs(`[{"role":"assistant","tool_calls":{}}]`), "messages[0].tool_calls", CodeInvalidType},
	{"tool call null", msgs(`[{"role":"assistant","tool_calls":[null]}]`), "messages[0].tool_calls[0]", CodeInvalidType},
	{"tool call arguments object", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]`), "messages[0].tool_calls[0].function.arguments", CodeInvalidType},
	{"temperature string", body(`"temperature":"hot"`), "temperature", CodeInvalidType},
	{"temperature bool", body(`"temperature":true`), "temperature", CodeInvalidType},
	{"top_p array", body(`"top_p":[1]`), "top_p", CodeInvalidType},
	{"stream string", body(`"stream":"true"`), "stream", CodeInvalidType},
	{"stream number", body(`"stream":1`), "stream", CodeInvalidType},
	{"n decimal", body(`"n":1.5`), "n", CodeInvalidType},
	{"n string", body(`"n":"2"`), "n", CodeInvalidType},
	{"max_tokens string", body(`"max_tokens":"100"`), "max_tokens", CodeInvalidType},
	{"max_completion_tokens decimal", body(`"max_completion_tokens":10.5`), "max_completion_tokens", CodeInvalidType},
	{"seed decimal", body(`"seed":1.5`), "seed", CodeInvalidType},
	{"logprobs string", body(`"logprobs":"yes"`), "logprobs", CodeInvalidType},
	{"top_logprobs string", body(`"logprobs":true,"top_logprobs":"5"`), "top_logprobs", CodeInvalidType},
	{"stop number", body(`"stop":1`), "stop", CodeInvalidType},
	{"stop object", body(`"stop":{}`), "stop", CodeInvalidType},
	{"stop array of numbers", body(`"stop":["a",1]`), "stop[1]", CodeInvalidType},
	{"tools object", body(`"tools":{}`), "tools", CodeInvalidType},
	{"tool null", body(`"tools":[null]`), "tools[0]", CodeInvalidType},
	{"tool function string", body(`"tools":[{"type":"function","function":"f"}]`), "tools[0].function", CodeInvalidType},
	{"tool strict string", body(`"tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]`), "tools[0].function.strict", CodeInvalidType},
	{"tool parameters array", body(`"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]`), "tools[0].function.parameters", CodeInvalidType},
	{"tool parameters string", body(`"tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]`), "tools[0].function.parameters", CodeInvalidType},
	{"tool_choice number", body(`"tool_choice":1`), "tool_choice", CodeInvalidType},
	{"tool_choice array", body(`"tool_choice":["auto"]`), "tool_choice", CodeInvalidType},
	{"tool_choice name number", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{"name":1}}`), "tool_choice.function.name", CodeInvalidType},
	{"parallel_tool_calls string", body(`"parallel_tool_calls":"no"`), "parallel_tool_calls", CodeInvalidType},
	{"response_format string", body(`"response_format":"json_object"`), "response_format", CodeInvalidType},
	{"json_schema string", body(`"response_format":{"type":"json_schema","json_schema":"s"}`), "response_format.json_schema", CodeInvalidType},
	{"json_schema name number", body(`"response_format":{"type":"json_schema","json_schema":{"name":1,"schema":{}}}`), "response_format.json_schema.name", CodeInvalidType},
	{"json_schema strict string", body(`"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{},"strict":"yes"}}`), "response_format.json_schema.strict", CodeInvalidType},
	{"json_schema schema array", body(`"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":[]}}`), "response_format.json_schema.schema", CodeInvalidType},
	{"stream_options string", body(`"stream":true,"stream_options":"usage"`), "stream_options", CodeInvalidType},
	{"include_usage string", body(`"stream":true,"stream_options":{"include_usage":"yes"}`), "stream_options.include_usage", CodeInvalidType},
	{"metadata array", body(`"metadata":["a"]`), "metadata", CodeInvalidType},
	{"metadata value number", body(`"metadata":{"k":1}`), "metadata.k", CodeInvalidType},
	{"metadata value null", body(`"metadata":{"k":null,"j":{}}`), "metadata.j", CodeInvalidType},
	{"user number", body(`"user":42`), "user", CodeInvalidType},

	// Numbers out of the range of their Go type.
	{"n huge", body(`"n":1e30`), "n", CodeInvalidValue},
	{"seed beyond int64", body(`"seed":9223372036854775808`), "seed", CodeInvalidValue},
	{"temperature overflows float64", body(`"temperature":1e400`), "temperature", CodeInvalidValue},

	// Missing or empty required parameters.
	{"no model", `{"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"empty model", `{"model":"","messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"null model", `{"model":null,"messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"model wrong case key", `{"Model":"m","messages":` + user1 + `}`, "model", CodeMissingParameter},
	{"no messages", `{"model":"m"}`, "messages", CodeMissingParameter},
	{"null messages", msgs(`null`), "messages", CodeMissingParameter},
	{"empty messages", msgs(`[]`), "messages", CodeEmptyArray},
	{"empty object", `{}`, "model", CodeMissingParameter},

	// Roles.
	{"missing role", msgs(`[{"content":"hi"}]`), "messages[0].role", CodeMissingParameter},
	{"unknown role", msgs(`[{"role":"bot","content":"hi"}]`), "messages[0].role", CodeInvalidValue},
	{"role wrong case", msgs(`[{"role":"User","content":"hi"}]`), "messages[0].role", CodeInvalidValue},
	{"legacy function role", msgs(`[{"role":"user","content":"hi"},{"role":"function","name":"f","content":"{}"}]`), "messages[1].role", CodeUnsupportedParameter},

	// Content shapes.
	{"user content missing", msgs(`[{"role":"user"}]`), "messages[0].content", CodeMissingParameter},
	{"user content null", msgs(`[{"role":"user","content":null}]`), "messages[0].content", CodeInvalidType},
	{"system content null", msgs(`[{"role":"system","content":null}]`), "messages[0].content", CodeInvalidType},
	{"tool content missing", msgs(`[{"role":"tool","tool_call_id":"c"}]`), "messages[0].content", CodeMissingParameter},
	{"assistant content null without tool calls", msgs(`[{"role":"assistant","content":null}]`), "messages[0].content", CodeMissingParameter},
	{"assistant content missing", msgs(`[{"role":"assistant"}]`), "messages[0].content", CodeMissingParameter},
	{"assistant empty tool_calls and null content", msgs(`[{"role":"assistant","content":null,"tool_calls":[]}]`), "messages[0].content", CodeMissingParameter},
	{"empty content parts", msgs(`[{"role":"user","content":[]}]`), "messages[0].content", CodeEmptyArray},
	{"part type missing", msgs(`[{"role":"user","content":[{"text":"hi"}]}]`), "messages[0].content[0].type", CodeMissingParameter},
	{"part type unknown", msgs(`[{"role":"user","content":[{"type":"video","video":{}}]}]`), "messages[0].content[0].type", CodeInvalidValue},
	{"user input_audio part", msgs(`[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]`), "messages[0].content[1].type", CodeUnsupportedValue},
	{"user file part", msgs(`[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]`), "messages[0].content[0].type", CodeUnsupportedValue},
	{"system image part", msgs(`[{"role":"system","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]`), "messages[0].content[0].type", CodeInvalidValue},
	{"assistant image part", msgs(`[{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]`), "messages[0].content[0].type", CodeInvalidValue},
	{"user refusal part", msgs(`[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]`), "messages[0].content[0].type", CodeInvalidValue},
	{"tool refusal part", msgs(`[{"role":"tool","tool_call_id":"c","content":[{"type":"refusal","refusal":"no"}]}]`), "messages[0].content[0].type", CodeInvalidValue},
	{"text part without text", msgs(`[{"role":"user","content":[{"type":"text"}]}]`), "messages[0].content[0].text", CodeMissingParameter},
	{"text part null text", msgs(`[{"role":"user","content":[{"type":"text","text":null}]}]`), "messages[0].content[0].text", CodeMissingParameter},
	{"image part without image_url", msgs(`[{"role":"user","content":[{"type":"image_url"}]}]`), "messages[0].content[0].image_url", CodeMissingParameter},
	{"image part without url", msgs(`[{"role":"user","content":[{"type":"image_url","image_url":{"detail":"low"}}]}]`), "messages[0].content[0].image_url.url", CodeMissingParameter},
	{"image detail unknown", msgs(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x","detail":"ultra"}}]}]`), "messages[0].content[0].image_url.detail", CodeInvalidValue},
	{"refusal part without refusal", msgs(`[{"role":"assistant","content":[{"type":"refusal"}]}]`), "messages[0].content[0].refusal", CodeMissingParameter},

	// Tool messages and tool calls.
	{"tool message without tool_call_id", msgs(`[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]`), "messages[1].tool_call_id", CodeMissingParameter},
	{"tool message empty tool_call_id", msgs(`[{"role":"tool","tool_call_id":"","content":"42"}]`), "messages[0].tool_call_id", CodeMissingParameter},
	{"user with tool_calls", msgs(`[{"role":"user","content":"hi","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[0].tool_calls", CodeInvalidValue},
	{"tool call without id", msgs(`[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[0].tool_calls[0].id", CodeMissingParameter},
	{"tool call without function", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}]`), "messages[0].tool_calls[0].function", CodeMissingParameter},
	{"tool call without name", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}]`), "messages[0].tool_calls[0].function.name", CodeMissingParameter},
	{"tool call custom type", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{"name":"f","input":"x"}}]}]`), "messages[0].tool_calls[0].type", CodeUnsupportedValue},
	{"tool call unknown type", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","type":"retrieval","function":{"name":"f"}}]}]`), "messages[0].tool_calls[0].type", CodeInvalidValue},
	{"second tool call bad", msgs(`[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f"}},{"id":"b","function":{}}]}]`), "messages[0].tool_calls[1].function.name", CodeMissingParameter},

	// Legacy function calling.
	{"legacy functions", body(`"functions":[{"name":"f","parameters":{}}]`), "functions", CodeUnsupportedParameter},
	{"legacy function_call", body(`"function_call":"auto"`), "function_call", CodeUnsupportedParameter},
	{"legacy assistant function_call", msgs(`[{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}}]`), "messages[0].function_call", CodeUnsupportedParameter},

	// Sampling ranges.
	{"temperature below 0", body(`"temperature":-0.1`), "temperature", CodeInvalidValue},
	{"temperature above 2", body(`"temperature":2.0001`), "temperature", CodeInvalidValue},
	{"top_p above 1", body(`"top_p":1.5`), "top_p", CodeInvalidValue},
	{"top_p below 0", body(`"top_p":-1`), "top_p", CodeInvalidValue},
	{"presence_penalty below -2", body(`"presence_penalty":-2.5`), "presence_penalty", CodeInvalidValue},
	{"frequency_penalty above 2", body(`"frequency_penalty":3`), "frequency_penalty", CodeInvalidValue},
	{"n zero", body(`"n":0`), "n", CodeInvalidValue},
	{"n above 128", body(`"n":129`), "n", CodeInvalidValue},
	{"n negative", body(`"n":-1`), "n", CodeInvalidValue},
	{"top_logprobs above 20", body(`"logprobs":true,"top_logprobs":21`), "top_logprobs", CodeInvalidValue},
	{"top_logprobs negative", body(`"logprobs":true,"top_logprobs":-1`), "top_logprobs", CodeInvalidValue},
	{"top_logprobs without logprobs", body(`"top_logprobs":5`), "top_logprobs", CodeParameterCombination},
	{"top_logprobs with logprobs false", body(`"logprobs":false,"top_logprobs":0`), "top_logprobs", CodeParameterCombination},
	{"max_tokens zero", body(`"max_tokens":0`), "max_tokens", CodeInvalidValue},
	{"max_tokens negative", body(`"max_tokens":-5`), "max_tokens", CodeInvalidValue},
	{"max_completion_tokens zero", body(`"max_completion_tokens":0`), "max_completion_tokens", CodeInvalidValue},
	{"max tokens disagree", body(`"max_tokens":100,"max_completion_tokens":200`), "max_tokens", CodeParameterCombination},

	// Stop.
	{"stop five sequences", body(`"stop":["a","b","c","d","e"]`), "stop", CodeInvalidValue},
	{"stop empty string", body(`"stop":""`), "stop", CodeInvalidValue},
	{"stop empty element", body(`"stop":["a",""]`), "stop[1]", CodeInvalidValue},
	{"stop null element", body(`"stop":[null]`), "stop[0]", CodeInvalidValue},

	// Tools.
	{"tool without type", body(`"tools":[{"function":{"name":"f"}}]`), "tools[0].type", CodeMissingParameter},
	{"tool custom type", body(`"tools":[{"type":"custom","custom":{"name":"f"}}]`), "tools[0].type", CodeUnsupportedValue},
	{"tool unknown type", body(`"tools":[{"type":"code_interpreter"}]`), "tools[0].type", CodeInvalidValue},
	{"tool without function", body(`"tools":[{"type":"function"}]`), "tools[0].function", CodeMissingParameter},
	{"tool without name", body(`"tools":[{"type":"function","function":{"description":"d"}}]`), "tools[0].function.name", CodeMissingParameter},
	{"tool name with space", body(`"tools":[` + tool("get weather") + `]`), "tools[0].function.name", CodeInvalidValue},
	{"tool name with dot", body(`"tools":[` + tool("a.b") + `]`), "tools[0].function.name", CodeInvalidValue},
	{"tool name non-ascii", body(`"tools":[` + tool("wetter_für") + `]`), "tools[0].function.name", CodeInvalidValue},
	{"tool name 65 chars", body(`"tools":[` + tool(strings.Repeat("a", 65)) + `]`), "tools[0].function.name", CodeInvalidValue},
	{"duplicate tool names", body(`"tools":[` + tool("f") + `,` + tool("g") + `,` + tool("f") + `]`), "tools[2].function.name", CodeInvalidValue},
	{"129 tools", body(`"tools":[` + manyTools(129) + `]`), "tools", CodeInvalidValue},

	// Tool choice.
	{"tool_choice unknown mode", body(`"tool_choice":"sometimes"`), "tool_choice", CodeInvalidValue},
	{"tool_choice required without tools", body(`"tool_choice":"required"`), "tool_choice", CodeParameterCombination},
	{"tool_choice object without type", body(`"tools":[` + tool("f") + `],"tool_choice":{"function":{"name":"f"}}`), "tool_choice.type", CodeMissingParameter},
	{"tool_choice allowed_tools", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}`), "tool_choice.type", CodeUnsupportedValue},
	{"tool_choice unknown type", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"tool","function":{"name":"f"}}`), "tool_choice.type", CodeInvalidValue},
	{"tool_choice without function", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function"}`), "tool_choice.function", CodeMissingParameter},
	{"tool_choice without name", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{}}`), "tool_choice.function.name", CodeMissingParameter},
	{"tool_choice undeclared function", body(`"tools":[` + tool("f") + `],"tool_choice":{"type":"function","function":{"name":"g"}}`), "tool_choice.function.name", CodeInvalidValue},
	{"tool_choice function without tools", body(`"tool_choice":{"type":"function","function":{"name":"f"}}`), "tool_choice.function.name", CodeInvalidValue},

	// Response format.
	{"response_format without type", body(`"response_format":{}`), "response_format.type", CodeMissingParameter},
	{"response_format unknown type", body(`"response_format":{"type":"xml"}`), "response_format.type", CodeInvalidValue},
	{"json_schema missing", body(`"response_format":{"type":"json_schema"}`), "response_format.json_schema", CodeMissingParameter},
	{"json_schema null", body(`"response_format":{"type":"json_schema","json_schema":null}`), "response_format.json_schema", CodeMissingParameter},
	{"json_schema without name", body(`"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}`), "response_format.json_schema.name", CodeMissingParameter},
	{"json_schema bad name", body(`"response_format":{"type":"json_schema","json_schema":{"name":"my schema","schema":{}}}`), "response_format.json_schema.name", CodeInvalidValue},
	{"json_schema without schema", body(`"response_format":{"type":"json_schema","json_schema":{"name":"s"}}`), "response_format.json_schema.schema", CodeMissingParameter},

	// Stream options.
	{"stream_options without stream", body(`"stream_options":{"include_usage":true}`), "stream_options", CodeParameterCombination},
	{"stream_options with stream false", body(`"stream":false,"stream_options":{"include_usage":true}`), "stream_options", CodeParameterCombination},

	// Metadata.
	{"metadata 17 keys", body(`"metadata":` + manyKeys(17)), "metadata", CodeInvalidValue},
	{"metadata key 65 chars", body(`"metadata":{"` + strings.Repeat("k", 65) + `":"v"}`), "metadata", CodeInvalidValue},
	{"metadata value 513 chars", body(`"metadata":{"k":"` + strings.Repeat("v", 513) + `"}`), "metadata", CodeInvalidValue},
}

func manyTools(n int) string {
	ts := make([]string, n)
	for i := range ts {
		ts[i] = tool(fmt.Sprintf("f%d", i))
	}
	return strings.Join(ts, ",")
}

func manyKeys(n int) string {
	kv := make([]string, n)
	for i := range kv {
		kv[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return "{" + strings.Join(kv, ",") + "}"
}

func TestDecodeChatRequestErrors(t *testing.T) {
	for _, tt := range decodeErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeChatRequest([]byte(tt.body))
			if err == nil {
				t.Fatalf("DecodeChatRequest succeeded, want error; got %+v", req)
			}
			if req != nil {
				t.Errorf("request = %+v alongside an error, want nil", req)
			}
			e := checkCallerError(t, err)
			if e.Param != tt.param {
				t.Errorf("Param = %q, want %q (message %q)", e.Param, tt.param, e.Message)
			}
			if e.Code != tt.code {
				t.Errorf("Code = %q, want %q (message %q)", e.Code, tt.code, e.Message)
			}
		})
	}
}

// checkCallerError asserts err is a 400 invalid_request_error *llm.Error
// with a message, and returns it.
func checkCallerError(t testing.TB, err error) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	if e.Status != http.StatusBadRequest || e.Type != llm.TypeInvalidRequest || e.Class != llm.ClassCaller {
		t.Errorf("Status, Type, Class = %d, %q, %v; want 400, %q, caller", e.Status, e.Type, e.Class, llm.TypeInvalidRequest)
	}
	if e.Message == "" {
		t.Error("empty Message")
	}
	if e.Cause != nil {
		t.Errorf("Cause = %v, want nil: decode errors are the caller's and fully public", e.Cause)
	}
	return e
}

func TestDecodeChatRequestErrorMessages(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"type mismatch", body(`"temperature":"hot"`), "Invalid type for 'temperature': expected a number, but got a string instead."},
		{"union mismatch", msgs(`[{"role":"user","content":7}]`), "Invalid type for 'messages[0].content': expected a string or an array of content parts, but got a number instead."},
		{"integer decimal", body(`"n":1.5`), "Invalid type for 'n': expected an integer, but got a decimal instead."},
		{"missing", `{"messages":` + user1 + `}`, "Missing required parameter: 'model'."},
		{"duplicate", msgs(`[{"role":"user","role":"user","content":"x"}]`), `Duplicate key "role" in 'messages[0]'; each key may appear only once.`},
		{"duplicate top level", `{"model":"a","model":"a","messages":` + user1 + `}`, `Duplicate key "model" in the request body; each key may appear only once.`},
		{"range", body(`"temperature":3`), "Invalid value for 'temperature': expected a number from 0 to 2, but got 3 instead."},
		{"empty", ``, "The request body is empty; expected a JSON object."},
		{"array body", `[]`, "The request body must be a JSON object, but got an array instead."},
		{"null body", ` null `, "The request body must be a JSON object, but got null instead."},
		{"max tokens", body(`"max_tokens":1,"max_completion_tokens":2`), "'max_tokens' (1) and 'max_completion_tokens' (2) disagree; send only 'max_completion_tokens' ('max_tokens' is its deprecated alias)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeChatRequest([]byte(tt.body))
			e := checkCallerError(t, err)
			if e.Message != tt.want {
				t.Errorf("Message =\n\t%s\nwant\n\t%s", e.Message, tt.want)
			}
		})
	}
}

func TestDecodeChatRequestSyntaxErrorMessage(t *testing.T) {
	_, err := DecodeChatRequest([]byte(`{"model":"m",}`))
	e := checkCallerError(t, err)
	if !strings.HasPrefix(e.Message, "We could not parse the JSON body of your request: ") ||
		!strings.Contains(e.Message, "byte offset 12") {
		t.Errorf("Message = %q", e.Message)
	}
}

func ptr[T any](v T) *T { return &v }

// fullRequest sets every parameter DecodeChatRequest maps, plus unknown
// ones that it must ignore.
const fullRequest = `{
  "model": "gpt-4o",
  "messages": [
    {"role": "developer", "content": "Be brief."},
    {"role": "system", "content": [{"type": "text", "text": "You are "}, {"type": "text", "text": "Sextant."}]},
    {"role": "user", "name": "ann", "content": [
      {"type": "text", "text": "What is in "},
      {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
      {"type": "text", "text": "this image?"}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_2", "function": {"name": "get_time"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "It is "}, {"type": "refusal", "refusal": "no"}], "audio": null},
    {"role": "assistant", "refusal": "I can't help with that."},
    {"role": "user", "content": "Thanks", "some_future_field": {"x": [1, 2]}}
  ],
  "stream": true,
  "stream_options": {"include_usage": true, "include_obfuscation": false},
  "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
    {"type": "function", "function": {"name": "get_time"}}
  ],
  "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
  "parallel_tool_calls": false,
  "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
  "logprobs": true,
  "top_logprobs": 3,
  "n": 2,
  "stop": ["\n\n", "END"],
  "max_completion_tokens": 512,
  "temperature": 0.7,
  "top_p": 0.9,
  "presence_penalty": -0.5,
  "frequency_penalty": 1.5,
  "seed": -42,
  "user": "user-123",
  "metadata": {"team": "search", "trace": "abc"},
  "service_tier": "auto",
  "reasoning_effort": "low",
  "logit_bias": {"50256": -100},
  "store": false,
  "functions": null,
  "function_call": null
}`

func TestDecodeChatRequestFull(t *testing.T) {
	got, err := DecodeChatRequest([]byte(fullRequest))
	if err != nil {
		t.Fatal(err)
	}
	want := &llm.Request{
		Model: "gpt-4o",
		Messages: []llm.Message{
			{Role: "developer", Content: "Be brief."},
			{Role: "system", Content: "You are Sextant.", Parts: []llm.ContentPart{
				{Type: "text", Text: "You are "}, {Type: "text", Text: "Sextant."}}},
			{Role: "user", Name: "ann", Content: "What is in this image?", Parts: []llm.ContentPart{
				{Type: "text", Text: "What is in "},
				{Type: "image_url", ImageURL: "https://example.com/a.png", Detail: "high"},
				{Type: "text", Text: "this image?"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{
				{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
				{ID: "call_2", Type: "function", Function: llm.FunctionCall{Name: "get_time"}}}},
			{Role: "tool", ToolCallID: "call_1", Content: "18C"},
			{Role: "tool", ToolCallID: "call_2", Content: "noon", Parts: []llm.ContentPart{{Type: "text", Text: "noon"}}},
			{Role: "assistant", Content: "It is ", Refusal: "no", Parts: []llm.ContentPart{{Type: "text", Text: "It is "}}},
			{Role: "assistant", Refusal: "I can't help with that."},
			{Role: "user", Content: "Thanks"},
		},
		Stream:       true,
		IncludeUsage: true,
		Tools: []llm.Tool{
			{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Description: "Weather by city",
				Parameters: stdjson.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}`),
				Strict:     ptr(true)}},
			{Type: "function", Function: llm.FunctionDef{Name: "get_time"}},
		},
		ToolChoice:        stdjson.RawMessage(`{"type":"function","function":{"name":"get_weather"}}`),
		ParallelToolCalls: ptr(false),
		ResponseFormat: &llm.ResponseFormat{Type: "json_schema",
			JSONSchema: stdjson.RawMessage(`{"name": "answer", "schema": {"type": "object"}, "strict": true}`)},
		Logprobs:         true,
		TopLogprobs:      ptr(3),
		N:                ptr(2),
		Stop:             []string{"\n\n", "END"},
		MaxTokens:        ptr(512),
		Temperature:      ptr(0.7),
		TopP:             ptr(0.9),
		PresencePenalty:  ptr(-0.5),
		FrequencyPenalty: ptr(1.5),
		Seed:             ptr(int64(-42)),
		User:             "user-123",
		Metadata:         map[string]string{"team": "search", "trace": "abc"},
	}
	assertRequest(t, got, want)
}

// assertRequest compares requests through their JSON form, which shows
// pointer targets and raw messages readably in a failure.
func assertRequest(t *testing.T, got, want *llm.Request) {
	t.Helper()
	g, _ := stdjson.MarshalIndent(got, "", "  ")
	w, _ := stdjson.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Errorf("request mismatch\n got: %s\nwant: %s", g, w)
	}
	// The JSON form hides the difference between nil and empty; check the
	// slices adapters test with len() or == nil.
	for i := range min(len(got.Messages), len(want.Messages)) {
		if (got.Messages[i].Parts == nil) != (want.Messages[i].Parts == nil) {
			t.Errorf("messages[%d].Parts nil = %v, want %v", i, got.Messages[i].Parts == nil, want.Messages[i].Parts == nil)
		}
		if (got.Messages[i].ToolCalls == nil) != (want.Messages[i].ToolCalls == nil) {
			t.Errorf("messages[%d].ToolCalls nil = %v, want %v", i, got.Messages[i].ToolCalls == nil, want.Messages[i].ToolCalls == nil)
		}
	}
	if (got.Tools == nil) != (want.Tools == nil) || (got.Stop == nil) != (want.Stop == nil) ||
		(got.Metadata == nil) != (want.Metadata == nil) || (got.ToolChoice == nil) != (want.ToolChoice == nil) {
		t.Errorf("nil-ness of Tools/Stop/Metadata/ToolChoice differs: got %v/%v/%v/%v want %v/%v/%v/%v",
			got.Tools == nil, got.Stop == nil, got.Metadata == nil, got.ToolChoice == nil,
			want.Tools == nil, want.Stop == nil, want.Metadata == nil, want.ToolChoice == nil)
	}
}

func TestDecodeChatRequestHappy(t *testing.T) {
	base := func(mod func(r *llm.Request)) *llm.Request {
		r := &llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Content: "hi"}}}
		if mod != nil {
			mod(r)
		}
		return r
	}
	tests := []struct {
		name string
		body string
		want *llm.Request
	}{
		{"minimal", body(""), base(nil)},
		{"surrounding whitespace", "\n\t " + body("") + " \r\n", base(nil)},
		{"every optional parameter null", body(`"stream":null,"stream_options":null,"tools":null,"tool_choice":null,
			"parallel_tool_calls":null,"response_format":null,"logprobs":null,"top_logprobs":null,"n":null,"stop":null,
			"max_tokens":null,"max_completion_tokens":null,"temperature":null,"top_p":null,"presence_penalty":null,
			"frequency_penalty":null,"seed":null,"user":null,"metadata":null,"functions":null,"function_call":null`), base(nil)},
		{"unknown members ignored", `{"model":"m","Model":"x","messages":[{"role":"user","content":"hi","extra":[{"deep":{"a":1}}]}],
			"modalities":["text"],"audio":{"voice":"alloy"},"prediction":{"type":"content","content":"x"},"verbosity":"low"}`, base(nil)},
		{"max_tokens only", body(`"max_tokens":100`), base(func(r *llm.Request) { r.MaxTokens = ptr(100) })},
		{"max_completion_tokens only", body(`"max_completion_tokens":100`), base(func(r *llm.Request) { r.MaxTokens = ptr(100) })},
		{"max tokens agree", body(`"max_tokens":100,"max_completion_tokens":100`), base(func(r *llm.Request) { r.MaxTokens = ptr(100) })},
		{"integral floats are integers", body(`"n":2.0,"max_tokens":1e2,"seed":-3E0,"logprobs":true,"top_logprobs":0.0`),
			base(func(r *llm.Request) {
				r.N, r.MaxTokens, r.Seed, r.Logprobs, r.TopLogprobs = ptr(2), ptr(100), ptr(int64(-3)), true, ptr(0)
			})},
		{"range bounds inclusive", body(`"temperature":0,"top_p":1,"n":128,"presence_penalty":-2,"frequency_penalty":2,"logprobs":true,"top_logprobs":20,"max_tokens":1`),
			base(func(r *llm.Request) {
				r.Temperature, r.TopP, r.N, r.PresencePenalty, r.FrequencyPenalty = ptr(0.0), ptr(1.0), ptr(128), ptr(-2.0), ptr(2.0)
				r.Logprobs, r.TopLogprobs, r.MaxTokens = true, ptr(20), ptr(1)
			})},
		{"seed extremes", body(`"seed":-9223372036854775808`), base(func(r *llm.Request) { r.Seed = ptr(int64(-9223372036854775808)) })},
		{"stop string", body(`"stop":"END"`), base(func(r *llm.Request) { r.Stop = []string{"END"} })},
		{"stop empty array", body(`"stop":[]`), base(nil)},
		{"stop four", body(`"stop":["a","b","c","d"]`), base(func(r *llm.Request) { r.Stop = []string{"a", "b", "c", "d"} })},
		{"empty tools array", body(`"tools":[]`), base(nil)},
		{"tool_choice none without tools", body(`"tool_choice":"none"`), base(func(r *llm.Request) { r.ToolChoice = stdjson.RawMessage(`"none"`) })},
		{"tool_choice auto without tools", body(`"tool_choice":"auto"`), base(func(r *llm.Request) { r.ToolChoice = stdjson.RawMessage(`"auto"`) })},
		{"tool_choice required", body(`"tools":[{"type":"function","function":{"name":"f-1_A"}}],"tool_choice":"required"`),
			base(func(r *llm.Request) {
				r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f-1_A"}}}
				r.ToolChoice = stdjson.RawMessage(`"required"`)
			})},
		{"tool parameters null", body(`"tools":[{"type":"function","function":{"name":"f","parameters":null}}]`),
			base(func(r *llm.Request) { r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "f"}}} })},
		{"tool name 64 chars", body(`"tools":[{"type":"function","function":{"name":"` + strings.Repeat("a", 64) + `"}}]`),
			base(func(r *llm.Request) {
				r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: strings.Repeat("a", 64)}}}
			})},
		{"response_format text", body(`"response_format":{"type":"text"}`), base(func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "text"} })},
		{"response_format json_object", body(`"response_format":{"type":"json_object"}`), base(func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} })},
		{"stream without options", body(`"stream":true`), base(func(r *llm.Request) { r.Stream = true })},
		{"stream include_usage false", body(`"stream":true,"stream_options":{"include_usage":false}`), base(func(r *llm.Request) { r.Stream = true })},
		{"stream include_usage", body(`"stream":true,"stream_options":{"include_usage":true}`), base(func(r *llm.Request) { r.Stream, r.IncludeUsage = true, true })},
		{"metadata limits counted in characters", body(`"metadata":{"` + strings.Repeat("é", 64) + `":"` + strings.Repeat("é", 512) + `"}`),
			base(func(r *llm.Request) {
				r.Metadata = map[string]string{strings.Repeat("é", 64): strings.Repeat("é", 512)}
			})},
		{"metadata 16 keys", body(`"metadata":` + manyKeys(16)), base(func(r *llm.Request) {
			r.Metadata = map[string]string{}
			for i := range 16 {
				r.Metadata[fmt.Sprintf("k%d", i)] = "v"
			}
		})},
		{"empty metadata", body(`"metadata":{}`), base(nil)},
		{"empty user content", msgs(`[{"role":"user","content":""}]`), &llm.Request{Model: "m", Messages: []llm.Message{{Role: "user"}}}},
		{"escaped strings", `{"model":"m\u00e9","messages":[{"role":"user","content":"a\"b\\c\n\u2028\ud83d\ude00"}]}`,
			&llm.Request{Model: "mé", Messages: []llm.Message{{Role: "user", Content: "a\"b\\c\n\u2028😀"}}}},
		{"assistant tool call without content", msgs(`[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":""}}]}]`),
			&llm.Request{Model: "m", Messages: []llm.Message{{Role: "assistant", ToolCalls: []llm.ToolCall{
				{ID: "c", Type: "function", Function: llm.FunctionCall{Name: "f"}}}}}}},
		{"assistant content with tool calls", msgs(`[{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]`),
			&llm.Request{Model: "m", Messages: []llm.Message{{Role: "assistant", Content: "Let me check.", ToolCalls: []llm.ToolCall{
				{ID: "c", Type: "function", Function: llm.FunctionCall{Name: "f", Arguments: "{}"}}}}}}},
		{"image only user message", msgs(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]`),
			&llm.Request{Model: "m", Messages: []llm.Message{{Role: "user", Parts: []llm.ContentPart{
				{Type: "image_url", ImageURL: "data:image/png;base64,AAAA"}}}}}},
		{"refusal-only parts", msgs(`[{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]`),
			&llm.Request{Model: "m", Messages: []llm.Message{{Role: "assistant", Refusal: "no"}}}},
		{"tool_call_id on other roles ignored", msgs(`[{"role":"user","content":"hi","tool_call_id":"x"}]`), base(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeChatRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeChatRequest: %v", err)
			}
			assertRequest(t, got, tt.want)
		})
	}
}

// TestDecodeChatRequestDoesNotRetainBody guards the contract that the
// server may reuse the body buffer: every string and raw value in the
// request must be a copy.
func TestDecodeChatRequestDoesNotRetainBody(t *testing.T) {
	b := []byte(fullRequest)
	got, err := DecodeChatRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := stdjson.Marshal(got)
	for i := range b {
		b[i] = 'X'
	}
	after, _ := stdjson.Marshal(got)
	if string(before) != string(after) {
		t.Errorf("request changed when the body was overwritten:\nbefore %s\nafter  %s", before, after)
	}
}

func TestEncodeDecodeError(t *testing.T) {
	_, err := DecodeChatRequest([]byte(msgs(`[{"role":"tool","content":"x"}]`)))
	e := checkCallerError(t, err)
	got := string(EncodeError(e))
	want := `{"error":{"message":"Missing required parameter: 'messages[0].tool_call_id'.","type":"invalid_request_error","param":"messages[0].tool_call_id","code":"missing_required_parameter"}}`
	if got != want {
		t.Errorf("EncodeError =\n\t%s\nwant\n\t%s", got, want)
	}
}

// TestDecodeChatRequestEchoIsBounded: error messages and params quote client
// input; a huge name must not come back whole.
func TestDecodeChatRequestEchoIsBounded(t *testing.T) {
	long := strings.Repeat("é", 10_000)
	tests := []struct{ name, body string }{
		{"long tool name", body(`"tools":[` + tool(long) + `]`)},
		{"long role", msgs(`[{"role":"` + long + `","content":"x"}]`)},
		{"long duplicate key", `{"model":"m","messages":` + user1 + `,"` + long + `":1,"` + long + `":2}`},
		{"long metadata key", body(`"metadata":{"` + long + `":"v"}`)},
		{"deep duplicate key", body(`"tools":[{"type":"function","function":{"name":"f","parameters":` +
			strings.Repeat(`{"`+long[:200]+`":`, 20) + `{"a":1,"a":2}` + strings.Repeat("}", 20) + `}}]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeChatRequest([]byte(tt.body))
			e := checkCallerError(t, err)
			if len(e.Message) > 1024 || len(e.Param) > jsonname.MaxPath+len("...") {
				t.Errorf("message is %d bytes, param %d bytes", len(e.Message), len(e.Param))
			}
			if !utf8.ValidString(e.Message) || !utf8.ValidString(e.Param) {
				t.Errorf("truncation split a character: %q / %q", e.Message, e.Param)
			}
		})
	}
}
