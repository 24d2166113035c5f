package classify

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/sextant-router/sextant/internal/classify/classifytest"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tokens"
)

// prompt2000 is a user prompt of about 2,000 cl100k tokens: English prose
// with a question, a numbered list and a code block.
var prompt2000 = strings.Repeat("Our service reads events from a queue, validates them and writes them to PostgreSQL. "+
	"How should we handle retries when the database is slow, and what are the trade-offs? ", 57) +
	"1. Keep ordering per key.\n2. Never lose an event.\n\n```go\nfunc handle(ctx context.Context, e Event) error {\n\treturn store.Put(ctx, e)\n}\n```\n"

// benchDecision measures one routing decision: features of a fresh call
// (as every request computes them) plus classify, and reports the p99
// of the per-decision time besides the mean.
func benchDecision(b *testing.B, c Classifier) {
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a helpful assistant for backend engineers."},
		user(prompt2000),
	}}
	tokens.Tokenizer()
	call := &policy.Call{Request: req}
	if n := call.Features().Tokens; n < 1900 || n > 2200 {
		b.Fatalf("prompt has %d tokens, want about 2000", n)
	}
	ctx := context.Background()
	times := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := c.Classify(ctx, &policy.Call{Request: req}); err != nil {
			b.Fatal(err)
		}
		if len(times) < cap(times) {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkDecisionRulesComplexity(b *testing.B) {
	benchDecision(b, mustRules(b, `{"preset":"complexity"}`))
}

func BenchmarkDecisionRulesDomain(b *testing.B) {
	benchDecision(b, mustRules(b, `{"preset":"domain"}`))
}

// BenchmarkRulesOnly is the classifier without the features, which the
// request computes once whatever reads them.
func BenchmarkRulesOnly(b *testing.B) {
	r := mustRules(b, `{"preset":"domain"}`)
	c := &policy.Call{Request: &llm.Request{Messages: []llm.Message{user(prompt2000)}}}
	f := c.Features()
	b.ReportAllocs()
	for b.Loop() {
		r.classify(f)
	}
}

func mustRules(b *testing.B, cfg string) *Rules {
	r, err := NewRules("bench", []byte(cfg))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkDecisionModel is a learned text classifier with the default
// featurizer (word unigrams and bigrams, punctuation, number shapes, 2^18
// buckets) on the same prompt.
func BenchmarkDecisionModel(b *testing.B) {
	m, _, err := learn.Train(learn.KindClassifier, ct.Samples(learn.KindClassifier, 200, false),
		learn.TrainOptions{Folds: 2, L2: []float64{1e-2}, MaxIter: 50})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := m.Save(filepath.Join(dir, "m.json")); err != nil {
		b.Fatal(err)
	}
	c, err := NewModel(ct.NewBuilder(dir), "bench", []byte(`"m.json"`))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decision", func(b *testing.B) { benchDecision(b, c) })
	// The model alone, on features computed once.
	b.Run("model-only", func(b *testing.B) {
		call := &policy.Call{Request: &llm.Request{Messages: []llm.Message{user(prompt2000)}}}
		call.Features()
		b.ReportAllocs()
		for b.Loop() {
			c.Classify(context.Background(), call)
		}
	})
}
