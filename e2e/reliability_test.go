package e2e

import (
	"encoding/json"
	"testing"
)

// reliabilityConfig has a model that never answers, one that is always rate
// limited, and a healthy one, under short deadlines.
const reliabilityConfig = `
store: {path: decisions.db}
executor: {attempt_timeout: 300ms, ttft_timeout: 300ms}
models:
  - {name: sim-hang, provider: sim, max_retries: 0, options: {realtime: false, hang_rate: 1}}
  - {name: sim-429, provider: sim, max_retries: 0, options: {realtime: false, rate_limit_rate: 1, retry_after: 2s}}
  - {name: sim-up, provider: sim, options: {realtime: false, reply: "up: {{.Prompt}}"}}
routes:
  patient: {fallback: [sim-hang, sim-429, sim-up]}
`

// TestDeadlinesAndRateLimits checks upstream failures as the client sees
// them: a model that hangs times out with 504 (the attempt deadline, or
// the time-to-first-token deadline for a stream), a rate limit is passed
// on as 429 with Retry-After, and a fallback route walks past both.
func TestDeadlinesAndRateLimits(t *testing.T) {
	t.Parallel()
	p := startConfig(t, reliabilityConfig)
	// The first token count in a process loads the tokenizer (about 0.2s,
	// 0.5s under -race), inside the first attempt and its 300ms deadline.
	if _, _, err := ask(t, p.client, "sim-up", "warm up", false); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		model      string
		stream     bool
		status     int
		typ, code  string
		retryAfter string
	}{
		{name: "hang", model: "sim-hang", status: 504, typ: "timeout_error", code: "upstream_timeout"},
		{name: "hang stream", model: "sim-hang", stream: true, status: 504, typ: "timeout_error", code: "ttft_timeout"},
		{name: "rate limit", model: "sim-429", status: 429, typ: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: "2"},
		{name: "rate limit stream", model: "sim-429", stream: true, status: 429, typ: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.with(t)
			resp, b := c.postJSON("/v1/chat/completions", chatBody(tt.model, "are you there", tt.stream))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			e := parseError(t, b)
			if e.Error.Type != tt.typ || deref(e.Error.Code) != tt.code {
				t.Errorf("error = %s; want %s %s", b, tt.typ, tt.code)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			d := c.decision(resp.Header.Get("X-Request-Id"), nil)
			if d.Status != tt.status || d.ErrorType != tt.typ || len(d.Trace.Attempts) != 1 {
				t.Errorf("decision = %+v", d)
			}
		})
	}

	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "fallback", true: "fallback stream"}[stream], func(t *testing.T) {
			c := p.with(t)
			got, id, err := ask(t, c, "patient", "are you there", stream)
			if err != nil {
				t.Fatal(err)
			}
			if got != "up: are you there" {
				t.Errorf("answer = %q", got)
			}
			d := c.decision(id, nil)
			var outcomes [][2]any
			for _, a := range d.Trace.Attempts {
				outcomes = append(outcomes, [2]any{a.Model, a.Status})
			}
			want := [][2]any{{"sim-hang", 504}, {"sim-429", 429}, {"sim-up", 200}}
			if g, w := mustJSON(t, outcomes), mustJSON(t, want); g != w {
				t.Errorf("attempts (model, status) = %s, want %s", g, w)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
