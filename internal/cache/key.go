package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/sextant-router/sextant/internal/llm"
)

// normal is the part of a request that can change the answer. Its JSON
// encoding is deterministic (struct fields in order, map keys sorted).
type normal struct {
	Tenant            string              `json:"tenant"`
	Route             string              `json:"route"`
	Messages          []llm.Message       `json:"messages"`
	Tools             []llm.Tool          `json:"tools,omitempty"`
	ToolChoice        json.RawMessage     `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool               `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    *llm.ResponseFormat `json:"response_format,omitempty"`
	Logprobs          bool                `json:"logprobs,omitempty"`
	TopLogprobs       *int                `json:"top_logprobs,omitempty"`
	N                 *int                `json:"n,omitempty"`
	Stop              []string            `json:"stop,omitempty"`
	MaxTokens         *int                `json:"max_tokens,omitempty"`
	Temperature       *float64            `json:"temperature,omitempty"`
	TopP              *float64            `json:"top_p,omitempty"`
	PresencePenalty   *float64            `json:"presence_penalty,omitempty"`
	FrequencyPenalty  *float64            `json:"frequency_penalty,omitempty"`
	Seed              *int64              `json:"seed,omitempty"`
}

// Key returns the hex SHA-256 of r normalised, scoped by tenant and route.
// Stream, stream_options, user and metadata are left out. The error is
// that of a request that does not encode (such a request is not cached).
func Key(tenant, route string, r *llm.Request) (string, error) {
	n := normal{
		Tenant: tenant, Route: route, Messages: r.Messages, Tools: r.Tools,
		ParallelToolCalls: r.ParallelToolCalls, ResponseFormat: r.ResponseFormat,
		Logprobs: r.Logprobs, TopLogprobs: r.TopLogprobs, N: r.N, Stop: r.Stop, MaxTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, PresencePenalty: r.PresencePenalty,
		FrequencyPenalty: r.FrequencyPenalty, Seed: r.Seed,
	}
	if len(r.ToolChoice) > 0 {
		// Compact so that whitespace in the client's JSON does not split keys.
		var v any
		if err := json.Unmarshal(r.ToolChoice, &v); err != nil {
			return "", err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		n.ToolChoice = b
	}
	b, err := json.Marshal(n)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
