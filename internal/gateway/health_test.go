package gateway

import (
	"encoding/json"
	"net/http"
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
