package anthropicapi

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

// Codes set on the *llm.Error values that DecodeMessagesRequest returns.
// Anthropic's error envelope has no code member, so they never reach the
// client; they are for Sextant's logs and metrics, and use the same words as
// the OpenAI codec so that both edges count faults alike.
const (
	CodeInvalidJSON          = "invalid_json"  // the body is not one well-formed JSON object
	CodeDuplicateKey         = "duplicate_key" // an object names a member twice
	CodeInvalidType          = "invalid_type"
	CodeMissingParameter     = "missing_required_parameter"
	CodeInvalidValue         = "invalid_value"
	CodeEmptyArray           = "empty_array"
	CodeUnsupportedValue     = "unsupported_value" // valid for Anthropic, not served by Sextant
	CodeParameterCombination = "invalid_parameter_combination"
)

// Error types of Anthropic's error envelope ("error.type").
const (
	errInvalidRequest  = "invalid_request_error"
	errAuthentication  = "authentication_error"
	errBilling         = "billing_error"
	errPermission      = "permission_error"
	errNotFound        = "not_found_error"
	errRequestTooLarge = "request_too_large"
	errRateLimit       = "rate_limit_error"
	errAPI             = "api_error"
	errTimeout         = "timeout_error"
	errOverloaded      = "overloaded_error"
)

// statusOverloaded is Anthropic's "overloaded" status.
const statusOverloaded = 529

// invalid returns a 400 invalid_request_error for param with a code. The
// message starts with the parameter path, as Anthropic's own messages do
// ("max_tokens: Field required"), because the envelope has no param member.
func invalid(code, param, format string, args ...any) *llm.Error {
	e := llm.Errorf(param, format, args...)
	e.Code = code
	if param != "" {
		e.Message = param + ": " + e.Message
	}
	return e
}

func missing(param string) *llm.Error {
	return invalid(CodeMissingParameter, param, "Field required")
}

func wrongType(param, want, got string) *llm.Error {
	return invalid(CodeInvalidType, param, "Input should be %s, but got %s", want, got)
}

func emptyArray(param string) *llm.Error {
	return invalid(CodeEmptyArray, param, "List should have at least 1 item, but got 0")
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
			return invalid(CodeDuplicateKey, param, "Duplicate key %s in %s; each key may appear only once",
				jsonname.Quote(syn.JSONPointer.LastToken()), where)
		case errors.Is(err, io.ErrUnexpectedEOF) && len(strings.TrimSpace(string(body))) == 0:
			return invalid(CodeInvalidJSON, "", "The request body is empty; expected a JSON object")
		}
		return invalid(CodeInvalidJSON, param, "The request body is not valid JSON: %v (at byte offset %d)",
			syn.Err, syn.ByteOffset)
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		param := paramOf(prefix, sem.JSONPointer)
		got := jsonname.Kind(sem.JSONKind)
		if param == "" {
			return invalid(CodeInvalidType, "", "The request body must be a JSON object, but got %s", got)
		}
		if errors.Is(sem.Err, errIntRange) {
			return invalid(CodeInvalidValue, param, "Integer out of range")
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
			return invalid(CodeInvalidValue, param, "Number out of range")
		}
		return wrongType(param, want, got)
	}
	// Neither syntactic nor semantic: for an in-memory body, the decoder
	// ran out of input.
	return invalid(CodeInvalidJSON, prefix, "The request body is not valid JSON: %v", err)
}

// paramOf renders a JSON pointer below prefix as a parameter path in
// Anthropic's style: "/messages/2/content/0" becomes "messages.2.content.0".
func paramOf(prefix string, p jsontext.Pointer) string {
	if p == "" {
		return prefix
	}
	var b strings.Builder
	b.WriteString(prefix)
	for tok := range p.Tokens() {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return jsonname.CutPath(b.String())
}

// wireErrorBody is Anthropic's error envelope.
type wireErrorBody struct {
	Type  string    `json:"type"` // always "error"
	Error wireError `json:"error"`
}

type wireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// EncodeError returns the body of an error response in Anthropic's
// envelope:
//
//	{"type":"error","error":{"type":"invalid_request_error","message":"..."}}
//
// The error type is chosen by ErrorType. Only e.Message is written (or the
// status text when it is empty); e.Cause, e.Model, e.Code and e.Class are
// internal and never written, and Anthropic's envelope has no place for
// e.Param, which the message already names. A nil e gets api_error with a
// generic message. The HTTP status is the caller's (e.Status).
func EncodeError(e *llm.Error) []byte {
	w := wireErrorBody{Type: "error", Error: wireError{Type: ErrorType(e), Message: "Internal server error"}}
	if e != nil {
		switch {
		case e.Message != "":
			w.Error.Message = e.Message
		case http.StatusText(e.Status) != "":
			w.Error.Message = http.StatusText(e.Status)
		}
	}
	b, err := json.Marshal(&w, encodeOptions)
	if err != nil {
		// Unreachable: every field is a string and invalid UTF-8 is
		// replaced, not rejected.
		return []byte(`{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`)
	}
	return b
}

// ErrorType returns the Anthropic error type for e: by status first (400
// invalid_request_error, 401 authentication_error, 402 billing_error, 403
// permission_error, 404 not_found_error, 413 request_too_large, 429
// rate_limit_error, 500 api_error, 503 and 529 overloaded_error, 504
// timeout_error), then by e.Type for other statuses (authentication,
// not found, rate limit and timeout keep their kind), then by status class
// (other 4xx invalid_request_error, anything else api_error).
func ErrorType(e *llm.Error) string {
	if e == nil {
		return errAPI
	}
	switch e.Status {
	case http.StatusBadRequest:
		return errInvalidRequest
	case http.StatusUnauthorized:
		return errAuthentication
	case http.StatusPaymentRequired:
		return errBilling
	case http.StatusForbidden:
		return errPermission
	case http.StatusNotFound:
		return errNotFound
	case http.StatusRequestEntityTooLarge:
		return errRequestTooLarge
	case http.StatusTooManyRequests:
		return errRateLimit
	case http.StatusInternalServerError:
		return errAPI
	case http.StatusServiceUnavailable, statusOverloaded:
		return errOverloaded
	case http.StatusGatewayTimeout:
		return errTimeout
	}
	switch e.Type {
	case llm.TypeAuthentication:
		return errAuthentication
	case llm.TypeNotFound:
		return errNotFound
	case llm.TypeRateLimit:
		return errRateLimit
	case llm.TypeTimeout:
		return errTimeout
	}
	switch {
	case e.Status >= 400 && e.Status < 500:
		return errInvalidRequest
	case e.Status == 0 && e.Type == llm.TypeInvalidRequest:
		return errInvalidRequest
	}
	return errAPI
}
