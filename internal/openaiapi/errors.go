package openaiapi

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sextant-router/sextant/internal/jsonname"
	"github.com/sextant-router/sextant/internal/llm"
)

// Codes set on the *llm.Error values that DecodeChatRequest returns, in the
// "code" field of the wire error. They follow OpenAI's vocabulary where it
// has a word for the fault.
const (
	CodeInvalidJSON          = "invalid_json"  // the body is not one well-formed JSON object
	CodeDuplicateKey         = "duplicate_key" // an object names a member twice
	CodeInvalidType          = "invalid_type"
	CodeMissingParameter     = "missing_required_parameter"
	CodeInvalidValue         = "invalid_value"
	CodeEmptyArray           = "empty_array"
	CodeUnsupportedValue     = "unsupported_value"     // valid for OpenAI, not served by Sextant
	CodeUnsupportedParameter = "unsupported_parameter" // legacy functions / function_call
	CodeParameterCombination = "invalid_parameter_combination"
)

// invalid returns a 400 invalid_request_error for param with a code.
func invalid(code, param, format string, args ...any) *llm.Error {
	e := llm.Errorf(param, format, args...)
	e.Code = code
	return e
}

func missing(param string) *llm.Error {
	return invalid(CodeMissingParameter, param, "Missing required parameter: '%s'.", param)
}

func wrongType(param, want, got string) *llm.Error {
	return invalid(CodeInvalidType, param, "Invalid type for '%s': expected %s, but got %s instead.", param, want, got)
}

// jsonError turns an error of the json package into a 400 that names the
// offending parameter. prefix is the parameter path of the value that was
// decoded ("" for the whole body).
func jsonError(err error, prefix string, body []byte) *llm.Error {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		param := paramOf(prefix, syn.JSONPointer)
		switch {
		case errors.Is(err, jsontext.ErrDuplicateName):
			where := "the request body"
			if parent := paramOf(prefix, syn.JSONPointer.Parent()); parent != "" {
				where = "'" + parent + "'"
			}
			return invalid(CodeDuplicateKey, param, "Duplicate key %s in %s; each key may appear only once.",
				jsonname.Quote(syn.JSONPointer.LastToken()), where)
		case errors.Is(err, io.ErrUnexpectedEOF) && len(strings.TrimSpace(string(body))) == 0:
			return invalid(CodeInvalidJSON, "", "The request body is empty; expected a JSON object.")
		}
		return invalid(CodeInvalidJSON, param, "We could not parse the JSON body of your request: %v (at byte offset %d).",
			syn.Err, syn.ByteOffset)
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		param := paramOf(prefix, sem.JSONPointer)
		got := jsonname.Kind(sem.JSONKind)
		if param == "" {
			return invalid(CodeInvalidType, "", "The request body must be a JSON object, but got %s instead.", got)
		}
		if errors.Is(sem.Err, errIntRange) {
			return invalid(CodeInvalidValue, param, "Invalid value for '%s': integer out of range.", param)
		}
		var we *wantError
		if errors.As(sem.Err, &we) {
			if we.got != "" {
				got = we.got
			}
			return wrongType(param, we.want, got)
		}
		want := jsonname.Type(sem.GoType)
		if sem.JSONKind == '0' && want == "a number" {
			return invalid(CodeInvalidValue, param, "Invalid value for '%s': number out of range.", param)
		}
		return wrongType(param, want, got)
	}
	// Neither syntactic nor semantic: an I/O-like error of the decoder,
	// which for an in-memory body means it ended early.
	return invalid(CodeInvalidJSON, prefix, "We could not parse the JSON body of your request: %v.", err)
}

// paramOf renders a JSON pointer below prefix as a parameter path in
// OpenAI's style: "/messages/2/content" becomes "messages[2].content".
// Member names made only of digits read as array indexes; the path is for
// people, and such names do not occur in the request schema.
func paramOf(prefix string, p jsontext.Pointer) string {
	if p == "" {
		return prefix
	}
	var b strings.Builder
	b.WriteString(prefix)
	for tok := range p.Tokens() {
		if isIndex(tok) {
			b.WriteByte('[')
			b.WriteString(tok)
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return jsonname.CutPath(b.String())
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// wireErrorBody is OpenAI's error envelope. Param and Code are null when
// empty.
type wireErrorBody struct {
	Error wireError `json:"error"`
}

type wireError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// EncodeError returns the body of an error response:
//
//	{"error":{"message":"...","type":"...","param":null,"code":null}}
//
// It writes only the public parts of e: Message, Type, Param and Code, with
// param and code null when empty. e.Cause, e.Model and e.Class are internal
// and never written. A nil e, an empty Type or an empty Message get generic
// server-error values. The HTTP status is the caller's (e.Status).
func EncodeError(e *llm.Error) []byte {
	w := wireError{Type: llm.TypeServer, Message: "internal error"}
	if e != nil {
		if e.Type != "" {
			w.Type = e.Type
		}
		switch {
		case e.Message != "":
			w.Message = e.Message
		case http.StatusText(e.Status) != "":
			w.Message = http.StatusText(e.Status)
		}
		if e.Param != "" {
			w.Param = &e.Param
		}
		if e.Code != "" {
			w.Code = &e.Code
		}
	}
	b, err := json.Marshal(wireErrorBody{Error: w}, encodeOptions)
	if err != nil {
		// Unreachable: every field is a string and invalid UTF-8 is
		// replaced, not rejected.
		return []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	return b
}

// StreamErrorEvent returns the JSON object to send as the data of an
// in-band SSE event when a stream fails after its commit point. The caller
// writes it as "data: <object>\n\n" and then ends the stream, without a
// "data: [DONE]" line. The object has the same shape as EncodeError's, which
// is what OpenAI sends and what the official SDKs detect (an "error" member
// in an event's data) and raise as an error.
func StreamErrorEvent(e *llm.Error) []byte {
	return EncodeError(e)
}
