// Package catalog describes the fleet: each Model is one deployment of a
// model behind one provider, with its prices, limits and capabilities.
package catalog

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// Micros is an amount of money in integer micro-dollars (1e-6 USD).
type Micros int64

// USD returns m in dollars, for display only; never sum floats.
func (m Micros) USD() float64 { return float64(m) / 1e6 }

// String formats m as dollars with six decimals: "0.001234".
func (m Micros) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%06d", sign, m/1e6, m%1e6)
}

// Rate is a price in micro-dollars per one million tokens, so that a price
// of $0.24 per 1M tokens is the integer 240000. Config writes prices in
// dollars per 1M tokens; they are rounded to the nearest 1e-6 dollar.
type Rate int64

// RateFromUSD converts dollars per 1M tokens to a Rate.
func RateFromUSD(usd float64) Rate { return Rate(math.Round(usd * 1e6)) }

// USD returns the rate in dollars per 1M tokens.
func (r Rate) USD() float64 { return float64(r) / 1e6 }

// Price is what a deployment charges per 1M tokens.
type Price struct {
	Input  Rate
	Output Rate
	// Cached is the rate for cached prompt tokens; it defaults to Input.
	Cached Rate
	// CacheWrite is the rate for prompt tokens written to the cache; it
	// defaults to Input.
	CacheWrite Rate
}

// Cost returns the cost of u at p in micro-dollars: cached prompt tokens at
// the cached rate, prompt tokens written to the cache at the cache-write
// rate, other prompt tokens at the input rate, completion tokens (reasoning
// included) at the output rate. The exact product is computed in integers
// and rounded half up to a whole micro-dollar once per call.
func (p Price) Cost(u llm.Usage) Micros {
	prompt := max(u.PromptTokens, 0)
	cached := min(max(u.CachedTokens, 0), prompt)
	written := min(max(u.CacheWriteTokens, 0), prompt-cached)
	fresh := prompt - cached - written
	total := int64(fresh)*int64(p.Input) + int64(cached)*int64(p.Cached) + int64(written)*int64(p.CacheWrite) +
		int64(max(u.CompletionTokens, 0))*int64(p.Output)
	return Micros((total + 500_000) / 1_000_000)
}

// Capability is something a model can do beyond plain chat.
type Capability string

// Known capabilities.
const (
	CapTools      Capability = "tools"
	CapJSON       Capability = "json"
	CapLogprobs   Capability = "logprobs"
	CapVision     Capability = "vision"
	CapStreaming  Capability = "streaming"
	CapEmbeddings Capability = "embeddings"
)

// KnownCapabilities lists every valid capability.
var KnownCapabilities = []Capability{CapTools, CapJSON, CapLogprobs, CapVision, CapStreaming, CapEmbeddings}

// Model is one deployment.
type Model struct {
	Name     string // the name clients and routes use
	Provider string // adapter kind: openai, sim, replay, ...
	Upstream string // the model name the upstream knows
	BaseURL  string
	// APIKeyEnv names the environment variable holding the key; APIKey is
	// its value, read when the config is loaded.
	APIKeyEnv     string
	APIKey        conf.Secret
	Price         Price
	ContextWindow int // tokens; 0 means unknown
	Capabilities  map[Capability]bool
	Labels        map[string]string
	// Options is the provider-specific block, decoded by the adapter.
	Options json.RawMessage
	// Timeout bounds one attempt (0: the executor's default); MaxRetries is
	// how often a retryable failure is tried again on this model (-1: the
	// executor's default).
	Timeout    conf.Duration
	MaxRetries int
}

// Has reports whether m has capability c.
func (m *Model) Has(c Capability) bool { return m.Capabilities[c] }

// CapabilityList returns m's capabilities, sorted.
func (m *Model) CapabilityList() []string {
	out := make([]string, 0, len(m.Capabilities))
	for c, ok := range m.Capabilities {
		if ok {
			out = append(out, string(c))
		}
	}
	sort.Strings(out)
	return out
}
