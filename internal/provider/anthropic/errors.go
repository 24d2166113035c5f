package anthropic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// Error codes the adapter sets itself. An error the upstream described
// carries the upstream's error type (overloaded_error, rate_limit_error,
// ...) as its code instead.
const (
	CodeUpstreamError        = upstream.CodeUpstreamError       // an upstream error body without a type
	CodeUpstreamUnreachable  = upstream.CodeUpstreamUnreachable // connection refused, reset, DNS, TLS
	CodeUpstreamTimeout      = upstream.CodeUpstreamTimeout     // the attempt's deadline passed
	CodeClientClosed         = upstream.CodeClientClosed        // the caller's context was canceled
	CodeStreamTruncated      = upstream.CodeStreamTruncated     // a stream ended before message_stop
	CodeBadResponse          = upstream.CodeBadResponse         // a 2xx body that is not the documented shape
	CodeUnsupportedParameter = "unsupported_parameter"          // the request needs what the Messages API lacks
)

// The upstream's error types, as the Messages API documents them.
const (
	errInvalidRequest = "invalid_request_error" // 400
	errAuthentication = "authentication_error"  // 401
	errBilling        = "billing_error"         // 402
	errPermission     = "permission_error"      // 403
	errNotFound       = "not_found_error"       // 404
	errTooLarge       = "request_too_large"     // 413
	errRateLimit      = "rate_limit_error"      // 429
	errAPI            = "api_error"             // 500
	errTimeout        = "timeout_error"         // 504
	errOverloaded     = "overloaded_error"      // 529
)

// statusOverloaded is Anthropic's non-standard "overloaded" status.
const statusOverloaded = 529

// spendLimitReached is the details.error_code of a 429 sent when the
// organization has reached its monthly spend cap: retrying cannot help.
const spendLimitReached = "enforced_spend_limit_reached"

// UpstreamError is what the upstream said about a failure. It is the Cause
// of the *llm.Error the adapter returns, kept for logs and traces; no field
// holds the API key.
type UpstreamError struct {
	Status    int    // HTTP status; 0 for an error sent inside a stream
	Type      string // the body's error type, e.g. "overloaded_error"
	Message   string
	RequestID string // the request-id header or the body's request_id
	// Body is the start of the body when it held no recognizable error
	// object (an HTML page from a proxy, plain text).
	Body string
}

func (e *UpstreamError) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "upstream HTTP %d", e.Status)
	} else {
		b.WriteString("upstream stream error")
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " type=%s", e.Type)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " request_id=%s", e.RequestID)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " body=%q", e.Body)
	}
	return b.String()
}

// errorBody is the "error" member of an error response or event:
// {"type": "...", "message": "...", "details": {"error_code": "..."}}.
// Members are read leniently so that a proxy's variant still classifies.
type errorBody struct {
	Type      string
	Message   string
	ErrorCode string // details.error_code
	RequestID string // the top-level request_id, when the body had one
}

func (e *errorBody) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Message)
	}
	var raw struct {
		Type, Message json.RawMessage
		Details       *struct {
			ErrorCode json.RawMessage `json:"error_code"`
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Type, e.Message = upstream.Scalar(raw.Type), upstream.Scalar(raw.Message)
	if raw.Details != nil {
		e.ErrorCode = upstream.Scalar(raw.Details.ErrorCode)
	}
	return nil
}

// parseErrorBody reads an error body: {"type": "error", "error": {...},
// "request_id": "..."} as Anthropic sends it, {"error": "text"}, or a bare
// {"type", "message"} object. ok is false when no message or type could be
// found.
func parseErrorBody(body []byte) (eb errorBody, ok bool) {
	var top struct {
		Error     *errorBody `json:"error"`
		RequestID string     `json:"request_id"`
	}
	if json.Unmarshal(body, &top) != nil {
		return errorBody{}, false
	}
	switch {
	case top.Error != nil:
		eb = *top.Error
	case json.Unmarshal(body, &eb) != nil || eb.Message == "" || eb.Type == "error" || eb.Type == "message":
		// Not a bare error object: a message, or {"type": "error"} alone.
		return errorBody{}, false
	}
	eb.RequestID = top.RequestID
	return eb, eb.Message != "" || eb.Type != ""
}

// statusError builds the error for a non-2xx response.
func (p *Provider) statusError(resp *http.Response, body []byte) *llm.Error {
	eb, ok := parseErrorBody(body)
	ue := &UpstreamError{Status: resp.StatusCode, RequestID: resp.Header.Get("Request-Id")}
	if !ok {
		eb = errorBody{}
		ue.Body, eb.Message = upstream.BodyText(body, p.key)
	}
	e := p.upstreamError(resp.StatusCode, eb, ue)
	e.RetryAfter = upstream.RetryAfter(resp.Header, p.now())
	e.RateLimit = upstream.AnthropicRateLimit(resp.Header, p.now())
	return e
}

// upstreamError classifies an error body that came with status (the HTTP
// status, or for an in-stream error the status its type implies).
func (p *Provider) upstreamError(status int, eb errorBody, ue *UpstreamError) *llm.Error {
	ue.Type = eb.Type
	ue.Message = upstream.Sanitize(eb.Message, p.key)
	if ue.RequestID == "" {
		ue.RequestID = eb.RequestID
	}
	class := llm.StatusClass(status)
	switch {
	case status == statusOverloaded || eb.Type == errOverloaded:
		class = llm.ClassTransient
	case eb.Type == errBilling, eb.ErrorCode == spendLimitReached:
		// No credit, or the monthly spend cap: retrying is useless until
		// someone pays, but another provider may serve.
		class = llm.ClassQuota
	}
	msg := ue.Message
	if msg == "" {
		msg = fmt.Sprintf("upstream returned %d %s", status, statusText(status))
	}
	return &llm.Error{
		Status:  status,
		Type:    typeOf(class),
		Code:    cmp.Or(eb.Type, CodeUpstreamError),
		Message: msg,
		Class:   class,
		Model:   p.model,
		Cause:   ue,
	}
}

// inbandError classifies an error object sent as a stream event or in a 2xx
// body. It has no HTTP status of its own, so the status its type documents
// stands in; an unknown type is a transient provider failure (502), since
// the upstream had accepted the request.
func (p *Provider) inbandError(eb errorBody, requestID string) *llm.Error {
	return p.upstreamError(typeStatus(eb.Type), eb, &UpstreamError{RequestID: requestID})
}

// typeStatus is the HTTP status the Messages API documents for an error type.
func typeStatus(typ string) int {
	switch typ {
	case errInvalidRequest:
		return http.StatusBadRequest
	case errAuthentication:
		return http.StatusUnauthorized
	case errBilling:
		return http.StatusPaymentRequired
	case errPermission:
		return http.StatusForbidden
	case errNotFound:
		return http.StatusNotFound
	case errTooLarge:
		return http.StatusRequestEntityTooLarge
	case errRateLimit:
		return http.StatusTooManyRequests
	case errAPI:
		return http.StatusInternalServerError
	case errTimeout:
		return http.StatusGatewayTimeout
	case errOverloaded:
		return statusOverloaded
	}
	return http.StatusBadGateway
}

func statusText(status int) string {
	if status == statusOverloaded {
		return "Overloaded"
	}
	return http.StatusText(status)
}

// typeOf maps a failure class to the wire vocabulary's error type.
func typeOf(c llm.Class) string {
	switch c {
	case llm.ClassCaller:
		return llm.TypeInvalidRequest
	case llm.ClassAuth:
		return llm.TypeAuthentication
	case llm.ClassQuota, llm.ClassRateLimit:
		return llm.TypeRateLimit
	}
	return llm.TypeUpstream
}

// unsupported is the error for a request the Messages API cannot serve:
// ClassUnsupported so that a fallback moves on to another model at once.
func (p *Provider) unsupported(param, format string, args ...any) *llm.Error {
	return &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: CodeUnsupportedParameter,
		Param: param, Message: fmt.Sprintf(format, args...), Class: llm.ClassUnsupported, Model: p.model}
}

// transportError classifies a failure to send a request or read its
// response; see upstream.TransportError.
func (p *Provider) transportError(ctx context.Context, err error, code string) *llm.Error {
	return upstream.TransportError(ctx, p.model, err, code)
}

// badResponse is a 2xx answer that could not be understood.
func (p *Provider) badResponse(err error) *llm.Error { return upstream.BadResponse(p.model, err) }
