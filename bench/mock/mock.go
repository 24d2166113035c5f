// Package mock is a minimal OpenAI-compatible upstream for benchmarks: it
// answers POST /v1/chat/completions with a fixed completion, as one JSON
// body or as a server-sent event stream, after an optional fixed latency.
//
// Every answer is built once, at start, so the mock spends as little CPU
// as possible per request: on a shared 2-core machine its cost is the
// same for every target measured, and the smaller it is the less it
// blurs the difference between them.
//
// A stream is a role chunk, five content chunks, a finish chunk, a usage
// chunk when the request sets stream_options.include_usage, and data:
// [DONE]. For the model named PacedModel the mock sleeps Pace between
// events, so that a client can check that each chunk crossed the gateway
// as it was sent rather than in one buffered burst.
package mock

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// PacedModel is the model name whose streams are paced.
const PacedModel = "paced"

// DefaultPace is the usual wait between paced stream events.
const DefaultPace = 5 * time.Millisecond

// Contents are the content deltas of a streamed answer, in order; joined
// they are the non-streamed answer's content.
var Contents = []string{"The", " capital", " of", " France", " is Paris."}

// Usage the mock reports for every answer.
const (
	PromptTokens     = 14
	CompletionTokens = 7
)

// Options configure a Server.
type Options struct {
	// Latency is waited before answering (before the first byte of a
	// stream). Zero answers at once.
	Latency time.Duration
	// Pace is waited between the events of a stream for PacedModel.
	Pace time.Duration
}

// Server is the mock upstream. Its Handler is safe for concurrent use;
// ConnState, when set as the http.Server's hook, counts the connections
// clients opened, which /stats reports.
type Server struct {
	opt      Options
	conns    atomic.Int64
	requests atomic.Int64

	chat        []byte   // the non-streamed body, with model "mock"
	events      [][]byte // stream events before usage, each "data: ...\n\n"
	usage, done []byte
	pacedChat   []byte
	pacedEvents [][]byte
	pacedUsage  []byte
	mux         *http.ServeMux
}

// New returns a mock upstream.
func New(opt Options) *Server {
	s := &Server{opt: opt, mux: http.NewServeMux()}
	s.chat, s.events, s.usage = build("mock")
	s.pacedChat, s.pacedEvents, s.pacedUsage = build(PacedModel)
	s.done = []byte("data: [DONE]\n\n")
	s.mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	s.mux.HandleFunc("GET /stats", s.stats)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// ConnState counts new connections; set it as http.Server.ConnState.
func (s *Server) ConnState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.conns.Add(1)
	}
}

// Stats are the counters /stats reports.
type Stats struct {
	Conns    int64 `json:"conns"`
	Requests int64 `json:"requests"`
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{Conns: s.conns.Load(), Requests: s.requests.Load()}
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(s.Stats())
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// request is the part of a chat request the mock reads.
type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"invalid JSON","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	paced := req.Model == PacedModel
	if !wait(r, s.opt.Latency) {
		return
	}
	if !req.Stream {
		b := s.chat
		if paced {
			b = s.pacedChat
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write(b)
		return
	}
	events, usage := s.events, s.usage
	if paced {
		events, usage = s.pacedEvents, s.pacedUsage
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(b []byte, first bool) bool {
		if paced && !first && !wait(r, s.opt.Pace) {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		// Without pacing the whole stream goes out in one flush at the
		// end, as a fast upstream's would; paced events are flushed one
		// by one.
		return !paced || rc.Flush() == nil
	}
	for i, ev := range events {
		if !send(ev, i == 0) {
			return
		}
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !send(usage, false) {
		return
	}
	send(s.done, false)
}

// wait sleeps for d unless the request is canceled first; false means it
// was.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// build returns the non-streamed body, the stream events before usage and
// the usage event for model.
func build(model string) (chat []byte, events [][]byte, usage []byte) {
	const id, created = "chatcmpl-mock", 1700000000
	var content string
	for _, c := range Contents {
		content += c
	}
	type msg struct {
		Role    string `json:"role,omitempty"`
		Content string `json:"content"`
	}
	type usageT struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	u := usageT{PromptTokens, CompletionTokens, PromptTokens + CompletionTokens}
	chat = mustJSON(map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg{Role: "assistant", Content: content}, "finish_reason": "stop"}},
		"usage":   u,
	})
	chunk := func(delta any, finish any) []byte {
		return event(mustJSON(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}))
	}
	events = append(events, chunk(msg{Role: "assistant"}, nil))
	for _, c := range Contents {
		events = append(events, chunk(map[string]string{"content": c}, nil))
	}
	events = append(events, chunk(map[string]any{}, "stop"))
	usage = event(mustJSON(map[string]any{
		"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
		"choices": []any{}, "usage": u,
	}))
	return chat, events, usage
}

func event(data []byte) []byte {
	return append(append([]byte("data: "), data...), "\n\n"...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
