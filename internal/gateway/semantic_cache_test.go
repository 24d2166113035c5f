package gateway

import (
	"strings"
	"testing"
)

// semanticConfig adds an embedding sim to the test fleet and turns the
// semantic cache on.
var semanticConfig = strings.Replace(testConfig, "models:\n", `models:
  - name: emb
    provider: sim
    price: {input: 100000, output: 0}
    capabilities: [embeddings]
    options: {seed: 9, realtime: false, embedding_dimensions: 512}
`, 1) + `
cache:
  enabled: true
  routes: [small]
  semantic: {embed_model: emb, threshold: 0.9}
`

func TestSemanticCacheHit(t *testing.T) {
	f := newFixture(t, semanticConfig, nil)
	w := f.do("POST", "/v1/chat/completions", chatBody("small", "What is a sextant used for?", ""), nil)
	if w.Code != 200 || w.Header().Get(HeaderCache) != "miss" {
		t.Fatalf("first: %d %q %s", w.Code, w.Header().Get(HeaderCache), w.Body)
	}
	f.rec.wait(t)
	want := content(t, w.Body.String())

	// Reworded (case and punctuation): a semantic hit; the only cost is the embedding.
	w = f.do("POST", "/v1/chat/completions", chatBody("small", "what is a SEXTANT used for", ""), nil)
	if w.Code != 200 || w.Header().Get(HeaderCache) != "hit" || content(t, w.Body.String()) != want {
		t.Fatalf("second: %d %q %s", w.Code, w.Header().Get(HeaderCache), w.Body)
	}
	d := f.rec.wait(t)
	if len(d.Trace.Decisions) == 0 || d.Trace.Decisions[0].Kind != "cache" || d.Trace.Decisions[0].Decision != "hit" ||
		!strings.HasPrefix(d.Trace.Decisions[0].Reason, "semantic ") {
		t.Fatalf("decisions %+v", d.Trace.Decisions)
	}
	if len(d.Trace.Attempts) != 1 || d.Trace.Attempts[0].Model != "emb" || d.CostMicros == 0 {
		t.Fatalf("attempts %+v cost %d", d.Trace.Attempts, d.CostMicros)
	}

	// A different question misses.
	w = f.do("POST", "/v1/chat/completions", chatBody("small", "How do I bake sourdough bread?", ""), nil)
	if w.Header().Get(HeaderCache) != "miss" {
		t.Fatalf("different question: %q", w.Header().Get(HeaderCache))
	}
	f.rec.wait(t)
}

func TestSemanticCacheConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, path string }{
		{"cache: {semantic: {threshold: 0.9}}", "cache.semantic.embed_model"},
		{"cache: {semantic: {embed_model: small, thresold: 0.9}}", "cache.semantic.thresold"},
		{"cache: {semantic: {embed_model: small, threshold: 2}}", "cache.semantic.threshold"},
		{"cache: {semantic: {embed_model: small, max_entries: -1}}", "cache.semantic.max_entries"},
		{"cache: {semantic: {embed_model: nope}}", "cache.semantic.embed_model"},
		{"cache: {semantic: {embed_model: small}}", "cache.semantic.embed_model"}, // no embeddings capability
	} {
		_, err := parseAndBuild(testConfig + tt.yaml + "\n")
		if err == nil || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: err %v, want path %s", tt.yaml, err, tt.path)
		}
	}
	if _, err := parseAndBuild(semanticConfig); err != nil {
		t.Fatal(err)
	}
}
