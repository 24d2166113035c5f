package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Class is the failure class of an upstream error. It drives what the
// executor does next, independent of how the error is shown to the client.
type Class int

const (
	// ClassUnknown is an error that could not be classified; treated like
	// ClassTransient but retried only once.
	ClassUnknown Class = iota
	// ClassCaller is the caller's fault (bad request, context too long):
	// never retried, never failed over, returned to the client.
	ClassCaller
	// ClassAuth is a bad or missing credential: fail over without backoff.
	ClassAuth
	// ClassQuota is an exhausted quota or billing limit: fail over without
	// backoff.
	ClassQuota
	// ClassRateLimit is a 429 rate limit: retry after Retry-After, or fail
	// over.
	ClassRateLimit
	// ClassTransient is a 5xx, 529 overloaded, connection error, broken
	// stream or upstream timeout: retry with backoff, then fail over.
	ClassTransient
	// ClassCanceled means the client went away; nothing is retried and the
	// model's health is not charged.
	ClassCanceled
	// ClassUnsupported means this model cannot serve this request (a
	// missing capability, a prompt a replayed model never answered): fail
	// over at once, never retry, and do not charge the model's health.
	ClassUnsupported
)

var classNames = [...]string{"unknown", "caller", "auth", "quota", "rate_limit", "transient", "canceled", "unsupported"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Retryable reports whether the same model may be tried again.
func (c Class) Retryable() bool {
	return c == ClassRateLimit || c == ClassTransient || c == ClassUnknown
}

// FailOver reports whether another candidate may be tried.
func (c Class) FailOver() bool {
	return c != ClassCaller && c != ClassCanceled
}

// Error types of the wire vocabulary (the "type" field of an OpenAI-style
// error body), one per fault domain.
const (
	TypeInvalidRequest = "invalid_request_error" // the caller's fault
	TypeAuthentication = "authentication_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeUpstream       = "upstream_error" // a provider failed
	TypeTimeout        = "timeout_error"
	TypeServer         = "server_error" // Sextant itself failed
)

// Error is an error with an HTTP status, a public message that is safe to
// show a client, and an internal cause that is not shown.
type Error struct {
	Status     int    // HTTP status for the client
	Type       string // one of the Type constants
	Code       string // machine-readable code, e.g. "model_not_found"
	Param      string // the request parameter at fault, if any
	Message    string // public message
	Class      Class  // failure class for retries
	RetryAfter time.Duration
	// Model is the model whose call failed, if any.
	Model string
	Cause error
	// RateLimit is the headroom the upstream reported with an error
	// response (a 429's headers), when it did.
	RateLimit RateLimit
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Model != "" {
		msg = e.Model + ": " + msg
	}
	if e.Cause != nil {
		return msg + ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns a caller-fault error (400 invalid_request_error) for param.
func Errorf(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: param,
		Message: fmt.Sprintf(format, args...), Class: ClassCaller}
}

// AsError returns err as an *Error, wrapping unknown errors as a 500
// server_error with a generic public message.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Status: 499, Type: TypeInvalidRequest, Code: "client_closed_request", Message: "client closed request", Class: ClassCanceled, Cause: err}
	}
	return &Error{Status: http.StatusInternalServerError, Type: TypeServer, Message: "internal error", Class: ClassUnknown, Cause: err}
}

// ClassOf returns the failure class of err.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassUnknown
}

// StatusClass maps an upstream HTTP status to a failure class.
func StatusClass(status int) Class {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassAuth
	case status == http.StatusPaymentRequired:
		return ClassQuota
	case status == http.StatusTooManyRequests:
		return ClassRateLimit
	case status == http.StatusNotFound:
		// An upstream that does not know the model or path is a
		// deployment fault, not the caller's: another candidate may work.
		return ClassUnsupported
	case status == http.StatusRequestTimeout || status == 409 || status >= 500:
		return ClassTransient
	case status >= 400:
		return ClassCaller
	}
	return ClassUnknown
}
