package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestDynamicExample serves examples/dynamic.yaml: the tiered route sends
// premium keys to the large models and free keys to the fast ones, a key
// may only use its routes, and a model's health reports its signals.
func TestDynamicExample(t *testing.T) {
	raw, err := os.ReadFile("../examples/dynamic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := startConfig(t, string(raw), "SEXTANT_FREE_KEY=free-k", "SEXTANT_PREMIUM_KEY=prem-k")
	tests := []struct {
		key, route, prefix string
		status             int
	}{
		{"prem-k", "tiered", "large-", 200},
		{"free-k", "tiered", "fast-", 200},
		{"free-k", "balance", "fast-", 200},
		{"free-k", "peak", "large-", 200}, // not under load: the normal subtree
		{"free-k", "large-a", "", http.StatusForbidden},
	}
	for _, tc := range tests {
		resp, body := p.postJSON("/v1/chat/completions", chatBody(tc.route, "hello", false), "Authorization", "Bearer "+tc.key)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s on %s: %d %s", tc.key, tc.route, resp.StatusCode, body)
		}
		if m := resp.Header.Get("X-Sextant-Model"); tc.status == 200 && !strings.HasPrefix(m, tc.prefix) {
			t.Errorf("%s on %s answered by %s, want %s*", tc.key, tc.route, m, tc.prefix)
		}
	}
	var h struct {
		ID              string `json:"id"`
		Healthy         bool   `json:"healthy"`
		CircuitBreaking bool   `json:"circuit_breaking"`
	}
	p.getJSON("/v1/models/fast-a/health", http.StatusOK, &h)
	if h.ID != "fast-a" || !h.Healthy || !h.CircuitBreaking {
		t.Errorf("health: %+v", h)
	}
}
