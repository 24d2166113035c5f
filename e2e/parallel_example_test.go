package e2e

import (
	"net/http"
	"os"
	"testing"
)

// TestParallelExample serves examples/parallel.yaml: the race, hedge,
// best_of and upgrade routes answer, whole and streamed, from the sim
// fleet.
func TestParallelExample(t *testing.T) {
	raw, err := os.ReadFile("../examples/parallel.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := startConfig(t, string(raw))
	fleet := map[string]bool{"sim-tail": true, "sim-fast": true, "sim-steady": true}
	for _, route := range []string{"race", "hedge", "best_of", "upgrade"} {
		for _, stream := range []bool{false, true} {
			resp, body := p.postJSON("/v1/chat/completions", chatBody(route, "what is 2+2?", stream))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s (stream %v): %d %s", route, stream, resp.StatusCode, body)
			}
			if m := resp.Header.Get("X-Sextant-Model"); !fleet[m] {
				t.Errorf("%s (stream %v) answered by %q, want a sim model", route, stream, m)
			}
			if len(body) == 0 {
				t.Errorf("%s (stream %v): empty body", route, stream)
			}
		}
	}
}
