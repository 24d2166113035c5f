package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/provider"
)

// panicMarker is in every test panic's value; it must reach the log and
// never the client.
const panicMarker = "PANIC-MARKER-c0ffee"

// panicNode is a policy kind whose Serve panics with its configured value:
// "abort" panics with http.ErrAbortHandler, anything else with a string.
type panicNode struct{ with string }

func (n panicNode) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	if n.with == "abort" {
		panic(http.ErrAbortHandler)
	}
	panic(panicMarker + ": " + n.with)
}

// panicProvider streams one chunk and panics on the next Recv; its Chat
// panics at once.
type panicProvider struct{}

func (panicProvider) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	panic(panicMarker + ": chat")
}

func (panicProvider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return &panicStream{}, nil
}

type panicStream struct{ n int }

func (s *panicStream) Recv() (*llm.Chunk, error) {
	s.n++
	if s.n > 1 {
		panic(panicMarker + ": mid-stream")
	}
	return &llm.Chunk{ID: "p", Model: "p", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Role: "assistant", Content: "hi"}}}}, nil
}

func (s *panicStream) Close() error { return nil }

func init() {
	policy.Register("test_panic", func(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
		var with string
		if err := json.Unmarshal(raw, &with); err != nil {
			return nil, errors.New("test_panic takes a string")
		}
		return panicNode{with: with}, nil
	})
	provider.Register("test_panic", func(cfg provider.Config) (provider.Provider, error) { return panicProvider{}, nil })
}

const panicConfig = `
models:
  - {name: small, provider: sim, options: {realtime: false, output_tokens: 5}}
  - {name: crashy, provider: test_panic}
routes:
  boom: {test_panic: "in the tree"}
  abort: {test_panic: abort}
`

// TestPanicRecovery checks that a panic while serving becomes a 500 in the
// OpenAI shape naming the request id, that neither the panic value nor a
// stack reaches the client, that both reach the log, and that the server
// goes on serving.
func TestPanicRecovery(t *testing.T) {
	for _, model := range []string{"boom", "crashy"} {
		t.Run(model, func(t *testing.T) {
			f := newFixture(t, panicConfig, nil)
			w := f.do(http.MethodPost, "/v1/chat/completions", chatBody(model, "hi", ""), nil)
			e := checkError(t, w, http.StatusInternalServerError)
			id := w.Header().Get("X-Request-Id")
			if e.Error.Type != llm.TypeServer || str(e.Error.Code) != "internal_error" || !strings.Contains(e.Error.Message, id) {
				t.Errorf("error = %+v, want server_error internal_error naming %s", e.Error, id)
			}
			for _, leak := range []string{panicMarker, "goroutine", ".go:", "runtime/", "panic"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, w.Body)
				}
			}
			logs := f.logs.String()
			if !strings.Contains(logs, panicMarker) || !strings.Contains(logs, id) || !strings.Contains(logs, "goroutine") {
				t.Errorf("log lacks the panic, the request id or the stack:\n%s", logs)
			}
			if w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("small", "hi", ""), nil); w.Code != 200 {
				t.Errorf("after the panic: status %d", w.Code)
			}
		})
	}
}

// TestPanicAbortHandler checks that http.ErrAbortHandler is passed on, so
// the server aborts the connection as net/http intends.
func TestPanicAbortHandler(t *testing.T) {
	f := newFixture(t, panicConfig, nil)
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	f.do(http.MethodPost, "/v1/chat/completions", chatBody("abort", "hi", ""), nil)
	t.Error("ServeHTTP returned")
}

// TestPanicMidStream checks a panic after the stream's commit point: the
// status line is out, so the client must get an in-band error event and no
// [DONE].
//
// Regression: the recovery wrote a second status line (ignored) and a bare
// JSON error body glued onto the event stream, which SSE parsers skip, so
// the stream read as if it had ended cleanly.
func TestPanicMidStream(t *testing.T) {
	f := newFixture(t, panicConfig, nil)
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	res := postStream(t, srv.URL, chatBody("crashy", "hi", `"stream":true`), nil)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	events := sseEvents(t, res.body)
	last := events[len(events)-1]
	var e wireError
	if err := json.Unmarshal([]byte(last), &e); err != nil || e.Error.Type != llm.TypeServer {
		t.Errorf("last event %q, want a server_error object", last)
	}
	for _, ev := range events {
		if ev == "[DONE]" || strings.Contains(ev, panicMarker) {
			t.Errorf("event %q after a panic", ev)
		}
	}
}
