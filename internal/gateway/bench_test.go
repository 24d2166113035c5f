package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/store"
)

// benchSimOptions is a sim that answers at once with four tokens, so that
// what is measured is the path around it, not the simulated model.
const benchSimOptions = `{"seed": 1, "realtime": false, "output_tokens": 4}`

const benchConfig = `
models:
  - name: tiny
    provider: sim
    price: {input: 1, output: 2}
    options: ` + benchSimOptions + `
`

// discardRecorder is a Recorder that keeps nothing.
type discardRecorder struct{}

func (discardRecorder) Record(store.Decision) {}

// benchWriter is a ResponseWriter that keeps only the status and counts
// bytes, so the harness adds as little as possible.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) Flush()                      {}

// BenchmarkGatewayOverhead serves chat completions through the whole
// handler (decode, auth, engine, policy tree, executor, trace, encode,
// headers, decision record) and compares them with calling the same sim
// provider directly. The difference per request, in time and allocations,
// is Sextant's own overhead.
func BenchmarkGatewayOverhead(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name := "chat"
		extra := ""
		if stream {
			name, extra = "stream", `"stream":true,"stream_options":{"include_usage":true}`
		}
		body := []byte(chatBody("tiny", "What is the capital of France?", extra))

		b.Run("gateway/"+name, func(b *testing.B) {
			srv := New(engine.New(buildSnapshot(b, benchConfig, nil), discardRecorder{}), nil, nil)
			req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
			req.Header.Set("Content-Type", "application/json")
			w := &benchWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				req.Body = io.NopCloser(bytes.NewReader(body))
				clear(w.h)
				w.status, w.n = 0, 0
				srv.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})

		b.Run("provider/"+name, func(b *testing.B) {
			factory, ok := provider.Lookup("sim")
			if !ok {
				b.Fatal("sim provider not registered")
			}
			p, err := factory(provider.Config{Model: "tiny", Upstream: "tiny", Options: json.RawMessage(benchSimOptions), OptionsPath: "options"})
			if err != nil {
				b.Fatal(err)
			}
			req := &llm.Request{Model: "tiny", Stream: stream, IncludeUsage: stream,
				Messages: []llm.Message{{Role: llm.RoleUser, Content: "What is the capital of France?"}}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if !stream {
					if _, err := p.Chat(ctx, req); err != nil {
						b.Fatal(err)
					}
					continue
				}
				s, err := p.ChatStream(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := s.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				s.Close()
			}
		})
	}
}
