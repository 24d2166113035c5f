package e2e

// Regression tests for bugs this package found.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sextant-router/sextant/internal/store"
)

// TestShutdownGraceOverDropsRecords: when the grace period ended before the
// open streams did, serve closed the connections with http.Server.Close,
// which does not wait for the handlers to return, and closed the decision
// log at once, so the cut requests' records were dropped in about half the
// runs. Now the cut streams end with an in-band 503 event and are logged.
func TestShutdownGraceOverDropsRecords(t *testing.T) {
	t.Parallel()
	p := startConfig(t, `
server: {shutdown_grace: 300ms}
store: {path: decisions.db, flush_every: 1h}
models:
  - name: sim-slow
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 1, ttft: 10ms, tokens_per_second: 20, output_tokens: 200}
`)
	c := p.with(t)

	const streams = 4
	var (
		ids    []string
		bodies []*sseReader
	)
	for i := range streams {
		b, _ := json.Marshal(chatBody("sim-slow", fmt.Sprintf("story %d", i), true))
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, c.base+"/v1/chat/completions", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sse := newSSEReader(resp.Body)
		if _, err := sse.next(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
		bodies = append(bodies, sse)
	}

	p.signal(syscall.SIGTERM)
	for i, sse := range bodies {
		events, err := sse.all()
		inBand := len(events) > 0 && strings.Contains(events[len(events)-1], `"server_shutting_down"`)
		if slices.Contains(events, "[DONE]") || (err == nil && !inBand) {
			t.Errorf("stream %d ended cleanly although the grace period cut it: %v (last events %q)", i, err, events[max(0, len(events)-2):])
		}
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}

	db, err := store.OpenSQLite(filepath.Join(p.dir, "decisions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range ids {
		if _, err := db.Decision(ctx(t), id); err != nil {
			t.Errorf("request %s, cut by the end of the grace period, is not in the decision log: %v", id, err)
		}
	}
}

// TestFallbackDecisionPathsInCandidatesForm: in the long form of a fallback
// node (fallback: {candidates: [...]}) the node's own decisions ("fail
// over", "accept") named "routes.r.fallback[0]", a path that does not exist
// in the config, while the candidates it decided about live at
// "routes.r.fallback.candidates[0]". Decisions must name config paths.
func TestFallbackDecisionPathsInCandidatesForm(t *testing.T) {
	t.Parallel()
	p := startConfig(t, `
store: {path: decisions.db}
models:
  - {name: sim-down, provider: sim, max_retries: 0, options: {realtime: false, error_rate: 1}}
  - {name: sim-up, provider: sim, options: {realtime: false}}
routes:
  r:
    fallback:
      candidates: [sim-down, sim-up]
`)
	c := p.with(t)
	resp, b := c.postJSON("/v1/chat/completions", chatBody("r", "hi", false), "X-Sextant-Trace", "1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var body struct{ Sextant extension }
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	want := []string{"routes.r.fallback.candidates[0]", "routes.r.fallback.candidates[1]"}
	for _, d := range body.Sextant.Trace.Decisions {
		if d.Kind == "fallback" && !slices.Contains(want, d.Node) {
			t.Errorf("fallback decision %q at %q; want one of the candidates' paths %q", d.Decision, d.Node, want)
		}
	}
}
