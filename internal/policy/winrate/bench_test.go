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
// being a fake. It reports the mean and p99 of the per-decision time (ns/op
// also includes the control), and beside them
// the p99 and mean of a control: a fixed loop of pure CPU work timed the
// same way in the same run, interleaved with the decisions. On a shared
// machine the control's tail shows how much of the decisions' tail is the
// machine's (preemption, other processes) rather than the decision's.
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
	control := make([]time.Duration, 0, 1<<16)
	var sink uint64
	b.ReportAllocs()
	for b.Loop() {
		if len(control) < cap(control) {
			start := time.Now()
			sink += controlWork(text)
			control = append(control, time.Since(start))
		}
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
	b.ReportMetric(mean(times), "mean-ns")
	slices.Sort(control)
	b.ReportMetric(float64(control[len(control)*99/100].Nanoseconds()), "control-p99-ns")
	b.ReportMetric(mean(control), "control-mean-ns")
	if sink == 1 {
		b.Log(sink)
	}
}

func mean(ds []time.Duration) float64 {
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return float64(total.Nanoseconds()) / float64(len(ds))
}

// controlWork is a fixed amount of CPU work without allocation: FNV-1a
// over the text, twice (about as long as a decision).
func controlWork(text string) uint64 {
	h := uint64(14695981039346656037)
	for range 2 {
		for i := 0; i < len(text); i++ {
			h ^= uint64(text[i])
			h *= 1099511628211
		}
	}
	return h
}
