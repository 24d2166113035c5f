package openai

import (
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider/providertest"
)

// rateHeaders is what an OpenAI server sends with every answer.
var rateHeaders = map[string]string{
	"x-ratelimit-limit-requests":     "500",
	"x-ratelimit-remaining-requests": "499",
	"x-ratelimit-limit-tokens":       "30000",
	"x-ratelimit-remaining-tokens":   "29000",
	"x-ratelimit-reset-requests":     "120ms",
	"x-ratelimit-reset-tokens":       "2s",
}

var wantRate = llm.RateLimit{Known: true, LimitRequests: 500, RemainingRequests: 499, LimitTokens: 30000,
	RemainingTokens: 29000, ResetRequests: 120 * time.Millisecond, ResetTokens: 2 * time.Second}

// TestRateLimitReported checks that the headroom in a response's headers
// reaches the caller on a whole response, a stream and a 429 error, and
// that an upstream that sends none reports none.
func TestRateLimitReported(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    llm.RateLimit
	}{
		{"with headers", rateHeaders, wantRate},
		{"without headers", nil, llm.RateLimit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/chat", func(t *testing.T) {
			f := providertest.NewFake(t, 200, tt.headers, providertest.ReadFile(t, "testdata/chat/plain.resp.json"))
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, "")
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
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, "")
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
				[]byte(`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`))
			p := newProvider(t, f.URL+"/v1", f.Client(), testKey, "")
			_, err := p.Chat(t.Context(), simpleRequest())
			if got := llm.AsError(err).RateLimit; got != tt.want {
				t.Errorf("429 RateLimit = %+v, want %+v (err %v)", got, tt.want, err)
			}
		})
	}
}
