package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// streamConfig has a model whose every stream breaks after its first chunk
// or a few more, a healthy model, a route that would fail over from the
// first to the second, and a slow realtime model for disconnects.
const streamConfig = `
store: {path: decisions.db}
models:
  - name: sim-breaks
    provider: sim
    max_retries: 0
    price: {input: 10, output: 30}
    options: {seed: 1, realtime: false, stream_break_rate: 1, output_tokens: 40}
  - name: sim-ok
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 2, realtime: false}
  - name: sim-slow
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 3, ttft: 10ms, tokens_per_second: 20, output_tokens: 200}
routes:
  breaking:
    fallback: [sim-breaks, sim-ok]
`

// TestStreamBreak checks that a stream failing after the commit point ends
// with an in-band error event and no [DONE], so that clients, the official
// SDK included, see an error rather than a short answer; a fallback route
// cannot switch models after the commit point either.
func TestStreamBreak(t *testing.T) {
	t.Parallel()
	p := startConfig(t, streamConfig)

	for _, model := range []string{"sim-breaks", "breaking"} {
		t.Run(model+"/raw", func(t *testing.T) {
			c := p.with(t)
			resp, events := c.stream(chatBody(model, "break, please", true))
			if len(events) < 2 {
				t.Fatalf("events = %q; want chunks and then an error", events)
			}
			for _, ev := range events[:len(events)-1] {
				if ev == "[DONE]" {
					t.Fatalf("a broken stream sent [DONE]: %q", events)
				}
				if ch := parseChunk(t, ev); ch.Object != "chat.completion.chunk" || ch.Error != nil {
					t.Errorf("event before the error = %s", ev)
				}
			}
			last := events[len(events)-1]
			if last == "[DONE]" {
				t.Fatalf("a broken stream ends with [DONE]: %q", events)
			}
			e := parseError(t, []byte(last))
			if deref(e.Error.Code) != "stream_truncated" || e.Error.Type != "upstream_error" {
				t.Errorf("error event = %s; want upstream_error stream_truncated", last)
			}
			if got := resp.Header.Get("X-Sextant-Model"); got != "sim-breaks" {
				t.Errorf("x-sextant-model = %q, want sim-breaks (no failover after the commit point)", got)
			}

			d := c.decision(resp.Header.Get("X-Request-Id"), nil)
			if d.Status != http.StatusBadGateway || d.ErrorType != "upstream_error" || !d.Stream || d.Model != "sim-breaks" {
				t.Errorf("decision = %+v; want a 502 upstream_error on sim-breaks", d)
			}
			if d.TTFTMS <= 0 {
				t.Errorf("decision ttft_ms = %v; the client got its first byte", d.TTFTMS)
			}
			if n := len(d.Trace.Attempts); n != 1 || d.Trace.Attempts[0].Outcome != "error" {
				t.Errorf("attempts = %+v; want one failed attempt", d.Trace.Attempts)
			}
		})

		t.Run(model+"/sdk", func(t *testing.T) {
			c := p.with(t)
			st := c.sdk.Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("break, please")},
			})
			defer st.Close()
			chunks := 0
			for st.Next() {
				chunks++
			}
			err := st.Err()
			if err == nil {
				t.Fatalf("the SDK saw a broken stream of %d chunks end cleanly", chunks)
			}
			if chunks == 0 {
				t.Errorf("the stream broke before its first chunk (%v); want a break after the commit point", err)
			}
			var se *ssestream.StreamError
			if !errors.As(err, &se) || !strings.Contains(se.Message, "stream_truncated") {
				t.Errorf("stream error = %v (%T); want an in-band stream_truncated event", err, err)
			}
		})
	}
}

// TestClientDisconnect cancels a slow stream after its first content chunk:
// the decision log records the request as 499 with the attempt canceled and
// the tokens already streamed counted.
func TestClientDisconnect(t *testing.T) {
	t.Parallel()
	p := startConfig(t, streamConfig)
	c := p.with(t)

	rctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	b, _ := json.Marshal(chatBody("sim-slow", "take your time", true))
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+"/v1/chat/completions", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Request-Id")
	sse := newSSEReader(resp.Body)
	for content := false; !content; {
		ev, err := sse.next()
		if err != nil {
			t.Fatalf("before the first content chunk: %v", err)
		}
		ch := parseChunk(t, ev)
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			content = true
		}
		if len(ch.Choices) > 0 && ch.Choices[0].FinishReason != nil {
			t.Fatal("the slow stream finished before the client went away")
		}
	}
	cancel()
	resp.Body.Close()

	d := c.decision(id, nil)
	if d.Status != 499 || !d.Stream || d.Model != "sim-slow" || d.ErrorType == "" {
		t.Errorf("decision = %+v; want status 499 with an error type for a stream on sim-slow", d)
	}
	if d.TTFTMS <= 0 {
		t.Errorf("decision ttft_ms = %v; the client got its first byte", d.TTFTMS)
	}
	if len(d.Trace.Attempts) != 1 {
		t.Fatalf("attempts = %+v, want one", d.Trace.Attempts)
	}
	a := d.Trace.Attempts[0]
	if a.Outcome != "canceled" || a.Status != 499 {
		t.Errorf("attempt = %+v; want canceled with status 499", a)
	}
	if a.Usage.PromptTokens == 0 || a.Usage.CompletionTokens == 0 || a.CostMicros <= 0 {
		t.Errorf("attempt usage %+v, cost %d µ$; want the streamed tokens counted and charged", a.Usage, a.CostMicros)
	}
	if a.Usage.CompletionTokens >= 200 {
		t.Errorf("attempt counted %d completion tokens; the stream was cut early", a.Usage.CompletionTokens)
	}
	if d.Usage != a.Usage || d.CostMicros != a.CostMicros {
		t.Errorf("decision usage %+v, cost %d; want the attempt's %+v, %d", d.Usage, d.CostMicros, a.Usage, a.CostMicros)
	}
}
