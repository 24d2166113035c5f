package rules

import (
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/signals"
)

func TestSignalFunctions(t *testing.T) {
	// Process-wide registries: model names unique to this test.
	signals.Default.Record("rules-test-slow", signals.Result{Latency: 2 * time.Second})
	signals.Default.Record("rules-test-fast", signals.Result{Latency: 100 * time.Millisecond})
	signals.Default.Record("rules-test-limited", signals.Result{Latency: time.Millisecond, RateLimit: llm.RateLimit{
		Known: true, LimitRequests: 100, RemainingRequests: 5, LimitTokens: -1, RemainingTokens: 4000}})
	health.Default.Configure(health.Config{ConsecutiveFailures: 1})
	health.Default.Report("rules-test-down", health.Outcome{Failure: true})
	t.Cleanup(func() { health.Default.Configure(health.Config{}) })

	tests := []struct {
		when string
		want string
	}{
		{`model_signal("rules-test-slow", "latency_p50_ms") > 1000.0`, "gpt-4"},
		{`model_signal("rules-test-fast", "latency_p50_ms") > 1000.0`, "small"},
		{`model_signal("never-seen", "requests") == 0.0`, "gpt-4"},
		{`model_signal("rules-test-slow", "requests") == 1.0`, "gpt-4"},
		{`model_signal("rules-test-limited", "ratelimit_remaining_requests") == 5.0`, "gpt-4"},
		{`model_signal("rules-test-limited", "ratelimit_remaining_requests_share") < 0.1`, "gpt-4"},
		{`model_signal("rules-test-limited", "ratelimit_remaining_tokens") == 4000.0`, "gpt-4"},
		{`model_signal("rules-test-limited", "ratelimit_remaining_tokens_share") == -1.0`, "gpt-4"},
		{`model_signal("rules-test-fast", "ratelimit_remaining_requests_share") >= 0.0`, "small"},
		{`model_signal("never-seen", "ratelimit_remaining_tokens") == -1.0`, "gpt-4"},
		{`!model_healthy("rules-test-down")`, "gpt-4"},
		{`model_healthy("rules-test-fast")`, "gpt-4"},
		{`load >= 1`, "gpt-4"},
		{`load > 1000`, "small"},
	}
	load.Default.Inc()
	defer load.Default.Dec()
	for _, tt := range tests {
		n := newNode(t, "rules: [{when: '"+tt.when+"', route: gpt-4}]\ndefault: small")
		c := newCall(ask("x"))
		if got := serve(t, n, c); got != tt.want {
			t.Errorf("%s: routed to %s, want %s", tt.when, got, tt.want)
		}
	}
	// An unknown signal is an evaluation error: the rule does not match
	// and the trace says why.
	n := newNode(t, "rules: [{when: 'model_signal(\"m\", \"bogus\") > 0.0', route: gpt-4}]\ndefault: small")
	c := newCall(ask("x"))
	if got := serve(t, n, c); got != "small" || c.Trace.Snapshot().Decisions[0].Data == nil {
		t.Errorf("unknown signal: routed to %s, data %v", got, c.Trace.Snapshot().Decisions[0].Data)
	}
}
