package anthropic

import (
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

// TestRateLimitReported checks that the headroom in a response's headers
// reaches the caller on a whole response, a stream and a 429 error, with
// the RFC 3339 resets taken relative to the provider's clock, and that an
// upstream that sends none reports none.
func TestRateLimitReported(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	headers := map[string]string{
		"anthropic-ratelimit-requests-limit":     "50",
		"anthropic-ratelimit-requests-remaining": "10",
		"anthropic-ratelimit-requests-reset":     "2025-03-01T12:00:06Z",
		"anthropic-ratelimit-tokens-limit":       "40000",
		"anthropic-ratelimit-tokens-remaining":   "1000",
		"anthropic-ratelimit-tokens-reset":       "2025-03-01T12:01:00Z",
	}
	want := llm.RateLimit{Known: true, LimitRequests: 50, RemainingRequests: 10, LimitTokens: 40000,
		RemainingTokens: 1000, ResetRequests: 6 * time.Second, ResetTokens: time.Minute}
	tests := []struct {
		name    string
		headers map[string]string
		want    llm.RateLimit
	}{
		{"with headers", headers, want},
		{"without headers", nil, llm.RateLimit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/chat", func(t *testing.T) {
			f := providertest.NewFake(t, 200, tt.headers, providertest.ReadFile(t, "testdata/chat/plain.resp.json"))
			p := newProvider(t, f.URL, f.Client(), testKey, "")
			p.now = func() time.Time { return now }
			resp, err := p.Chat(t.Context(), simpleRequest())
			if err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if resp.RateLimit != tt.want {
				t.Errorf("RateLimit = %+v, want %+v", resp.RateLimit, tt.want)
			}
		})
		t.Run(tt.name+"/stream", func(t *testing.T) {
			f := providertest.NewFake(t, 200, tt.headers, providertest.ReadFile(t, "testdata/stream/text.sse"))
			f.SSE = true
			p := newProvider(t, f.URL, f.Client(), testKey, "")
			p.now = func() time.Time { return now }
			s, err := p.ChatStream(t.Context(), simpleRequest())
			if err != nil {
				t.Fatalf("ChatStream: %v", err)
			}
			defer s.Close()
			r, ok := s.(llm.RateLimitReporter)
			if !ok {
				t.Fatal("stream does not implement llm.RateLimitReporter")
			}
			if got := r.RateLimit(); got != tt.want {
				t.Errorf("RateLimit = %+v, want %+v", got, tt.want)
			}
			providertest.Drain(t, s)
		})
		t.Run(tt.name+"/429", func(t *testing.T) {
			f := providertest.NewFake(t, 429, tt.headers,
				[]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`))
			p := newProvider(t, f.URL, f.Client(), testKey, "")
			p.now = func() time.Time { return now }
			_, err := p.Chat(t.Context(), simpleRequest())
			if got := llm.AsError(err).RateLimit; got != tt.want {
				t.Errorf("429 RateLimit = %+v, want %+v (err %v)", got, tt.want, err)
			}
		})
	}
}
