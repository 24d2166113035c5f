package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// OpenAIRateLimit reads OpenAI's rate-limit headers:
// x-ratelimit-{limit,remaining}-{requests,tokens} (integers) and
// x-ratelimit-reset-{requests,tokens} (Go-style durations such as "1s",
// "6m0s", "20ms"). A header that is absent or unusable reads as -1 (a
// count) or 0 (a reset); Known is false when no count was usable. Resets
// are capped at MaxRetryAfter.
func OpenAIRateLimit(h http.Header) llm.RateLimit {
	rl := llm.RateLimit{
		LimitRequests:     count(h, "X-Ratelimit-Limit-Requests"),
		RemainingRequests: count(h, "X-Ratelimit-Remaining-Requests"),
		LimitTokens:       count(h, "X-Ratelimit-Limit-Tokens"),
		RemainingTokens:   count(h, "X-Ratelimit-Remaining-Tokens"),
		ResetRequests:     duration(h.Get("X-Ratelimit-Reset-Requests")),
		ResetTokens:       duration(h.Get("X-Ratelimit-Reset-Tokens")),
	}
	return known(rl)
}

// AnthropicRateLimit reads Anthropic's rate-limit headers:
// anthropic-ratelimit-{requests,tokens}-{limit,remaining} (integers) and
// anthropic-ratelimit-{requests,tokens}-reset (RFC 3339 times, taken
// relative to now). Absent or unusable headers read as for
// OpenAIRateLimit; a reset in the past is 0.
func AnthropicRateLimit(h http.Header, now time.Time) llm.RateLimit {
	rl := llm.RateLimit{
		LimitRequests:     count(h, "Anthropic-Ratelimit-Requests-Limit"),
		RemainingRequests: count(h, "Anthropic-Ratelimit-Requests-Remaining"),
		LimitTokens:       count(h, "Anthropic-Ratelimit-Tokens-Limit"),
		RemainingTokens:   count(h, "Anthropic-Ratelimit-Tokens-Remaining"),
		ResetRequests:     until(h.Get("Anthropic-Ratelimit-Requests-Reset"), now),
		ResetTokens:       until(h.Get("Anthropic-Ratelimit-Tokens-Reset"), now),
	}
	return known(rl)
}

// known sets Known when any count was read, and otherwise returns the
// zero RateLimit (resets alone say nothing about headroom).
func known(rl llm.RateLimit) llm.RateLimit {
	if rl.LimitRequests < 0 && rl.RemainingRequests < 0 && rl.LimitTokens < 0 && rl.RemainingTokens < 0 {
		return llm.RateLimit{}
	}
	rl.Known = true
	return rl
}

// count reads a non-negative integer header, or -1.
func count(h http.Header, name string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// duration reads a non-negative Go duration, or 0.
func duration(v string) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}

// until reads an RFC 3339 time as the wait from now, or 0.
func until(v string, now time.Time) time.Duration {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter)
}
