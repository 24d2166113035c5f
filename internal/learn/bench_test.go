package learn

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/tokens"
)

// prompt2000 is an English prompt of about 2,000 cl100k_base tokens.
func prompt2000(tb testing.TB) string {
	tb.Helper()
	para := "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. " +
		"How many clips did Natalia sell altogether in April and May? Please think step by step, " +
		"show your work, and explain which formula you used and why it applies here. "
	var b strings.Builder
	for tokens.Count(b.String()) < 2000 {
		b.WriteString(para)
	}
	return b.String()
}

func benchModel(b *testing.B) *Model {
	b.Helper()
	m, err := Load(BuiltinPrefix + KindWinrate)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// reportP99 times each of b.N calls of f and reports their median and
// 99th percentile.
func reportP99(b *testing.B, f func()) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		f()
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkPredict2000Tokens is a routing decision's learned part for a
// 2,000-token prompt: RequestExample from the request's (already
// computed) features, then Predict with the built-in win-rate model.
func BenchmarkPredict2000Tokens(b *testing.B) {
	m := benchModel(b)
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt2000(b)}}}
	f := features.Extract(req)
	ctx := context.Background()
	var sink float64
	reportP99(b, func() {
		x := RequestExample(req, f)
		sink += m.Predict(ctx, &x)[0]
	})
	_ = sink
}

// BenchmarkPredictShipped2000Tokens is the same with a shipped example
// model (2^18 buckets, text only: TextExample, no features.Extract).
func BenchmarkPredictShipped2000Tokens(b *testing.B) {
	m, err := Load("../../examples/models/mmlu.winrate.json")
	if err != nil {
		b.Fatal(err)
	}
	if len(m.Numeric()) != 0 {
		b.Fatal("the shipped model reads numeric features")
	}
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt2000(b)}}}
	ctx := context.Background()
	var sink float64
	reportP99(b, func() {
		x := TextExample(req)
		sink += m.Predict(ctx, &x)[0]
	})
	_ = sink
}

// BenchmarkPredictWithFeatures2000Tokens adds features.Extract (which the
// policy tree computes once per request and shares with rules).
func BenchmarkPredictWithFeatures2000Tokens(b *testing.B) {
	m := benchModel(b)
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt2000(b)}}}
	ctx := context.Background()
	var sink float64
	reportP99(b, func() {
		x := RequestExample(req, features.Extract(req))
		sink += m.Predict(ctx, &x)[0]
	})
	_ = sink
}

// BenchmarkPredictFold2000Tokens is the same with a record id, as offline
// evaluation calls it (the fold model answers).
func BenchmarkPredictFold2000Tokens(b *testing.B) {
	m := benchModel(b)
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt2000(b)}}}
	f := features.Extract(req)
	ctx := WithRecord(context.Background(), "gsm8k/0001")
	var sink float64
	reportP99(b, func() {
		x := RequestExample(req, f)
		sink += m.Predict(ctx, &x)[0]
	})
	_ = sink
}

func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{KindWinrate, KindClassifier} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(BuiltinPrefix + name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
