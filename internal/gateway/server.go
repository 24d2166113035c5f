// Package gateway is Sextant's HTTP front: the OpenAI-compatible client API,
// the decision and feedback API, health endpoints, and the middleware that
// gives every request an id, turns panics into errors and keeps every error
// in the OpenAI error shape.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/openaiapi"
	"github.com/sextant-router/sextant/internal/store"
)

// DecisionLog is the part of the decision log the API reads and writes.
type DecisionLog interface {
	Get(ctx context.Context, id string) (*store.Decision, error)
	AddFeedback(ctx context.Context, fb store.Feedback) error
	Feedback(ctx context.Context, id string) ([]store.Feedback, error)
}

// Server serves the HTTP API on an engine.
type Server struct {
	engine   *engine.Engine
	log      DecisionLog
	logger   *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool
	traceIDs func(h http.Header, requestID string) (traceID, parentSpanID string)
	observe  func(pattern string, status int)
	// feedbackMu serializes storing a score with reading the score it
	// replaces, so concurrent scores for one request each replace the
	// one stored just before them (within this process).
	feedbackMu sync.Mutex
}

// HeaderTraceID carries the request's OpenTelemetry trace id (32 hex
// digits) in the response when tracing is on.
const HeaderTraceID = "X-Sextant-Trace-Id"

// Option configures a Server.
type Option func(*Server)

// WithHandler mounts h at pattern (a ServeMux pattern such as "/metrics"
// or "/ui/") beside the API. h does its own authentication.
func WithHandler(pattern string, h http.Handler) Option {
	return func(s *Server) { s.mux.Handle(pattern, h) }
}

// WithTraceIDs places every request in an OpenTelemetry trace: ids returns
// the trace id (and the client's span id, if it sent one) for a request's
// headers and id. A non-empty trace id is sent back in X-Sextant-Trace-Id
// and recorded with the request's decision.
func WithTraceIDs(ids func(h http.Header, requestID string) (traceID, parentSpanID string)) Option {
	return func(s *Server) { s.traceIDs = ids }
}

// WithHTTPObserver has observe called once per HTTP request, after it was
// served, with the pattern of the handler that served it and the status
// sent. It must be fast and must not block.
func WithHTTPObserver(observe func(pattern string, status int)) Option {
	return func(s *Server) { s.observe = observe }
}

// New returns a server. log may be nil when no decision log is kept.
func New(e *engine.Engine, log DecisionLog, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{engine: e, log: log, logger: logger, mux: http.NewServeMux()}
	s.route("/v1/chat/completions", http.MethodPost, s.chatCompletions)
	s.route("/v1/models", http.MethodGet, s.models)
	// Model names may hold slashes ("meta-llama/Llama-3.1-8B").
	s.route("/v1/models/{name...}", http.MethodGet, s.model)
	s.route("/v1/decisions/{id}", http.MethodGet, s.decision)
	s.route("/v1/feedback", http.MethodPost, s.feedback)
	s.route("/v1/experiments", http.MethodGet, s.listExperiments)
	s.mux.HandleFunc("/v1/experiments/{name}", s.experimentHandler())
	s.route("/v1/embeddings", http.MethodPost, s.embeddings)
	s.route("/v1/messages", http.MethodPost, s.messages)
	s.route("/healthz", http.MethodGet, s.healthz)
	s.route("/readyz", http.MethodGet, s.readyz)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &llm.Error{Status: http.StatusNotFound, Type: llm.TypeNotFound, Code: "unknown_url",
			Message: fmt.Sprintf("unknown URL %s %s", r.Method, r.URL.Path)})
	})
	for _, o := range opts {
		o(s)
	}
	return s
}

// route registers h for path, answering other methods with 405 in the
// OpenAI error shape and an Allow header.
func (s *Server) route(path, method string, h http.HandlerFunc) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, &llm.Error{Status: http.StatusMethodNotAllowed, Type: llm.TypeInvalidRequest, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, method)})
			return
		}
		h(w, r)
	})
}

// Drain marks the server as shutting down: /readyz answers 503 so load
// balancers stop sending new requests.
func (s *Server) Drain() { s.draining.Store(true) }

// ErrShuttingDown is the cancel cause a server's base context carries when
// the shutdown grace period is over: streams cut off for it end with an
// in-band 503 error event rather than silently.
var ErrShuttingDown = errors.New("server shutting down")

type ctxKey struct{}

// RequestID returns the id the middleware gave the request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

type traceKey struct{}

type traceIDs struct{ trace, parent string }

// traceContext returns the request's trace id and its client's span id,
// "" when tracing is off.
func traceContext(ctx context.Context) (traceID, parentSpanID string) {
	t, _ := ctx.Value(traceKey{}).(traceIDs)
	return t.trace, t.parent
}

// ServeHTTP gives the request an id, sets x-request-id, and recovers from
// panics with a 500 error that names the id but no internals. A panic after
// the status line was sent can only be reported in band: an event stream
// gets an error event and no [DONE]; any other body is cut off by aborting
// the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newID()
	w.Header().Set("X-Request-Id", id)
	ctx := context.WithValue(r.Context(), ctxKey{}, id)
	if s.traceIDs != nil {
		if tid, parent := s.traceIDs(r.Header, id); tid != "" {
			w.Header().Set(HeaderTraceID, tid)
			ctx = context.WithValue(ctx, traceKey{}, traceIDs{tid, parent})
		}
	}
	r = r.WithContext(ctx)
	cw := &commitWriter{ResponseWriter: w}
	if s.observe != nil {
		// Deferred first, so it runs after a panic was turned into a 500.
		defer func() { s.observe(r.Pattern, cw.sent()) }()
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.logger.Error("panic serving request", "request_id", id, "panic", p, "stack", string(debug.Stack()))
			e := &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Code: "internal_error",
				Message: "internal error (request " + id + ")"}
			switch {
			case !cw.committed:
				writeError(w, e)
			case strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream"):
				w.Write(event(openaiapi.StreamErrorEvent(e)))
				http.NewResponseController(w).Flush()
			default:
				panic(http.ErrAbortHandler)
			}
		}
	}()
	s.mux.ServeHTTP(cw, r)
}

// commitWriter notes whether the status line has been sent, and which.
type commitWriter struct {
	http.ResponseWriter
	committed bool
	status    int
}

func (c *commitWriter) WriteHeader(status int) {
	if status >= 200 && !c.committed { // 1xx responses are informational
		c.committed, c.status = true, status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *commitWriter) Write(b []byte) (int, error) {
	if !c.committed {
		c.committed, c.status = true, http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// sent returns the status sent, 200 when the handler wrote nothing.
func (c *commitWriter) sent() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// Unwrap lets http.ResponseController reach Flush and the deadlines.
func (c *commitWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}

// writeError writes e as an OpenAI-style error body. Status 499 (the client
// went away) is written as is; nobody is listening.
func writeError(w http.ResponseWriter, e *llm.Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.999)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(openaiapi.EncodeError(e))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer, Message: "internal error", Cause: err})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readJSONBody reads a JSON request body within limit, mapping a wrong
// content type to 415 and an oversized body to 413.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *llm.Error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.TrimSpace(strings.ToLower(mt))
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &llm.Error{Status: http.StatusUnsupportedMediaType, Type: llm.TypeInvalidRequest, Code: "unsupported_media_type",
				Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &llm.Error{Status: http.StatusRequestEntityTooLarge, Type: llm.TypeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("the request body is larger than %d bytes", limit)}
		}
		return nil, &llm.Error{Status: http.StatusBadRequest, Type: llm.TypeInvalidRequest, Code: "unreadable_body",
			Message: "could not read the request body", Class: llm.ClassCaller, Cause: err}
	}
	return body, nil
}
