package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// sseEvents splits an event stream as the gateway writes it into the data
// of its events, failing on anything but "data: <payload>\n\n" blocks.
func sseEvents(t *testing.T, body string) []string {
	t.Helper()
	if body == "" {
		t.Fatal("empty event stream")
	}
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("event stream does not end with a blank line: %q", tail(body))
	}
	var out []string
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("malformed event %q", block)
		}
		out = append(out, data)
	}
	return out
}

func tail(s string) string {
	if len(s) > 200 {
		return "..." + s[len(s)-200:]
	}
	return s
}

// streamResult is one streamed response read to its end.
type streamResult struct {
	status  int
	header  http.Header
	trailer http.Header
	body    string
}

// postStream sends a chat request to a real server and reads the whole
// response, trailers included.
func postStream(t *testing.T, url, body string, header map[string]string) streamResult {
	t.Helper()
	req, err := http.NewRequestWithContext(withTimeout(t), http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return streamResult{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: string(b)}
}

// chunkWire is a chat.completion.chunk as the tests read it; Usage and
// Sextant stay raw so that absent and null can be told apart.
type chunkWire struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   json.RawMessage `json:"usage"`
	Sextant *extensionWire  `json:"sextant"`
	Error   json.RawMessage `json:"error"`
}

// TestStreamFraming checks a successful stream for every combination of
// include_usage and trace: SSE framing, the usage chunk only when asked,
// the trace chunk only when asked and right before [DONE], [DONE] last,
// and the cost trailer agreeing with the trace and the decision.
func TestStreamFraming(t *testing.T) {
	for _, tt := range []struct {
		name         string
		model        string
		includeUsage bool
		trace        bool
	}{
		{"plain", "small", false, false},
		{"usage", "small", true, false},
		{"trace", "small", false, true},
		{"usage and trace", "small", true, true},
		{"route with failover", "auto", true, true},
		{"replayed", "gpt-4", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testConfig, nil)
			srv := httptest.NewServer(f.srv)
			defer srv.Close()
			extra := `"stream":true`
			if tt.includeUsage {
				extra += `,"stream_options":{"include_usage":true}`
			}
			prompt := "tell me something"
			if tt.model == "gpt-4" {
				prompt = demoPrompt
			}
			h := map[string]string{}
			if tt.trace {
				h[HeaderTrace] = "1"
			}
			res := postStream(t, srv.URL, chatBody(tt.model, prompt, extra), h)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", HeaderRoute: tt.model} {
				if got := res.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if res.header.Get(HeaderModel) == "" || !uuidRE.MatchString(res.header.Get("X-Request-Id")) {
				t.Errorf("headers = %v", res.header)
			}
			events := sseEvents(t, res.body)
			if events[len(events)-1] != "[DONE]" {
				t.Fatalf("last event %q, want [DONE]", events[len(events)-1])
			}
			events = events[:len(events)-1]
			var (
				chunks   []chunkWire
				text     strings.Builder
				usages   int
				finishes int
				ext      *extensionWire
			)
			for i, ev := range events {
				if ev == "[DONE]" {
					t.Fatalf("[DONE] at event %d of %d", i, len(events)+1)
				}
				var c chunkWire
				if err := json.Unmarshal([]byte(ev), &c); err != nil {
					t.Fatalf("event %d is not JSON: %v: %s", i, err, ev)
				}
				if c.Object != "chat.completion.chunk" || c.Error != nil {
					t.Fatalf("event %d: %s", i, ev)
				}
				if c.Sextant != nil {
					if i != len(events)-1 {
						t.Errorf("trace chunk at %d, want it last before [DONE]", i)
					}
					if len(c.Choices) != 0 {
						t.Errorf("trace chunk has choices: %s", ev)
					}
					ext = c.Sextant
					continue
				}
				chunks = append(chunks, c)
				switch {
				case !tt.includeUsage && c.Usage != nil:
					t.Errorf("usage member without include_usage: %s", ev)
				case tt.includeUsage && c.Usage == nil:
					t.Errorf("chunk without a usage member although include_usage: %s", ev)
				case tt.includeUsage && string(c.Usage) != "null":
					usages++
					if len(c.Choices) != 0 {
						t.Errorf("usage chunk has choices: %s", ev)
					}
				}
				for _, ch := range c.Choices {
					if ch.Delta.Content != nil {
						text.WriteString(*ch.Delta.Content)
					}
					if ch.FinishReason != nil {
						finishes++
					}
				}
			}
			if len(chunks) == 0 || chunks[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chunk does not open the assistant message: %+v", chunks)
			}
			for _, c := range chunks {
				if c.ID != chunks[0].ID {
					t.Errorf("chunk ids differ: %q, %q", c.ID, chunks[0].ID)
				}
			}
			if text.Len() == 0 || finishes != 1 {
				t.Errorf("content %q, %d finish reasons", text.String(), finishes)
			}
			if want := map[bool]int{false: 0, true: 1}[tt.includeUsage]; usages != want {
				t.Errorf("%d usage chunks, want %d", usages, want)
			}
			if (ext != nil) != tt.trace {
				t.Fatalf("trace chunk present = %v, want %v", ext != nil, tt.trace)
			}
			cost := res.trailer.Get(HeaderCost)
			if !usdRE.MatchString(cost) {
				t.Errorf("cost trailer = %q (trailers %v)", cost, res.trailer)
			}
			if res.header.Get(HeaderCost) != "" {
				t.Errorf("cost sent as a header on a stream: %q", res.header.Get(HeaderCost))
			}
			if ext != nil {
				if ext.CostUSD != cost || ext.attemptCost().String() != cost {
					t.Errorf("trailer %q, trace chunk %q, attempts %s", cost, ext.CostUSD, ext.attemptCost())
				}
				if ext.RequestID != res.header.Get("X-Request-Id") || ext.Model != res.header.Get(HeaderModel) {
					t.Errorf("extension = %+v", ext)
				}
				last := ext.Trace.Attempts[len(ext.Trace.Attempts)-1]
				if last.Outcome != trace.OutcomeOK || !last.Stream {
					t.Errorf("answering attempt = %+v", last)
				}
			}
			d := f.rec.wait(t)
			if d.Status != 200 || !d.Stream || d.ErrorType != "" || d.CostMicros.String() != cost {
				t.Errorf("decision = %+v, trailer cost %s", d, cost)
			}
		})
	}
}

// TestStreamBrokenAfterCommit checks a stream that breaks after its first
// chunk: the client gets an in-band error event and no [DONE], even on a
// route that could have failed over before the commit point, and the
// decision records the failure.
func TestStreamBrokenAfterCommit(t *testing.T) {
	for _, model := range []string{"broken", "brittle"} {
		t.Run(model, func(t *testing.T) {
			f := newFixture(t, testConfig, nil)
			srv := httptest.NewServer(f.srv)
			defer srv.Close()
			res := postStream(t, srv.URL, chatBody(model, "hello", `"stream":true,"stream_options":{"include_usage":true}`), map[string]string{HeaderTrace: "1"})
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if got := res.header.Get(HeaderModel); got != "broken" {
				t.Errorf("%s = %q", HeaderModel, got)
			}
			events := sseEvents(t, res.body)
			for _, ev := range events {
				if ev == "[DONE]" {
					t.Fatal("a broken stream ended with [DONE]")
				}
				if strings.Contains(ev, `"sextant"`) {
					t.Error("a broken stream carries a trace chunk")
				}
			}
			last := events[len(events)-1]
			var e wireError
			if err := json.Unmarshal([]byte(last), &e); err != nil || e.Error.Type != llm.TypeUpstream || str(e.Error.Code) != "stream_truncated" {
				t.Fatalf("last event %s, want an upstream_error stream_truncated object", last)
			}
			if len(events) < 2 {
				t.Errorf("no chunk before the error: %v", events)
			}
			if !usdRE.MatchString(res.trailer.Get(HeaderCost)) {
				t.Errorf("cost trailer = %q", res.trailer.Get(HeaderCost))
			}
			d := f.rec.wait(t)
			if d.Status != http.StatusBadGateway || d.ErrorType != llm.TypeUpstream || d.Model != "broken" || !d.Stream {
				t.Errorf("decision = %+v", d)
			}
			if n := len(d.Trace.Attempts); n != 1 || d.Trace.Attempts[0].Outcome != trace.OutcomeError {
				t.Errorf("attempts = %+v, want the one broken attempt", d.Trace.Attempts)
			}
			if d.CostMicros.String() != res.trailer.Get(HeaderCost) {
				t.Errorf("decision cost %s, trailer %s", d.CostMicros, res.trailer.Get(HeaderCost))
			}
		})
	}
}

// TestStreamErrorBeforeCommit checks that a stream that fails before its
// first chunk gets an ordinary JSON error, not an event stream.
func TestStreamErrorBeforeCommit(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("down", "hello", `"stream":true`), nil)
	if w.Code != http.StatusBadGateway && w.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d", w.Code)
	}
	checkError(t, w, w.Code)
	if d := f.rec.only(t); d.Status != w.Code || !d.Stream {
		t.Errorf("decision = %+v", d)
	}
}

// slowConfig has a model whose stream sends its first token at once and
// the next one only after 1000 s, so a test can act mid-stream.
const slowConfig = `
models:
  - name: slow
    provider: sim
    price: {input: 100, output: 200}
    options: {realtime: true, ttft: 0s, tokens_per_second: 0.001, output_tokens: 10}
`

// TestStreamClientDisconnect checks that a client that goes away mid-stream
// ends the exchange with 499 and the attempt recorded as canceled, with the
// tokens seen so far charged, and that the exchange is finished once.
func TestStreamClientDisconnect(t *testing.T) {
	f := newFixture(t, slowConfig, nil)
	srv := httptest.NewServer(f.srv)
	ctx, cancel := context.WithCancel(withTimeout(t))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
		strings.NewReader(chatBody("slow", "hello", `"stream":true`)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Read up to the first content token, which the gateway has then
	// counted; the next one is 1000 s away.
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %q, %v", line, err)
		}
		if strings.HasPrefix(line, "data: {") && strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`) {
			break
		}
	}
	cancel()
	resp.Body.Close()

	d := f.rec.wait(t)
	srv.Close() // waits for the handler to return
	if d.Status != 499 || d.ErrorType == "" || d.Model != "slow" || !d.Stream {
		t.Errorf("decision = %+v", d)
	}
	if len(d.Trace.Attempts) != 1 {
		t.Fatalf("attempts = %+v", d.Trace.Attempts)
	}
	a := d.Trace.Attempts[0]
	if a.Outcome != trace.OutcomeCanceled || a.Status != 499 || a.ErrorClass != llm.ClassCanceled.String() {
		t.Errorf("attempt = %+v, want canceled", a)
	}
	if a.Usage.CompletionTokens == 0 || a.CostMicros == 0 {
		t.Errorf("attempt usage %+v cost %d: the tokens sent before the cancel are not charged", a.Usage, a.CostMicros)
	}
	if n := len(f.rec.all()); n != 1 {
		t.Errorf("%d decisions, want 1", n)
	}
}

// failingWriter is a ResponseWriter whose writes fail after the first n,
// while the request's context stays alive: a connection that broke before
// the server noticed.
type failingWriter struct {
	*httptest.ResponseRecorder
	n          int
	afterFail  int // writes attempted after the first failure
	failedOnce bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		if w.failedOnce {
			w.afterFail++
		}
		w.failedOnce = true
		return 0, errors.New("broken pipe")
	}
	w.n--
	return w.ResponseRecorder.Write(p)
}

// TestStreamWriteFailureRecordsError is a regression test: when writing an
// event failed while the request context was still alive, the stream went
// on as if it had succeeded, writing the trace chunk and [DONE] into the
// broken connection, and recorded status 499 with no error.
func TestStreamWriteFailureRecordsError(t *testing.T) {
	f := newFixture(t, testConfig, nil)
	w := &failingWriter{ResponseRecorder: httptest.NewRecorder(), n: 1}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody("small", "hello", `"stream":true`)))
	req.Header.Set(HeaderTrace, "1")
	f.srv.ServeHTTP(w, req)
	if w.afterFail != 0 {
		t.Errorf("%d writes after the connection failed", w.afterFail)
	}
	d := f.rec.only(t)
	if d.Status != 499 || d.ErrorType == "" {
		t.Errorf("decision status %d error type %q, want 499 with an error", d.Status, d.ErrorType)
	}
	if a := d.Trace.Attempts; len(a) != 1 || a[0].Outcome != trace.OutcomeCanceled {
		t.Errorf("attempts = %+v, want one canceled", a)
	}
}
