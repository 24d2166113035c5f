package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/llm"
)

// Error codes the adapter sets itself, for failures that have no upstream
// code.
const (
	CodeUpstreamError       = "upstream_error"        // an upstream error body without a code
	CodeUpstreamUnreachable = "upstream_unreachable"  // connection refused, reset, DNS, TLS
	CodeUpstreamTimeout     = "upstream_timeout"      // the attempt's deadline passed
	CodeClientClosed        = "client_closed_request" // the caller's context was canceled
	CodeStreamTruncated     = "stream_truncated"      // a stream ended before data: [DONE]
	CodeBadResponse         = "bad_upstream_response" // a 2xx body that is not the documented shape
)

const (
	maxErrorBody  = 64 << 10 // bytes of an error body read
	maxMessageLen = 1024     // bytes of an upstream message kept
	maxRetryAfter = 24 * time.Hour
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
	e.Message, e.Type, e.Param = scalar(raw.Message), scalar(raw.Type), scalar(raw.Param)
	if n, err := strconv.Atoi(string(bytes.TrimSpace(raw.Code))); err == nil {
		e.StatusCode = n
	} else {
		e.Code = scalar(raw.Code)
	}
	return nil
}

// scalar renders a JSON value as text: a string unquoted, null as "",
// anything else compacted.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
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
			return errorBody{Message: scalar(top.Detail)}, true
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
		// Redact before clipping, so that a clipped key cannot survive.
		text := clip(p.redact(strings.TrimSpace(string(body))), maxMessageLen)
		ue.Body = text
		eb.Message = text
		if !utf8.ValidString(text) || strings.HasPrefix(text, "<") {
			eb.Message = "" // an HTML page or binary noise is no message
		}
	}
	e := p.upstreamError(resp.StatusCode, eb, ue)
	e.RetryAfter = retryAfter(resp.Header, p.now())
	return e
}

// upstreamError classifies an error body that came with status (the HTTP
// status, or for an in-stream error the status the body implies).
func (p *Provider) upstreamError(status int, eb errorBody, ue *UpstreamError) *llm.Error {
	ue.Type, ue.Code, ue.Param = eb.Type, eb.Code, eb.Param
	ue.Message = clip(p.redact(eb.Message), maxMessageLen)
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
		Code:    orDefault(eb.Code, CodeUpstreamError),
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
// response. The context decides first: a canceled caller is not the
// upstream's fault.
func (p *Provider) transportError(ctx context.Context, err error, code string) *llm.Error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed,
			Message: "the client closed the request", Class: llm.ClassCanceled, Model: p.model, Cause: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: CodeUpstreamTimeout,
			Message: "the model did not answer in time", Class: llm.ClassTransient, Model: p.model, Cause: err}
	}
	msg := "could not reach the model's provider"
	if code == CodeStreamTruncated {
		msg = "the model's stream ended before it was complete"
	}
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: code,
		Message: msg, Class: llm.ClassTransient, Model: p.model, Cause: err}
}

// badResponse is a 2xx answer that could not be understood.
func (p *Provider) badResponse(err error) *llm.Error {
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: CodeBadResponse,
		Message: "the model's provider sent a malformed response", Class: llm.ClassTransient, Model: p.model, Cause: err}
}

// retryAfter reads retry-after-ms (OpenAI, milliseconds) or Retry-After
// (seconds or an HTTP date). It returns 0 when neither is usable and caps
// the wait at maxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	parse := func(v string, unit time.Duration) (time.Duration, bool) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 {
			return 0, false
		}
		if f*float64(unit) >= float64(maxRetryAfter) {
			return maxRetryAfter, true
		}
		return time.Duration(f * float64(unit)), true
	}
	if d, ok := parse(h.Get("Retry-After-Ms"), time.Millisecond); ok {
		return d
	}
	v := h.Get("Retry-After")
	if d, ok := parse(v, time.Second); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// redact removes the API key from text that came from the upstream, which
// may echo the credential it was sent.
func (p *Provider) redact(s string) string {
	if k := p.key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "<secret>")
	}
	return s
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
