package catalog

import (
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestPriceCost(t *testing.T) {
	gpt4 := Price{Input: RateFromUSD(10), Output: RateFromUSD(30), Cached: RateFromUSD(2.5)}
	mixtral := Price{Input: RateFromUSD(0.24), Output: RateFromUSD(0.24), Cached: RateFromUSD(0.24)}
	tests := []struct {
		name  string
		price Price
		usage llm.Usage
		want  Micros
	}{
		{"zero", gpt4, llm.Usage{}, 0},
		{"gpt4 1k in 500 out", gpt4, llm.Usage{PromptTokens: 1000, CompletionTokens: 500}, 10_000 + 15_000},
		{"cached prompt tokens at cached rate", gpt4, llm.Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 0}, 6000 + 1000},
		{"cached larger than prompt is clamped", gpt4, llm.Usage{PromptTokens: 10, CachedTokens: 400}, 25},
		{"cache writes at the write rate", Price{Input: RateFromUSD(3), Output: RateFromUSD(15), Cached: RateFromUSD(0.3), CacheWrite: RateFromUSD(3.75)},
			llm.Usage{PromptTokens: 3000, CachedTokens: 1000, CacheWriteTokens: 1000, CompletionTokens: 100}, 3000 + 300 + 3750 + 1500},
		{"mixtral rounds half up", mixtral, llm.Usage{PromptTokens: 2, CompletionTokens: 1}, 1},
		{"mixtral below half rounds down", mixtral, llm.Usage{PromptTokens: 1}, 0},
		{"mixtral exact", mixtral, llm.Usage{PromptTokens: 600, CompletionTokens: 400}, 240},
		{"negative counts ignored", gpt4, llm.Usage{PromptTokens: -5, CompletionTokens: -1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.price.Cost(tt.usage); got != tt.want {
				t.Errorf("Cost(%+v) = %d, want %d", tt.usage, got, tt.want)
			}
		})
	}
}

func TestMicrosString(t *testing.T) {
	tests := map[Micros]string{0: "0.000000", 1: "0.000001", 1_234_567: "1.234567", -25: "-0.000025"}
	for m, want := range tests {
		if got := m.String(); got != want {
			t.Errorf("Micros(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
}

func TestRateFromUSD(t *testing.T) {
	if got := RateFromUSD(0.24); got != 240000 {
		t.Fatalf("RateFromUSD(0.24) = %d", got)
	}
	if got := RateFromUSD(0.1 + 0.2); got != 300000 {
		t.Fatalf("RateFromUSD(0.1+0.2) = %d", got)
	}
}
