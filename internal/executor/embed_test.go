package executor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

type embedder struct {
	script
	errs  []error
	calls int
	usage llm.Usage
	short bool // return one vector too few
}

func (e *embedder) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	e.calls++
	if len(e.errs) > 0 {
		err := e.errs[0]
		e.errs = e.errs[1:]
		return nil, err
	}
	n := len(req.Input)
	if e.short {
		n--
	}
	return &llm.EmbedResponse{Model: req.Model, Vectors: make([][]float32, n), Usage: e.usage}, nil
}

func newEmbedExec(p *embedder, caps ...catalog.Capability) (*Executor, *policy.Call) {
	m := &catalog.Model{Name: "emb", Provider: "fake", Upstream: "up", MaxRetries: -1,
		Price: catalog.Price{Input: catalog.RateFromUSD(0.02)}, Capabilities: map[catalog.Capability]bool{}}
	for _, c := range caps {
		m.Capabilities[c] = true
	}
	e := New(map[string]Target{"emb": {Model: m, Provider: p}}, Options{Rand: func() float64 { return 0 }})
	return e, &policy.Call{Trace: trace.New(time.Now())}
}

func TestEmbed(t *testing.T) {
	in := &llm.EmbedRequest{Input: []string{"hello world", "good morning"}}
	tests := []struct {
		name      string
		p         *embedder
		caps      []catalog.Capability
		wantClass llm.Class
		wantCalls int
		estimated bool
	}{
		{"ok with reported usage", &embedder{usage: llm.Usage{PromptTokens: 1_000_000, TotalTokens: 1_000_000}}, []catalog.Capability{catalog.CapEmbeddings}, 0, 1, false},
		{"usage counted when missing", &embedder{}, []catalog.Capability{catalog.CapEmbeddings}, 0, 1, true},
		{"retried after transient", &embedder{errs: []error{transient(503)}}, []catalog.Capability{catalog.CapEmbeddings}, 0, 2, true},
		{"wrong vector count is transient", &embedder{short: true}, []catalog.Capability{catalog.CapEmbeddings}, llm.ClassTransient, 3, false},
		{"no capability", &embedder{}, nil, llm.ClassUnsupported, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, c := newEmbedExec(tt.p, tt.caps...)
				out, err := e.Embed(t.Context(), c, "emb", in)
				if tt.p.calls != tt.wantCalls {
					t.Errorf("calls = %d, want %d", tt.p.calls, tt.wantCalls)
				}
				if tt.wantClass != 0 {
					if llm.ClassOf(err) != tt.wantClass {
						t.Fatalf("err = %v, want class %v", err, tt.wantClass)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Vectors) != 2 || out.Model != "up" || out.Usage.Estimated != tt.estimated {
					t.Errorf("out = %+v", out)
				}
				u, cost := c.Trace.Totals()
				if u.PromptTokens == 0 {
					t.Error("no usage in the trace")
				}
				if !tt.estimated && cost != 20_000 {
					t.Errorf("cost = %d micros, want 20000 for 1M tokens at $0.02", cost)
				}
			})
		})
	}
}
