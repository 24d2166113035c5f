package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// Error codes the adapter sets itself, for failures that have no upstream
// code.
const (
	CodeUpstreamError       = upstream.CodeUpstreamError       // an upstream error body without a code
	CodeUpstreamUnreachable = upstream.CodeUpstreamUnreachable // connection refused, reset, DNS, TLS
	CodeUpstreamTimeout     = upstream.CodeUpstreamTimeout     // the attempt's deadline passed
	CodeClientClosed        = upstream.CodeClientClosed        // the caller's context was canceled
	CodeStreamTruncated     = upstream.CodeStreamTruncated     // a stream ended before data: [DONE]
	CodeBadResponse         = upstream.CodeBadResponse         // a 2xx body that is not the documented shape
)

// UpstreamError is what an upstream said about a failure. It is the Cause
// of the *llm.Error the adapter returns, kept for logs and traces; no field
// holds the API key.
type UpstreamError struct {
	Status  int    // HTTP status; 0 for an error sent inside a stream
	Type    string // the body's error type, e.g. "invalid_request_error"
	Code    string // the body's error code, e.g. "context_length_exceeded"
	Param   string
	Message string
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
	if e.Code != "" {
		fmt.Fprintf(&b, " code=%s", e.Code)
	}
	if e.Param != "" {
		fmt.Fprintf(&b, " param=%s", e.Param)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " body=%q", e.Body)
	}
	return b.String()
}

// errorBody is the "error" member of an error response. Servers disagree on
// its shape, so every member is read leniently: a string error is taken as
// the message, and a numeric code (vLLM, OpenRouter) is kept apart as a
// status.
type errorBody struct {
	Message    string
	Type       string
	Param      string
	Code       string
	StatusCode int // a numeric "code", which these servers use for the HTTP status
}

func (e *errorBody) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Message)
	}
	var raw struct {
		Message, Type, Param, Code json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Message, e.Type, e.Param = upstream.Scalar(raw.Message), upstream.Scalar(raw.Type), upstream.Scalar(raw.Param)
	if n, err := strconv.Atoi(string(bytes.TrimSpace(raw.Code))); err == nil {
		e.StatusCode = n
	} else {
		e.Code = upstream.Scalar(raw.Code)
	}
	return nil
}

// parseErrorBody reads a non-2xx body: {"error": {...}} as OpenAI sends it,
// {"error": "text"}, a bare {"message", "type", "code"} object (older
// vLLM), {"detail": ...} (FastAPI servers), or anything else as text. ok is
// false when no message could be found.
func parseErrorBody(body []byte) (eb errorBody, ok bool) {
	var top struct {
		Error  *errorBody      `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &top) == nil {
		switch {
		case top.Error != nil:
			return *top.Error, true
		case len(top.Detail) > 0:
			return errorBody{Message: upstream.Scalar(top.Detail)}, true
		}
		if json.Unmarshal(body, &eb) == nil && (eb.Message != "" || eb.Code != "" || eb.Type != "") {
			return eb, true
		}
	}
	return errorBody{}, false
}

// statusError builds the error for a non-2xx response.
func (p *Provider) statusError(resp *http.Response, body []byte) *llm.Error {
	eb, ok := parseErrorBody(body)
	ue := &UpstreamError{Status: resp.StatusCode}
	if !ok {
		ue.Body, eb.Message = upstream.BodyText(body, p.key)
	}
	e := p.upstreamError(resp.StatusCode, eb, ue)
	e.RetryAfter = retryAfter(resp.Header, p.now())
	e.RateLimit = upstream.OpenAIRateLimit(resp.Header)
	return e
}

// upstreamError classifies an error body that came with status (the HTTP
// status, or for an in-stream error the status the body implies).
func (p *Provider) upstreamError(status int, eb errorBody, ue *UpstreamError) *llm.Error {
	ue.Type, ue.Code, ue.Param = eb.Type, eb.Code, eb.Param
	ue.Message = upstream.Sanitize(eb.Message, p.key)
	class := llm.StatusClass(status)
	switch {
	case eb.Code == "insufficient_quota" || eb.Type == "insufficient_quota":
		// OpenAI sends an exhausted quota as a 429; retrying it is useless.
		class = llm.ClassQuota
	case eb.Code == "context_length_exceeded" && status < 500:
		class = llm.ClassCaller
	}
	msg := ue.Message
	if msg == "" {
		msg = fmt.Sprintf("upstream returned %d %s", status, http.StatusText(status))
	}
	return &llm.Error{
		Status:  status,
		Type:    typeOf(class, status),
		Code:    cmp.Or(eb.Code, CodeUpstreamError),
		Param:   eb.Param,
		Message: msg,
		Class:   class,
		Model:   p.model,
		Cause:   ue,
	}
}

// inbandError classifies an error object sent as a stream event or in a 2xx
// body. Such an error has no HTTP status of its own: a numeric code is taken
// as one, and otherwise the error's type and code decide, defaulting to a
// transient provider failure since the upstream accepted the request.
func (p *Provider) inbandError(eb errorBody) *llm.Error {
	status := eb.StatusCode
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
		switch {
		case eb.Code == "context_length_exceeded" || eb.Type == llm.TypeInvalidRequest:
			status = http.StatusBadRequest
		case eb.Code == "insufficient_quota" || eb.Type == "insufficient_quota",
			eb.Code == "rate_limit_exceeded" || eb.Type == "rate_limit_exceeded" || eb.Type == llm.TypeRateLimit:
			status = http.StatusTooManyRequests
		case eb.Code == "invalid_api_key" || eb.Type == llm.TypeAuthentication:
			status = http.StatusUnauthorized
		}
	}
	return p.upstreamError(status, eb, &UpstreamError{})
}

// typeOf maps a failure class to the wire vocabulary's error type.
func typeOf(c llm.Class, status int) string {
	switch c {
	case llm.ClassCaller:
		if status == http.StatusNotFound {
			return llm.TypeNotFound
		}
		return llm.TypeInvalidRequest
	case llm.ClassAuth:
		return llm.TypeAuthentication
	case llm.ClassQuota, llm.ClassRateLimit:
		return llm.TypeRateLimit
	}
	return llm.TypeUpstream
}

// transportError classifies a failure to send a request or read its
// response; see upstream.TransportError.
func (p *Provider) transportError(ctx context.Context, err error, code string) *llm.Error {
	return upstream.TransportError(ctx, p.model, err, code)
}

// badResponse is a 2xx answer that could not be understood.
func (p *Provider) badResponse(err error) *llm.Error { return upstream.BadResponse(p.model, err) }

// retryAfter reads retry-after-ms (OpenAI, milliseconds) or, failing that,
// Retry-After (seconds or an HTTP date). It returns 0 when neither is
// usable and caps the wait at upstream.MaxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := upstream.RetryAfterMs(h); ok {
		return d
	}
	return upstream.RetryAfter(h, now)
}
