package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/redistest"
)

// TestSharedStateAcrossReplicas runs two sextant processes on one Redis:
// a circuit tripped on one is open on the other, a rate limit counts the
// requests of both, a session stays on its model across them, and each
// reports the other's traffic in a model's health.
func TestSharedStateAcrossReplicas(t *testing.T) {
	addr := redistest.Start(t)
	cfg := `
state: {redis: {addr: "` + addr + `", prefix: "` + strings.ReplaceAll(t.Name(), "/", "_") + `:", sync: 50ms}}
health: {enabled: true, consecutive_failures: 3, cooldown: 30s}
keys:
  - {name: limited, key_env: LIMITED_KEY, limits: {requests_per_minute: 4}}
  - {name: open, key_env: OPEN_KEY}
models:
  - {name: flaky, provider: sim, upstream: f, max_retries: 0, options: {realtime: false, error_rate: 1}}
  - {name: s1, provider: sim, upstream: s1, options: {ttft: 5ms, tokens_per_second: 10000, output_tokens: 5}}
  - {name: s2, provider: sim, upstream: s2, options: {ttft: 5ms, tokens_per_second: 10000, output_tokens: 5}}
  - {name: s3, provider: sim, upstream: s3, options: {ttft: 5ms, tokens_per_second: 10000, output_tokens: 5}}
routes:
  pool:
    balance: {candidates: [s1, s2, s3], strategy: weight, sticky: session, explore: 0}
`
	env := []string{"LIMITED_KEY=lim", "OPEN_KEY=open"}
	a := startConfig(t, cfg, env...)
	b := startConfig(t, cfg, env...)
	open := []string{"Authorization", "Bearer open"}

	// A circuit tripped on a opens on b.
	for i := 0; i < 3; i++ {
		a.postJSON("/v1/chat/completions", chatBody("flaky", "hi", false), open...)
	}
	var h struct {
		Healthy bool `json:"healthy"`
		Circuit struct {
			State string `json:"state"`
		} `json:"circuit"`
		Signals struct {
			Requests int64 `json:"requests"`
		} `json:"signals"`
	}
	a.getJSON("/v1/models/flaky/health", http.StatusOK, &h)
	if h.Circuit.State != "open" {
		t.Fatalf("a's circuit is %s after 3 failures", h.Circuit.State)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := b.postJSON("/v1/chat/completions", chatBody("flaky", "hi", false), open...)
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "circuit_open") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never saw a's trip: last %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Signals: b's health of s1 includes a's requests.
	for i := 0; i < 5; i++ {
		a.postJSON("/v1/chat/completions", chatBody("s1", fmt.Sprint("q", i), false), open...)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		b.getJSON("/v1/models/s1/health", http.StatusOK, &h)
		if h.Signals.Requests >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b's signals of s1 show %d requests, want a's 5", h.Signals.Requests)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Rate limit: 4 requests per minute across both replicas.
	lim := []string{"Authorization", "Bearer lim"}
	var codes []int
	for i := 0; i < 6; i++ {
		p := a
		if i%2 == 1 {
			p = b
		}
		resp, _ := p.postJSON("/v1/chat/completions", chatBody("s2", "x", false), lim...)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[200 200 200 200 429 429]" {
		t.Errorf("shared rate limit: statuses %v", codes)
	}

	// Stickiness: a session started on a stays on its model on b.
	sess := []string{"Authorization", "Bearer open", "X-Session-Id", "conv-42"}
	resp, body := a.postJSON("/v1/chat/completions", chatBody("pool", "hello", false), sess...)
	first := resp.Header.Get("X-Sextant-Model")
	if resp.StatusCode != 200 || first == "" {
		t.Fatalf("pool: %d %s", resp.StatusCode, body)
	}
	for i := 0; i < 8; i++ {
		p := b
		if i%2 == 1 {
			p = a
		}
		resp, _ := p.postJSON("/v1/chat/completions", chatBody("pool", fmt.Sprint("turn ", i), false), sess...)
		if got := resp.Header.Get("X-Sextant-Model"); got != first {
			t.Fatalf("turn %d went to %s, the session started on %s", i, got, first)
		}
	}
}
