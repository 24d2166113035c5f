package gateway

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sextant-router/sextant/internal/config"
)

const cacheConfig = testConfig + `
cache:
  enabled: true
  ttl: 1m
  max_entries: 100
  routes: [auto, small]
`

func content(t testing.TB, body string) string {
	t.Helper()
	var r struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Choices) == 0 {
		t.Fatalf("bad body %q: %v", body, err)
	}
	return r.Choices[0].Message.Content
}

// streamText concatenates the content deltas of an SSE body.
func streamText(t *testing.T, body string) string {
	t.Helper()
	var sb strings.Builder
	done := false
	for _, line := range strings.Split(body, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("bad chunk %q: %v", data, err)
		}
		for _, c := range ch.Choices {
			sb.WriteString(c.Delta.Content)
		}
	}
	if !done {
		t.Fatalf("stream did not end with [DONE]: %q", body)
	}
	return sb.String()
}

func TestCacheHitMissAndStreamReplay(t *testing.T) {
	f := newFixture(t, cacheConfig, nil)
	body := chatBody("auto", "what is a sextant?", "")
	w := f.do("POST", "/v1/chat/completions", body, nil)
	if w.Code != 200 || w.Header().Get(HeaderCache) != "miss" {
		t.Fatalf("first: %d %q %s", w.Code, w.Header().Get(HeaderCache), w.Body)
	}
	d := f.rec.wait(t)
	if len(d.Trace.Attempts) == 0 || d.CostMicros == 0 {
		t.Fatalf("miss made no upstream call: %+v", d)
	}
	want := content(t, w.Body.String())

	// The same request, differently laid out and with a user: a hit at zero cost.
	w = f.do("POST", "/v1/chat/completions", chatBody("auto", "what is a sextant?", `"user":"someone"`), nil)
	if w.Code != 200 || w.Header().Get(HeaderCache) != "hit" || content(t, w.Body.String()) != want {
		t.Fatalf("second: %d %q %s", w.Code, w.Header().Get(HeaderCache), w.Body)
	}
	d = f.rec.wait(t)
	if len(d.Trace.Attempts) != 0 || d.CostMicros != 0 || d.Usage.TotalTokens != 0 {
		t.Fatalf("hit was not free: attempts %d cost %d usage %+v", len(d.Trace.Attempts), d.CostMicros, d.Usage)
	}
	if n := len(d.Trace.Decisions); n == 0 || d.Trace.Decisions[0].Kind != "cache" || d.Trace.Decisions[0].Decision != "hit" {
		t.Fatalf("decisions %+v", d.Trace.Decisions)
	}
	if d.Model != "small" {
		t.Fatalf("hit model %q", d.Model)
	}

	// A streaming request for the same answer replays it as a stream.
	w = f.do("POST", "/v1/chat/completions", chatBody("auto", "what is a sextant?", `"stream":true`), nil)
	if w.Code != 200 || w.Header().Get(HeaderCache) != "hit" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream hit: %d %q %q", w.Code, w.Header().Get(HeaderCache), w.Header().Get("Content-Type"))
	}
	if got := streamText(t, w.Body.String()); got != want {
		t.Fatalf("replayed %q, want %q", got, want)
	}
	f.rec.wait(t)

	// A streamed miss is assembled and stored at its end.
	w = f.do("POST", "/v1/chat/completions", chatBody("auto", "another question", `"stream":true`), nil)
	if w.Header().Get(HeaderCache) != "miss" {
		t.Fatalf("stream miss header %q", w.Header().Get(HeaderCache))
	}
	streamed := streamText(t, w.Body.String())
	f.rec.wait(t)
	w = f.do("POST", "/v1/chat/completions", chatBody("auto", "another question", ""), nil)
	if w.Header().Get(HeaderCache) != "hit" || content(t, w.Body.String()) != streamed {
		t.Fatalf("after stream: %q %s, want %q", w.Header().Get(HeaderCache), w.Body, streamed)
	}
	f.rec.wait(t)
}

func TestCacheHeaders(t *testing.T) {
	f := newFixture(t, cacheConfig, nil)
	body := chatBody("small", "hello", "")
	tests := []struct {
		header, want string
		upstream     bool
	}{
		{"bypass", "bypass", true}, // neither read nor written
		{"", "miss", true},         // so this is a miss, and stores
		{"", "hit", false},         //
		{"BYPASS", "bypass", true}, // case-insensitive
		{"refresh", "miss", true},  // skips the read, stores
		{"", "hit", false},         //
	}
	for i, tt := range tests {
		w := f.do("POST", "/v1/chat/completions", body, map[string]string{HeaderCache: tt.header})
		d := f.rec.wait(t)
		if w.Code != 200 || w.Header().Get(HeaderCache) != tt.want || (len(d.Trace.Attempts) > 0) != tt.upstream {
			t.Fatalf("step %d (%q): %d header %q attempts %d", i, tt.header, w.Code, w.Header().Get(HeaderCache), len(d.Trace.Attempts))
		}
	}
	// A route the cache does not cover has no header and always calls upstream.
	for range 2 {
		w := f.do("POST", "/v1/chat/completions", chatBody("big", "hello", ""), nil)
		if d := f.rec.wait(t); w.Header().Get(HeaderCache) != "" || len(d.Trace.Attempts) == 0 {
			t.Fatalf("uncovered route: header %q attempts %d", w.Header().Get(HeaderCache), len(d.Trace.Attempts))
		}
	}
}

func TestCacheConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, path string }{
		{"cache: {ttl: 5ms}", "cache.ttl"},
		{"cache: {max_entries: -1}", "cache.max_entries"},
		{"cache: {enabled: true, ttls: 1m}", "cache.ttls"},
	} {
		_, err := parseAndBuild(testConfig + tt.yaml + "\n")
		if err == nil || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: err %v, want path %s", tt.yaml, err, tt.path)
		}
	}
}

// BenchmarkCache compares a cache hit with a miss on the sim fleet
// (realtime off, so the miss is the gateway's and the sim's own work, a
// lower bound for a real upstream).
func BenchmarkCache(b *testing.B) {
	f := newFixture(b, cacheConfig, nil)
	b.Run("hit", func(b *testing.B) {
		body := chatBody("small", "cached question", "")
		f.do("POST", "/v1/chat/completions", body, nil)
		b.ReportAllocs()
		for b.Loop() {
			if w := f.do("POST", "/v1/chat/completions", body, nil); w.Header().Get(HeaderCache) != "hit" {
				b.Fatal(w.Header().Get(HeaderCache))
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if w := f.do("POST", "/v1/chat/completions", chatBody("small", fmt.Sprint("question ", i), ""), nil); w.Header().Get(HeaderCache) != "miss" {
				b.Fatal(w.Header().Get(HeaderCache))
			}
		}
	})
	b.Run("bypass", func(b *testing.B) {
		// The miss's work without the cache: the same unique prompts.
		h := map[string]string{HeaderCache: "bypass"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			f.do("POST", "/v1/chat/completions", chatBody("small", fmt.Sprint("question ", i), ""), h)
		}
	})
}

func parseAndBuild(yaml string) (any, error) {
	f, err := config.Parse([]byte(yaml))
	if err != nil {
		return nil, err
	}
	return config.Build(f, config.BuildOptions{Getenv: func(string) string { return "" }})
}

// BenchmarkCacheParallelExample measures a hit against a miss on the race
// route of examples/parallel.yaml (the realtime sim fleet: a miss waits for
// the race's winner).
func BenchmarkCacheParallelExample(b *testing.B) {
	raw, err := os.ReadFile("../../examples/parallel.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture(b, string(raw), nil)
	b.Run("hit", func(b *testing.B) {
		body := chatBody("race", "what is 2+2?", "")
		f.do("POST", "/v1/chat/completions", body, nil)
		b.ReportAllocs()
		for b.Loop() {
			if w := f.do("POST", "/v1/chat/completions", body, nil); w.Header().Get(HeaderCache) != "hit" {
				b.Fatal(w.Header().Get(HeaderCache))
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if w := f.do("POST", "/v1/chat/completions", chatBody("race", fmt.Sprint("uncached question ", i), ""), nil); w.Header().Get(HeaderCache) != "miss" {
				b.Fatal(w.Header().Get(HeaderCache), w.Body)
			}
		}
	})
}

// TestCacheCoalescesThroughGateway sends identical requests at once to a
// slow sim model: one upstream call answers them all.
func TestCacheCoalescesThroughGateway(t *testing.T) {
	f := newFixture(t, `
models:
  - name: slow
    provider: sim
    options: {seed: 5, ttft: {p50: 500ms, p99: 500ms}, tokens_per_second: 10000, output_tokens: 5}
cache: {enabled: true}
`, nil)
	const n = 8
	body := chatBody("slow", "same question", "")
	var wg sync.WaitGroup
	texts := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.do("POST", "/v1/chat/completions", body, nil)
			if w.Code != 200 {
				t.Errorf("%d %s", w.Code, w.Body)
				return
			}
			texts[i] = content(t, w.Body.String())
		}()
	}
	wg.Wait()
	attempts, hits := 0, 0
	for range n {
		d := f.rec.wait(t)
		attempts += len(d.Trace.Attempts)
		for _, dd := range d.Trace.Decisions {
			if dd.Kind == "cache" && dd.Decision == "hit" {
				hits++
			}
		}
	}
	if attempts != 1 || hits != n-1 {
		t.Fatalf("%d upstream attempts and %d hits for %d identical concurrent requests, want 1 and %d", attempts, hits, n, n-1)
	}
	for _, s := range texts {
		if s != texts[0] {
			t.Fatalf("answers differ: %q vs %q", s, texts[0])
		}
	}
}
