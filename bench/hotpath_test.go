package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/bench/mock"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/store"
)

// The hot path is one request through the gateway handler: decode the
// client's JSON, authenticate, resolve the route, run the policy tree
// (nothing, or three CEL rules over the request's features), call the
// model through the executor, encode the answer, set the headers and hand
// the decision to the log. No network: the handler writes to an
// httptest.ResponseRecorder and the model is one of
//
//   - fake: a provider that returns a prebuilt response or chunks, so
//     that only Sextant's own work is measured;
//   - openai: the real openai adapter whose HTTP client serves the mock
//     upstream's handler in memory, adding the upstream request's encoding
//     and the upstream answer's decoding, as `sextant serve` does them.
//
// The rules route sends the same short prompt, so every rule is evaluated
// and the default answers.

// fakeKind is the provider kind of the in-process fake.
const fakeKind = "bench-fake"

func init() { provider.Register(fakeKind, newFake) }

// fake answers every call at once with a fixed completion.
type fake struct {
	resp   *llm.Response
	chunks []*llm.Chunk
}

func newFake(cfg provider.Config) (provider.Provider, error) {
	content := strings.Join(mock.Contents, "")
	usage := llm.Usage{PromptTokens: mock.PromptTokens, CompletionTokens: mock.CompletionTokens, TotalTokens: mock.PromptTokens + mock.CompletionTokens}
	f := &fake{resp: &llm.Response{ID: "chatcmpl-fake", Created: 1700000000, Model: cfg.Upstream,
		Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: content}, FinishReason: "stop"}},
		Usage:   usage}}
	chunk := func(d llm.Delta, finish string) *llm.Chunk {
		return &llm.Chunk{ID: "chatcmpl-fake", Created: 1700000000, Model: cfg.Upstream,
			Choices: []llm.ChunkChoice{{Delta: d, FinishReason: finish}}}
	}
	f.chunks = append(f.chunks, chunk(llm.Delta{Role: llm.RoleAssistant}, ""))
	for _, c := range mock.Contents {
		f.chunks = append(f.chunks, chunk(llm.Delta{Content: c}, ""))
	}
	f.chunks = append(f.chunks, chunk(llm.Delta{}, "stop"),
		&llm.Chunk{ID: "chatcmpl-fake", Created: 1700000000, Model: cfg.Upstream, Usage: &usage})
	return f, nil
}

func (f *fake) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	r := *f.resp // the executor may annotate what it gets
	r.Choices = append([]llm.Choice(nil), f.resp.Choices...)
	return &r, nil
}

func (f *fake) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return &fakeStream{chunks: f.chunks}, nil
}

type fakeStream struct {
	chunks []*llm.Chunk
	i      int
}

func (s *fakeStream) Recv() (*llm.Chunk, error) {
	if s.i >= len(s.chunks) {
		return nil, io.EOF
	}
	c := *s.chunks[s.i]
	s.i++
	return &c, nil
}

func (s *fakeStream) Close() error { return nil }

// handlerTransport is an http.RoundTripper that serves requests with a
// handler in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// hotConfig is bench/sextant.yaml's fleet and routes for one provider
// kind; the openai kind reaches the mock at http://mock/v1.
func hotConfig(kind string) string {
	return `
models:
  - name: mock
    provider: ` + kind + `
    base_url: http://mock/v1
    price: {input: 0.15, output: 0.6}
    capabilities: [streaming]
  - name: mock-large
    provider: ` + kind + `
    upstream: mock
    base_url: http://mock/v1
    price: {input: 2.5, output: 10}
    capabilities: [streaming]
routes:
  direct:
    model: mock
  rules:
    rules:
      rules:
        - name: long
          when: 'request.tokens > 1000'
          route: mock-large
        - name: code-or-math
          when: 'request.has_code || request.has_math'
          route: mock-large
        - name: proofs
          when: 'matches(request.last_user, "(?i)prove|derive")'
          route: mock-large
      default: mock
`
}

// discard is an engine.Recorder that keeps nothing.
type discard struct{}

func (discard) Record(store.Decision) {}

// newGateway builds the gateway for kind with rec as the decision log.
func newGateway(tb testing.TB, kind string, rec engine.Recorder) http.Handler {
	tb.Helper()
	f, err := config.Parse([]byte(hotConfig(kind)))
	if err != nil {
		tb.Fatal(err)
	}
	client := &http.Client{Transport: handlerTransport{mock.New(mock.Options{}).Handler()}}
	snap, err := config.Build(f, config.BuildOptions{Getenv: func(string) string { return "" }, HTTPClient: client})
	if err != nil {
		tb.Fatal(err)
	}
	return gateway.New(engine.New(snap, rec), nil, nil)
}

// chatBody is the request the load generator sends.
func chatBody(route string, stream bool) []byte {
	extra := ""
	if stream {
		extra = `,"stream":true,"stream_options":{"include_usage":true}`
	}
	return []byte(`{"model":"` + route + `","messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":16` + extra + `}`)
}

// serveOnce sends body through h and returns the recorder.
func serveOnce(h http.Handler, body []byte) *httptest.ResponseRecorder {
	// Not httptest.NewRequest: it parses a whole HTTP request and would
	// cost a good part of what is measured.
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

type hotCase struct {
	kind, route string
	stream      bool
}

func (c hotCase) name() string {
	mode := "chat"
	if c.stream {
		mode = "stream"
	}
	return c.kind + "/" + c.route + "/" + mode
}

func hotCases() []hotCase {
	var out []hotCase
	for _, kind := range []string{fakeKind, "openai"} {
		for _, route := range []string{"direct", "rules"} {
			for _, stream := range []bool{false, true} {
				out = append(out, hotCase{kind, route, stream})
			}
		}
	}
	return out
}

// TestHotPathAnswers checks that every benchmarked path answers 200 with
// the whole completion, so the benchmarks measure real answers.
func TestHotPathAnswers(t *testing.T) {
	for _, c := range hotCases() {
		t.Run(c.name(), func(t *testing.T) {
			w := serveOnce(newGateway(t, c.kind, discard{}), chatBody(c.route, c.stream))
			body := w.Body.String()
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, body)
			}
			if got := w.Header().Get(gateway.HeaderModel); got != "mock" {
				t.Errorf("%s = %q, want mock", gateway.HeaderModel, got)
			}
			if c.stream {
				ok := strings.HasSuffix(body, "data: [DONE]\n\n") && strings.Contains(body, `"usage":{`)
				for _, c := range mock.Contents {
					ok = ok && strings.Contains(body, `"content":"`+c+`"`)
				}
				if !ok {
					t.Errorf("stream body:\n%s", body)
				}
			} else if !strings.Contains(body, `"content":"`+strings.Join(mock.Contents, "")+`"`) {
				t.Errorf("body: %s", body)
			}
		})
	}
}

// BenchmarkHotPath measures one request through the gateway handler; see
// the comment at the top of this file. Profile with
//
//	go test ./bench -run '^$' -bench HotPath -benchmem -cpuprofile cpu.out
func BenchmarkHotPath(b *testing.B) {
	for _, c := range hotCases() {
		b.Run(c.name(), func(b *testing.B) {
			h := newGateway(b, c.kind, discard{})
			body := chatBody(c.route, c.stream)
			b.ReportAllocs()
			for b.Loop() {
				if w := serveOnce(h, body); w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkHotPathDecisionLog is the openai direct path with the decision
// log `sextant serve` keeps: an asynchronous SQLite log in a temporary
// directory. The writer's batches run on another goroutine; their CPU
// counts in ns/op as long as the benchmark keeps the cores busy.
func BenchmarkHotPathDecisionLog(b *testing.B) {
	for _, stream := range []bool{false, true} {
		c := hotCase{"openai", "direct", stream}
		b.Run(c.name(), func(b *testing.B) {
			db, err := store.OpenSQLite(b.TempDir() + "/bench.db")
			if err != nil {
				b.Fatal(err)
			}
			log := store.NewLog(db, store.LogOptions{})
			defer log.Close(context.Background())
			h := newGateway(b, c.kind, log)
			body := chatBody(c.route, c.stream)
			b.ReportAllocs()
			for b.Loop() {
				if w := serveOnce(h, body); w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			if err := log.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(log.Dropped()), "dropped")
		})
	}
}
