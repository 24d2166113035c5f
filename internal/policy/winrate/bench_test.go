package winrate

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/trace"
)

// BenchmarkDecision is one routing decision of the shipped GSM8K win-rate
// model (word uni- and bigrams in 2^18 buckets) for a prompt of about
// 2,000 tokens: features, prediction, choice and trace, the model call
// being a fake. It reports the p99 of the per-decision time.
func BenchmarkDecision(b *testing.B) {
	dir, err := filepath.Abs("../../../examples/models")
	if err != nil {
		b.Fatal(err)
	}
	bl := ct.NewBuilder(dir)
	bl.Models["mixtral"], bl.Models["gpt-4"] = bl.Models["cheap"], bl.Models["strong"]
	bl.Models["cheap"].Upstream, bl.Models["strong"].Upstream = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
	n, err := New(bl, "bench", []byte(`{"model":"gsm8k.winrate.json","candidates":["mixtral","gpt-4"]}`))
	if err != nil {
		b.Skipf("example model: %v", err)
	}
	text := strings.Repeat("Janet has 3 apples and buys 5 more each day for a week. How many apples does she have after the week, "+
		"and what is the total cost if each costs $2? Explain step by step. ", 50)
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}}
	tokens.Tokenizer()
	exec := &ct.Exec{Models: bl.Models}
	if c := (&policy.Call{Request: req}); c.Features().Tokens < 1900 {
		b.Fatalf("prompt has %d tokens", c.Features().Tokens)
	}
	ctx := context.Background()
	times := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		exec.Calls = exec.Calls[:0]
		start := time.Now()
		if _, err := n.Serve(ctx, &policy.Call{Request: req, Exec: exec, Trace: trace.New(start)}); err != nil {
			b.Fatal(err)
		}
		if len(times) < cap(times) {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}
