package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

const healthConfig = `
health: {enabled: true, consecutive_failures: 2, cooldown: 1m}
models:
  - name: org/hc-flaky
    provider: sim
    upstream: s
    max_retries: 0
    options: {realtime: false, error_rate: 1}
  - name: hc-fine
    provider: sim
    upstream: s2
    options: {realtime: false}
`

func TestModelHealth(t *testing.T) {
	f := newFixture(t, healthConfig, nil)
	for i := 0; i < 3; i++ {
		f.do(http.MethodPost, "/v1/chat/completions", chatBody("org/hc-flaky", "hi", ""), nil)
		f.do(http.MethodPost, "/v1/chat/completions", chatBody("hc-fine", "hi", ""), nil)
	}
	tests := []struct {
		path     string
		healthy  bool
		state    string
		requests int64
	}{
		{"/v1/models/org/hc-flaky/health", false, "open", 2}, // the third call never reached it
		{"/v1/models/hc-fine/health", true, "closed", 3},
	}
	for _, tc := range tests {
		w := f.do(http.MethodGet, tc.path, "", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d %s", tc.path, w.Code, w.Body)
		}
		var v healthView
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		if v.Healthy != tc.healthy || v.Circuit.State != tc.state || v.Signals.Requests != tc.requests || !v.CircuitBreaking {
			t.Errorf("%s: %s", tc.path, w.Body)
		}
	}
	if w := f.do(http.MethodGet, "/v1/models/nope/health", "", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown model: %d", w.Code)
	}
	w := f.do(http.MethodPost, "/v1/chat/completions", chatBody("org/hc-flaky", "hi", ""), nil)
	if e := checkError(t, w, http.StatusServiceUnavailable); str(e.Error.Code) != "circuit_open" || w.Header().Get("Retry-After") == "" {
		t.Errorf("open circuit: %+v Retry-After %q", e, w.Header().Get("Retry-After"))
	}
}

// TestModelHealthRateLimit checks that an upstream's rate-limit headers
// show in the model's health as signals.rate_limit, from a whole response
// and from a stream, and that a model whose upstream sends none has no
// rate_limit object.
func TestModelHealthRateLimit(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Stream bool `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		h := w.Header()
		h.Set("x-ratelimit-limit-requests", "200")
		h.Set("x-ratelimit-limit-tokens", "10000")
		h.Set("x-ratelimit-reset-tokens", "1m0s")
		if body.Stream {
			h.Set("x-ratelimit-remaining-requests", "150")
			h.Set("x-ratelimit-remaining-tokens", "2500")
			h.Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",`+
				`"choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
			return
		}
		h.Set("x-ratelimit-remaining-requests", "199")
		h.Set("x-ratelimit-remaining-tokens", "9000")
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(up.Close)
	cfg := `
models:
  - name: hc-rl-live
    provider: openai
    upstream: gpt-4o
    base_url: ` + up.URL + `
    api_key_env: RL_KEY
  - name: hc-rl-sim
    provider: sim
    options: {realtime: false}
`
	f := newFixture(t, cfg, map[string]string{"RL_KEY": "sk-rl"})
	type view struct {
		Signals struct {
			RateLimit map[string]any `json:"rate_limit"`
		} `json:"signals"`
	}
	read := func(name string) view {
		t.Helper()
		w := f.do(http.MethodGet, "/v1/models/"+name+"/health", "", nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s health: %d %s", name, w.Code, w.Body)
		}
		var v view
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, model, body string
		want              map[string]float64 // nil: no rate_limit object
	}{
		{"sim sends no headers", "hc-rl-sim", chatBody("hc-rl-sim", "hi", ""), nil},
		{"whole response", "hc-rl-live", chatBody("hc-rl-live", "hi", ""), map[string]float64{
			"limit_requests": 200, "remaining_requests": 199, "remaining_requests_share": 0.995,
			"limit_tokens": 10000, "remaining_tokens": 9000, "remaining_tokens_share": 0.9}},
		{"stream", "hc-rl-live", `{"model":"hc-rl-live","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]float64{"remaining_requests": 150, "remaining_requests_share": 0.75, "remaining_tokens": 2500,
				"remaining_tokens_share": 0.25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := f.do(http.MethodPost, "/v1/chat/completions", tt.body, nil); w.Code != http.StatusOK {
				t.Fatalf("chat: %d %s", w.Code, w.Body)
			}
			rl := read(tt.model).Signals.RateLimit
			if tt.want == nil {
				if rl != nil {
					t.Errorf("rate_limit = %v, want none", rl)
				}
				return
			}
			for k, want := range tt.want {
				if got, _ := rl[k].(float64); got != want {
					t.Errorf("rate_limit.%s = %v, want %v (all: %v)", k, rl[k], want, rl)
				}
			}
			if ms, _ := rl["reset_tokens_ms"].(float64); ms <= 0 || ms > 60000 {
				t.Errorf("rate_limit.reset_tokens_ms = %v", rl["reset_tokens_ms"])
			}
		})
	}
}
