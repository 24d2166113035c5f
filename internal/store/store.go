package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// Decision is the record of one request: what the client asked for, who
// answered, what it cost and how the policy tree got there. It is what
// GET /v1/decisions/{id} returns.
//
// A Decision handed to a Store or a Log is read-only from then on: its
// Labels map and the slices of its Trace are shared, not copied.
type Decision struct {
	// RequestID identifies the request; required and unique. Writing a
	// decision whose RequestID is already stored replaces the old record.
	RequestID string `json:"request_id"`
	// Time is when the request arrived. A zero Time is stored as the time
	// the record was accepted.
	Time time.Time `json:"time"`
	// Route is the name the client sent as "model": a route or a model.
	Route string `json:"route"`
	// Model is the catalog model whose answer was returned, "" if none.
	Model string `json:"model,omitempty"`
	// Status is the HTTP status sent to the client (499 when it went away).
	Status int `json:"status"`
	// ErrorType is the wire error type (llm.Type*), "" on success.
	ErrorType    string `json:"error_type,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	Stream       bool   `json:"stream"`
	// Usage and CostMicros are summed over every attempt, failed ones
	// included: what the request cost, not only what the answer cost.
	Usage      llm.Usage      `json:"usage"`
	CostMicros catalog.Micros `json:"cost_micros"`
	// LatencyMS is the time to the last byte and TTFTMS the time to the
	// first content byte of a stream, both in milliseconds from arrival.
	// TTFTMS is 0 when there was no stream or no first byte.
	LatencyMS float64 `json:"latency_ms"`
	TTFTMS    float64 `json:"ttft_ms,omitempty"`
	// CallerKey is the virtual key's name (never its secret); CallerTier
	// its tier. Both are "" for anonymous callers.
	CallerKey  string `json:"caller_key,omitempty"`
	CallerTier string `json:"caller_tier,omitempty"`
	// Category and Labels are free-form annotations (a classifier's
	// category, request metadata) for later analysis.
	Category string            `json:"category,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Trace holds every node decision and model attempt.
	Trace trace.View `json:"trace"`
	// TraceID is the OpenTelemetry trace id of the request's spans (32
	// hex digits), "" when tracing is off.
	TraceID string `json:"trace_id,omitempty"`
	// Request is the JSON of the llm.Request as served (messages,
	// parameters, the route or model named), so that `sextant eval
	// --from-log` can re-run it. It is set only when the store is
	// configured with log_requests (off by default: prompts may hold
	// personal data) and is nil otherwise. A Store refuses a Request that
	// is not valid JSON (ErrInvalid).
	Request json.RawMessage `json:"request,omitempty"`
}

// Feedback is a judgement of one request's answer, added after the fact by
// a user or an evaluator. At least one of Score, Label and Comment must be
// set.
type Feedback struct {
	RequestID string `json:"request_id"`
	// Score is an optional rating; nil means none was given. It must be a
	// finite number; its scale is the caller's convention (e.g. [0,1]).
	Score   *float64 `json:"score,omitempty"`
	Label   string   `json:"label,omitempty"`
	Comment string   `json:"comment,omitempty"`
	// Time is when the feedback was given. A zero Time is stored as the
	// time it was added.
	Time time.Time `json:"time"`
}

// Store keeps decisions and feedback durably. Implementations (SQLite now,
// PostgreSQL later) share this contract and are safe for concurrent use.
// Every method must return when ctx is canceled.
type Store interface {
	// WriteDecisions stores ds atomically: all of them or none. A record
	// whose RequestID is already stored replaces it, and the feedback
	// given to the old record is kept, so a retried write is harmless.
	// A record that can never be stored (empty RequestID, a trace that
	// does not encode) fails the whole call with an error wrapping
	// ErrInvalid. WriteDecisions must not retain ds after it returns.
	WriteDecisions(ctx context.Context, ds []Decision) error
	// Decision returns the record of id, or an error wrapping ErrNotFound.
	Decision(ctx context.Context, id string) (*Decision, error)
	// AddFeedback stores fb. It returns an error wrapping ErrNotFound when
	// no decision with fb.RequestID is stored, and one wrapping ErrInvalid
	// when fb is malformed (see Feedback).
	AddFeedback(ctx context.Context, fb Feedback) error
	// Feedback returns the feedback for id, oldest first; an empty,
	// non-nil slice when there is none; an error wrapping ErrNotFound when
	// no decision with id is stored.
	Feedback(ctx context.Context, id string) ([]Feedback, error)
	// Close releases the store. No method may be called after it.
	Close() error
}
