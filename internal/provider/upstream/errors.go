package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// Error codes for failures that have no upstream code. The adapters export
// them under the same names.
const (
	CodeUpstreamError       = "upstream_error"        // an upstream error body without a code
	CodeUpstreamUnreachable = "upstream_unreachable"  // connection refused, reset, DNS, TLS
	CodeUpstreamTimeout     = "upstream_timeout"      // the attempt's deadline passed
	CodeClientClosed        = "client_closed_request" // the caller's context was canceled
	CodeStreamTruncated     = "stream_truncated"      // a stream ended before its terminal event
	CodeBadResponse         = "bad_upstream_response" // a 2xx body that is not the documented shape
)

const (
	// MaxErrorBody is how many bytes of an error body are read.
	MaxErrorBody = 64 << 10
	// MaxMessageLen is how many bytes of an upstream message are kept.
	MaxMessageLen = 1024
)

// TransportError classifies a failure to send a request or read its
// response, for the catalog model named model. The context decides first:
// a canceled caller is not the upstream's fault (499, ClassCanceled); a
// passed deadline or a network timeout is a 504. Anything else is a
// transient 502 with the given code; CodeStreamTruncated gets its own
// message.
func TransportError(ctx context.Context, model string, err error, code string) *llm.Error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: CodeClientClosed,
			Message: "the client closed the request", Class: llm.ClassCanceled, Model: model, Cause: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: CodeUpstreamTimeout,
			Message: "the model did not answer in time", Class: llm.ClassTransient, Model: model, Cause: err}
	}
	msg := "could not reach the model's provider"
	if code == CodeStreamTruncated {
		msg = "the model's stream ended before it was complete"
	}
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: code,
		Message: msg, Class: llm.ClassTransient, Model: model, Cause: err}
}

// BadResponse is a 2xx answer that could not be understood: a transient
// 502 with CodeBadResponse.
func BadResponse(model string, err error) *llm.Error {
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeUpstream, Code: CodeBadResponse,
		Message: "the model's provider sent a malformed response", Class: llm.ClassTransient, Model: model, Cause: err}
}

// Redact removes key from text that came from the upstream, which may echo
// the credential it was sent.
func Redact(s string, key conf.Secret) string {
	if k := key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "<secret>")
	}
	return s
}

// Sanitize is an upstream message fit to keep: key redacted, then clipped
// to MaxMessageLen (redacting first, so that a clipped key cannot survive).
func Sanitize(s string, key conf.Secret) string {
	return Clip(Redact(s, key), MaxMessageLen)
}

// BodyText reads an error body that held no recognizable error object:
// text is its trimmed start, sanitized, for the upstream error's Body;
// message is the same text, or "" when it is an HTML page or binary noise,
// which is no message.
func BodyText(body []byte, key conf.Secret) (text, message string) {
	text = Sanitize(strings.TrimSpace(string(body)), key)
	if !utf8.ValidString(text) || strings.HasPrefix(text, "<") {
		return text, ""
	}
	return text, text
}

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence, and
// marks a cut with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Scalar renders a JSON value as text: a string unquoted, null as "",
// anything else compacted. Error bodies are read with it because servers
// disagree on their members' types.
func Scalar(raw json.RawMessage) string {
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
