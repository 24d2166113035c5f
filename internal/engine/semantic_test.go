package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

const semanticConfig = `
executor:
  max_retries: 0
models:
  - name: small
    provider: sim
    price: {input: 100, output: 200}
    options: {seed: 1, realtime: false, output_tokens: 5}
  - name: emb
    provider: sim
    price: {input: 100000, output: 0}
    capabilities: [embeddings]
    options: {seed: 7, realtime: false, embedding_dimensions: 512}
routes:
  auto:
    fallback: [small]
  other:
    fallback: [small]
cache:
  enabled: true
  semantic: {embed_model: emb, threshold: 0.8}
`

func fptr(f float64) *float64 { return &f }

// semReq is the base request; mut changes a copy.
func semReq(tenant, route string, mut func(r *llm.Request)) Inbound {
	r := &llm.Request{Model: route, Messages: []llm.Message{
		{Role: "system", Content: "You answer briefly."},
		{Role: llm.RoleUser, Content: "What is a sextant used for?"},
	}}
	if mut != nil {
		mut(r)
	}
	return Inbound{ID: "r", Request: r, Caller: policy.Caller{Key: tenant}}
}

func lastUser(s string) func(*llm.Request) {
	return func(r *llm.Request) { r.Messages[len(r.Messages)-1].Content = s }
}

func TestSemanticCache(t *testing.T) {
	snap := build(t, semanticConfig)
	tests := []struct {
		name          string
		tenant, route string
		mut           func(*llm.Request)
		hit           bool
	}{
		{"reworded", "t1", "auto", lastUser("what is a sextant used for"), true},
		{"please prefix", "t1", "auto", lastUser("Please: what is a sextant used for?"), true},
		{"different question", "t1", "auto", lastUser("How do I bake sourdough bread at home?"), false},
		{"different system prompt", "t1", "auto", func(r *llm.Request) { r.Messages[0].Content = "You answer at length." }, false},
		{"tools", "t1", "auto", func(r *llm.Request) {
			r.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "lookup"}}}
		}, false},
		{"temperature", "t1", "auto", func(r *llm.Request) { r.Temperature = fptr(0.2) }, false},
		{"earlier turn", "t1", "auto", func(r *llm.Request) {
			r.Messages = append([]llm.Message{{Role: llm.RoleUser, Content: "hi"}, {Role: "assistant", Content: "hello"}}, r.Messages...)
		}, false},
		{"other tenant", "t2", "auto", nil, false},
		{"other route", "t1", "other", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(snap, nil)
			first := e.Chat(context.Background(), semReq("t1", "auto", nil))
			if first.Err != nil || first.Cache != "miss" {
				t.Fatalf("prime: %v %q", first.Err, first.Cache)
			}
			want := first.Outcome.Response.Text()
			first.Finish(200, nil)

			x := e.Chat(context.Background(), semReq(tt.tenant, tt.route, tt.mut))
			defer x.Finish(200, nil)
			if x.Err != nil {
				t.Fatal(x.Err)
			}
			view := x.Trace.Snapshot()
			var embedded, upstream bool
			for _, a := range view.Attempts {
				embedded = embedded || a.Model == "emb"
				upstream = upstream || a.Model == "small"
			}
			if !embedded {
				t.Fatalf("no embedding attempt in the trace: %+v", view.Attempts)
			}
			if _, cost := x.Totals(); cost <= 0 {
				t.Fatalf("embedding cost %d not in the trace", cost)
			}
			if got := x.Cache == "hit"; got != tt.hit || upstream == tt.hit {
				t.Fatalf("cache %q upstream %v, want hit %v", x.Cache, upstream, tt.hit)
			}
			if !tt.hit {
				return
			}
			d := view.Decisions[0]
			if d.Kind != "cache" || d.Decision != "hit" || !strings.HasPrefix(d.Reason, "semantic 0.") && d.Reason != "semantic 1.00" {
				t.Fatalf("decision %+v", d)
			}
			if x.Outcome.Response.Text() != want {
				t.Fatalf("hit answered %q, want %q", x.Outcome.Response.Text(), want)
			}
		})
	}
}

// A streaming request replays a semantic hit as a stream, and a streamed
// miss is stored in the semantic cache when it ends.
func TestSemanticCacheStream(t *testing.T) {
	snap := build(t, semanticConfig)
	e := New(snap, nil)
	miss := e.Chat(context.Background(), semReq("t1", "auto", func(r *llm.Request) { r.Stream = true }))
	if miss.Err != nil || miss.Cache != "miss" {
		t.Fatalf("miss: %v %q", miss.Err, miss.Cache)
	}
	want, err := drain(t, miss.Outcome.Stream)
	miss.Finish(200, err)
	if err != nil {
		t.Fatal(err)
	}
	x := e.Chat(context.Background(), semReq("t1", "auto", func(r *llm.Request) {
		r.Stream = true
		r.Messages[1].Content = "WHAT is a sextant used for!"
	}))
	defer x.Finish(200, nil)
	if x.Err != nil || x.Cache != "hit" || x.Outcome.Stream == nil {
		t.Fatalf("hit: %v %q", x.Err, x.Cache)
	}
	got, err := drain(t, x.Outcome.Stream)
	if err != nil || got != want {
		t.Fatalf("replayed %q %v, want %q", got, err, want)
	}
}
