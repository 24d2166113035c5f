package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/store"
)

// shutdownConfig streams slowly (80 tokens at 40 per second) and gives open
// streams far more grace than they need.
const shutdownConfig = `
server: {shutdown_grace: 30s}
store: {path: decisions.db, flush_every: 1h}
models:
  - name: sim-slow
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 1, ttft: 10ms, tokens_per_second: 40, output_tokens: 80}
`

// TestGracefulShutdown sends SIGTERM while a stream is open: new
// connections are refused, the open stream still finishes with [DONE], the
// process exits 0 and the decision log on disk holds the request. The log
// flushes only every hour here, so the record is on disk only if shutdown
// flushed it.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	p := startConfig(t, shutdownConfig)
	c := p.with(t)

	b, _ := json.Marshal(chatBody("sim-slow", "a long story, please", true))
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, c.base+"/v1/chat/completions", strings.NewReader(string(b)))
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
	var text strings.Builder
	for text.Len() == 0 {
		ev, err := sse.next()
		if err != nil {
			t.Fatalf("before the first content chunk: %v", err)
		}
		if ch := parseChunk(t, ev); len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}

	p.signal(syscall.SIGTERM)
	waitRefused(t, c.base)

	var events []string
	for {
		ev, err := sse.next()
		if err != nil {
			t.Fatalf("the open stream broke during shutdown after %q: %v", events, err)
		}
		events = append(events, ev)
		if ev == "[DONE]" {
			break
		}
		ch := parseChunk(t, ev)
		if ch.Error != nil {
			t.Fatalf("the open stream failed during shutdown: %s", ev)
		}
		if len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	logs := p.stderr()
	for _, want := range []string{`msg="shutting down"`, `msg="decision log flushed"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %s", want)
		}
	}

	db, err := store.OpenSQLite(filepath.Join(p.dir, "decisions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, err := db.Decision(ctx(t), id)
	if err != nil {
		t.Fatalf("the decision log on disk lacks request %s: %v", id, err)
	}
	if d.Status != http.StatusOK || !d.Stream || d.Model != "sim-slow" || d.Usage.CompletionTokens != 80 {
		t.Errorf("stored decision = %+v; want a finished 80-token stream on sim-slow", d)
	}
	if len(d.Trace.Attempts) != 1 || d.Trace.Attempts[0].Outcome != "ok" {
		t.Errorf("stored attempts = %+v; want one ok attempt", d.Trace.Attempts)
	}
}

// waitRefused waits until the server stops accepting connections.
func waitRefused(t *testing.T, base string) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Second}
	deadline := time.Now().Add(exitTimeout)
	for {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server still accepts connections %v after SIGTERM", exitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
