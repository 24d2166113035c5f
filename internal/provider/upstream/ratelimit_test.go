package upstream

import (
	"net/http"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestOpenAIRateLimit(t *testing.T) {
	full := map[string]string{
		"x-ratelimit-limit-requests":     "60",
		"x-ratelimit-remaining-requests": "59",
		"x-ratelimit-limit-tokens":       "150000",
		"x-ratelimit-remaining-tokens":   "149984",
		"x-ratelimit-reset-requests":     "1s",
		"x-ratelimit-reset-tokens":       "6m0s",
	}
	tests := []struct {
		name   string
		header map[string]string
		want   llm.RateLimit
	}{
		{name: "absent"},
		{name: "full", header: full, want: llm.RateLimit{Known: true, LimitRequests: 60, RemainingRequests: 59,
			LimitTokens: 150000, RemainingTokens: 149984, ResetRequests: time.Second, ResetTokens: 6 * time.Minute}},
		{name: "tokens only, ms reset", header: map[string]string{
			"x-ratelimit-remaining-tokens": " 0 ", "x-ratelimit-reset-tokens": "20ms"},
			want: llm.RateLimit{Known: true, LimitRequests: -1, RemainingRequests: -1, LimitTokens: -1,
				RemainingTokens: 0, ResetTokens: 20 * time.Millisecond}},
		{name: "garbage", header: map[string]string{
			"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "-3",
			"x-ratelimit-limit-tokens": "1.5", "x-ratelimit-remaining-tokens": "",
			"x-ratelimit-reset-requests": "soon"}},
		{name: "garbage reset, good count", header: map[string]string{
			"x-ratelimit-limit-requests": "10", "x-ratelimit-reset-requests": "-1s", "x-ratelimit-reset-tokens": "1 s"},
			want: llm.RateLimit{Known: true, LimitRequests: 10, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1}},
		{name: "capped reset", header: map[string]string{"x-ratelimit-limit-requests": "1", "x-ratelimit-reset-requests": "9999h"},
			want: llm.RateLimit{Known: true, LimitRequests: 1, RemainingRequests: -1, LimitTokens: -1, RemainingTokens: -1,
				ResetRequests: MaxRetryAfter}},
		{name: "anthropic names are not read", header: map[string]string{"anthropic-ratelimit-requests-limit": "50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			if got := OpenAIRateLimit(h); got != tt.want {
				t.Errorf("OpenAIRateLimit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAnthropicRateLimit(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	full := map[string]string{
		"anthropic-ratelimit-requests-limit":     "50",
		"anthropic-ratelimit-requests-remaining": "49",
		"anthropic-ratelimit-requests-reset":     "2025-03-01T12:00:01Z",
		"anthropic-ratelimit-tokens-limit":       "80000",
		"anthropic-ratelimit-tokens-remaining":   "20000",
		"anthropic-ratelimit-tokens-reset":       "2025-03-01T13:00:30+01:00",
	}
	tests := []struct {
		name   string
		header map[string]string
		want   llm.RateLimit
	}{
		{name: "absent"},
		{name: "full", header: full, want: llm.RateLimit{Known: true, LimitRequests: 50, RemainingRequests: 49,
			LimitTokens: 80000, RemainingTokens: 20000, ResetRequests: time.Second, ResetTokens: 30 * time.Second}},
		{name: "reset in the past, fractional seconds", header: map[string]string{
			"anthropic-ratelimit-requests-remaining": "0",
			"anthropic-ratelimit-requests-reset":     "2025-03-01T11:59:00.5Z",
			"anthropic-ratelimit-tokens-reset":       "2025-03-01T12:00:00.25Z"},
			want: llm.RateLimit{Known: true, LimitRequests: -1, RemainingRequests: 0, LimitTokens: -1,
				RemainingTokens: -1, ResetTokens: 250 * time.Millisecond}},
		{name: "garbage", header: map[string]string{
			"anthropic-ratelimit-requests-limit": "x", "anthropic-ratelimit-tokens-remaining": "9e9",
			"anthropic-ratelimit-requests-reset": "tomorrow"}},
		{name: "garbage reset, good count", header: map[string]string{
			"anthropic-ratelimit-tokens-limit": "7", "anthropic-ratelimit-tokens-reset": "Sat, 01 Mar 2025 12:00:05 GMT"},
			want: llm.RateLimit{Known: true, LimitRequests: -1, RemainingRequests: -1, LimitTokens: 7, RemainingTokens: -1}},
		{name: "openai names are not read", header: map[string]string{"x-ratelimit-limit-requests": "50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			if got := AnthropicRateLimit(h, now); got != tt.want {
				t.Errorf("AnthropicRateLimit = %+v, want %+v", got, tt.want)
			}
		})
	}
}
