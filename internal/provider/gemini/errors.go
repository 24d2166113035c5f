package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/upstream"
)

// Error codes the adapter sets itself, for failures that have no upstream
// status or reason.
const (
	CodeUpstreamError       = upstream.CodeUpstreamError       // an upstream error body without a status
	CodeUpstreamUnreachable = upstream.CodeUpstreamUnreachable // connection refused, reset, DNS, TLS
	CodeUpstreamTimeout     = upstream.CodeUpstreamTimeout     // the attempt's deadline passed
	CodeClientClosed        = upstream.CodeClientClosed        // the caller's context was canceled
	CodeStreamTruncated     = upstream.CodeStreamTruncated     // a stream ended before a finishReason
	CodeBadResponse         = upstream.CodeBadResponse         // a 2xx body that is not the documented shape
	CodeUnsupportedContent  = "unsupported_content"            // request content Gemini cannot carry
)

// The @type of the google.rpc detail messages the adapter reads.
const (
	typeErrorInfo    = "type.googleapis.com/google.rpc.ErrorInfo"
	typeRetryInfo    = "type.googleapis.com/google.rpc.RetryInfo"
	typeQuotaFailure = "type.googleapis.com/google.rpc.QuotaFailure"
)

// UpstreamError is what the Gemini API said about a failure. It is the
// Cause of the *llm.Error the adapter returns, kept for logs and traces; no
// field holds the API key.
type UpstreamError struct {
	Status  int    // HTTP status; 0 for an error sent inside a stream
	Code    int    // the body's numeric code (an HTTP status)
	State   string // the body's status, e.g. "RESOURCE_EXHAUSTED"
	Reason  string // the ErrorInfo reason, e.g. "API_KEY_INVALID"
	QuotaID string // the first QuotaFailure violation's quotaId
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
	if e.Code != 0 && e.Code != e.Status {
		fmt.Fprintf(&b, " code=%d", e.Code)
	}
	if e.State != "" {
		fmt.Fprintf(&b, " status=%s", e.State)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", e.Reason)
	}
	if e.QuotaID != "" {
		fmt.Fprintf(&b, " quota=%s", e.QuotaID)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " body=%q", e.Body)
	}
	return b.String()
}

// errorBody is the "error" member of a Gemini error response, a
// google.rpc.Status: {"code": 429, "message": "...", "status":
// "RESOURCE_EXHAUSTED", "details": [...]}. Details whose shape is not
// understood are skipped.
type errorBody struct {
	Code       int
	Message    string
	Status     string
	Reason     string        // from an ErrorInfo detail
	RetryDelay time.Duration // from a RetryInfo detail; 0 when absent
	QuotaIDs   []string      // from QuotaFailure details
}

func (e *errorBody) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Message)
	}
	var raw struct {
		Code    json.RawMessage   `json:"code"`
		Message json.RawMessage   `json:"message"`
		Status  json.RawMessage   `json:"status"`
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	e.Message, e.Status = upstream.Scalar(raw.Message), upstream.Scalar(raw.Status)
	e.Code, _ = strconv.Atoi(upstream.Scalar(raw.Code))
	for _, d := range raw.Details {
		var detail struct {
			Type       string `json:"@type"`
			Reason     string `json:"reason"`
			RetryDelay string `json:"retryDelay"`
			Violations []struct {
				QuotaID string `json:"quotaId"`
			} `json:"violations"`
		}
		if json.Unmarshal(d, &detail) != nil {
			continue
		}
		switch detail.Type {
		case typeErrorInfo:
			if e.Reason == "" {
				e.Reason = detail.Reason
			}
		case typeRetryInfo:
			e.RetryDelay = parseDelay(detail.RetryDelay)
		case typeQuotaFailure:
			for _, v := range detail.Violations {
				if v.QuotaID != "" {
					e.QuotaIDs = append(e.QuotaIDs, v.QuotaID)
				}
			}
		}
	}
	return nil
}

// parseErrorBody reads an error body: {"error": {...}} as the API sends
// it, or [{"error": {...}}] as streamGenerateContent without alt=sse sends
// it. ok is false when no error object was found.
func parseErrorBody(body []byte) (eb errorBody, ok bool) {
	var top struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(body, &top) == nil && top.Error != nil {
		return *top.Error, true
	}
	var list []struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(body, &list) == nil && len(list) > 0 && list[0].Error != nil {
		return *list[0].Error, true
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
	if d := upstream.RetryAfter(resp.Header, p.now()); d > 0 {
		e.RetryAfter = d
	}
	return e
}

// upstreamError classifies an error body that came with status (the HTTP
// status, or for an in-band error the status the body implies).
func (p *Provider) upstreamError(status int, eb errorBody, ue *UpstreamError) *llm.Error {
	ue.Code, ue.State, ue.Reason = eb.Code, eb.Status, eb.Reason
	if len(eb.QuotaIDs) > 0 {
		ue.QuotaID = eb.QuotaIDs[0]
	}
	ue.Message = upstream.Sanitize(eb.Message, p.key)
	class := classify(status, eb)
	msg := ue.Message
	if msg == "" {
		msg = fmt.Sprintf("upstream returned %d %s", status, http.StatusText(status))
	}
	code := CodeUpstreamError
	switch {
	case eb.Reason != "":
		code = strings.ToLower(eb.Reason)
	case eb.Status != "":
		code = strings.ToLower(eb.Status)
	}
	return &llm.Error{
		Status:     status,
		Type:       typeOf(class, status),
		Code:       code,
		Message:    msg,
		Class:      class,
		RetryAfter: eb.RetryDelay,
		Model:      p.model,
		Cause:      ue,
	}
}

// classify picks the failure class of an upstream error: the HTTP status
// decides (llm.StatusClass), refined by what the body says.
func classify(status int, eb errorBody) llm.Class {
	class := llm.StatusClass(status)
	switch {
	case eb.Reason == "API_KEY_INVALID":
		// A bad or expired key comes back as 400 INVALID_ARGUMENT.
		return llm.ClassAuth
	case eb.Status == "PERMISSION_DENIED" || eb.Status == "UNAUTHENTICATED":
		return llm.ClassAuth
	case eb.Status == "FAILED_PRECONDITION":
		// Billing is not enabled, or the free tier is not offered where
		// the request comes from: an account problem, not the caller's.
		return llm.ClassQuota
	case eb.Status == "RESOURCE_EXHAUSTED" || status == http.StatusTooManyRequests:
		for _, id := range eb.QuotaIDs {
			if strings.Contains(id, "PerDay") {
				// A daily quota is spent: waiting seconds will not help.
				return llm.ClassQuota
			}
		}
		return llm.ClassRateLimit
	case eb.Status == "NOT_FOUND" || status == http.StatusNotFound:
		// The model, or its API version, does not exist: a deployment
		// that cannot serve anything, not a caller fault.
		return llm.ClassUnsupported
	}
	return class
}

// statusOf maps a google.rpc status name to its HTTP status, for errors
// that arrive without one (in a stream, or in a 2xx body).
var statusOf = map[string]int{
	"INVALID_ARGUMENT":    http.StatusBadRequest,
	"FAILED_PRECONDITION": http.StatusBadRequest,
	"OUT_OF_RANGE":        http.StatusBadRequest,
	"UNAUTHENTICATED":     http.StatusUnauthorized,
	"PERMISSION_DENIED":   http.StatusForbidden,
	"NOT_FOUND":           http.StatusNotFound,
	"ABORTED":             http.StatusConflict,
	"ALREADY_EXISTS":      http.StatusConflict,
	"RESOURCE_EXHAUSTED":  http.StatusTooManyRequests,
	"CANCELLED":           499,
	"INTERNAL":            http.StatusInternalServerError,
	"UNKNOWN":             http.StatusInternalServerError,
	"DATA_LOSS":           http.StatusInternalServerError,
	"NOT_IMPLEMENTED":     http.StatusNotImplemented,
	"UNIMPLEMENTED":       http.StatusNotImplemented,
	"UNAVAILABLE":         http.StatusServiceUnavailable,
	"DEADLINE_EXCEEDED":   http.StatusGatewayTimeout,
}

// inbandError classifies an error object sent as a stream event or in a 2xx
// body. Its numeric code is taken as the HTTP status; failing that its
// status name; failing both it is a transient provider failure, since the
// upstream had accepted the request.
func (p *Provider) inbandError(eb errorBody) *llm.Error {
	status := eb.Code
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
		if s, ok := statusOf[eb.Status]; ok {
			status = s
		}
	}
	if status == 499 {
		// An upstream-side cancel is not our client's: retry elsewhere.
		status = http.StatusBadGateway
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

// unsupported is request content this model cannot take, though another
// model might: the executor fails over at once.
func (p *Provider) unsupported(param, format string, args ...any) *llm.Error {
	return &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: CodeUnsupportedContent, Param: param,
		Message: fmt.Sprintf(format, args...), Class: llm.ClassUnsupported, Model: p.model}
}

// callerError is a request the caller must fix.
func (p *Provider) callerError(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(param, format, args...)
	e.Model = p.model
	return e
}

// parseDelay reads a RetryInfo retryDelay, a protobuf Duration in its JSON
// form ("30s", "1.5s", "0.000500s"). It returns 0 when it is unusable and
// caps the wait at upstream.MaxRetryAfter.
func parseDelay(s string) time.Duration {
	secs, ok := strings.CutSuffix(strings.TrimSpace(s), "s")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(secs, 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= upstream.MaxRetryAfter.Seconds() {
		return upstream.MaxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}
