package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is the fleet most tests use: simulated and replayed models
// that answer at once (realtime off), a flaky one, one that breaks every
// stream, and routes over them. Prices are high so that every answer costs
// a visible number of micro-dollars.
const testConfig = `
server:
  max_body_bytes: 2048
  allowed_headers: [x-tier]
executor:
  max_retries: 0
  backoff_initial: 1ms
models:
  - name: small
    provider: sim
    price: {input: 100, output: 200}
    context_window: 32768
    capabilities: [streaming, tools]
    options: {seed: 1, realtime: false, output_tokens: {min: 5, max: 8}}
  - name: big
    provider: sim
    price: {input: 1000, output: 3000}
    options: {seed: 2, realtime: false, output_tokens: {min: 5, max: 8}}
  - name: down
    provider: sim
    options: {seed: 3, realtime: false, error_rate: 1}
  - name: broken
    provider: sim
    price: {input: 100, output: 200}
    options: {seed: 4, realtime: false, output_tokens: 30, stream_break_rate: 1}
  - name: gpt-4
    provider: replay
    upstream: gpt-4-1106-preview
    price: {input: 10, output: 30}
    options: {dataset: "builtin:demo", realtime: false}
routes:
  auto:
    fallback: [down, small]
  brittle:
    fallback: [broken, small]
  tiered:
    rules:
      rules:
        - {name: pro, when: 'caller.tier == "pro"', route: big}
      default: small
`

// buildSnapshot builds a snapshot from YAML, reading secrets from env.
func buildSnapshot(t testing.TB, yaml string, env map[string]string) *config.Snapshot {
	t.Helper()
	f, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	snap, err := config.Build(f, config.BuildOptions{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("build config: %v", err)
	}
	return snap
}

// recorder is a fake engine.Recorder that keeps every decision.
type recorder struct {
	mu sync.Mutex
	ds []store.Decision
	ch chan store.Decision // receives each decision too, when not nil
}

func newRecorder() *recorder { return &recorder{ch: make(chan store.Decision, 64)} }

func (r *recorder) Record(d store.Decision) {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
	select {
	case r.ch <- d:
	default:
	}
}

func (r *recorder) all() []store.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Decision(nil), r.ds...)
}

// only returns the one decision recorded so far, failing unless there is
// exactly one.
func (r *recorder) only(t *testing.T) store.Decision {
	t.Helper()
	ds := r.all()
	if len(ds) != 1 {
		t.Fatalf("%d decisions recorded, want 1: %+v", len(ds), ds)
	}
	return ds[0]
}

// wait returns the next decision, failing after a generous timeout (which
// only a hung test reaches; no test asserts on wall-clock time).
func (r *recorder) wait(t *testing.T) store.Decision {
	t.Helper()
	select {
	case d := <-r.ch:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no decision recorded")
		return store.Decision{}
	}
}

// fixture is a server on a snapshot with a fake recorder.
type fixture struct {
	srv  *Server
	eng  *engine.Engine
	rec  *recorder
	logs *bytes.Buffer // the server's log output
}

func newFixture(t testing.TB, yaml string, env map[string]string) *fixture {
	t.Helper()
	rec := newRecorder()
	eng := engine.New(buildSnapshot(t, yaml, env), rec)
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	return &fixture{srv: New(eng, nil, logger), eng: eng, rec: rec, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// do serves one request through the handler with a recorder.
func (f *fixture) do(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	return serve(f.srv, method, path, body, header)
}

func serve(h http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// chatBody returns a chat completion request for model with one user
// message.
func chatBody(model, prompt string, extra string) string {
	b, _ := json.Marshal(prompt)
	s := `{"model":"` + model + `","messages":[{"role":"user","content":` + string(b) + `}]`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// wireError is the OpenAI error envelope, with param and code as raw JSON so
// that null and absent can be told apart.
type wireError struct {
	Error struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	} `json:"error"`
}

// checkError asserts that w is an OpenAI-shaped error with status and
// Content-Type application/json, and returns it.
func checkError(t *testing.T, w *httptest.ResponseRecorder, status int) wireError {
	t.Helper()
	return checkErrorBody(t, w.Code, w.Header(), w.Body.Bytes(), status)
}

func checkErrorBody(t *testing.T, code int, h http.Header, body []byte, status int) wireError {
	t.Helper()
	if code != status {
		t.Errorf("status = %d, want %d; body %s", code, status, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e wireError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s is not the OpenAI error shape: %v", body, err)
	}
	if dec.More() {
		t.Errorf("trailing data after the error object: %s", body)
	}
	var top map[string]json.RawMessage
	json.Unmarshal(body, &top)
	var inner map[string]json.RawMessage
	json.Unmarshal(top["error"], &inner)
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := inner[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, body)
		}
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Errorf("error has empty message or type: %s", body)
	}
	return e
}

// str returns a raw JSON string member as a Go string, "<null>" for null.
func str(raw json.RawMessage) string {
	if string(raw) == "null" || raw == nil {
		return "<null>"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "<not a string: " + string(raw) + ">"
	}
	return s
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	usdRE  = regexp.MustCompile(`^\d+\.\d{6}$`)
)

// withTimeout returns a context that ends with the test or after a
// generous bound that only a hung test reaches.
func withTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
