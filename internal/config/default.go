package config

import (
	_ "embed"
	"fmt"
	"net/url"
	"strings"
)

// DefaultYAML is the embedded default config that `sextant serve` uses when
// no --config is given.
//
//go:embed default.yaml
var DefaultYAML []byte

// Default parses the embedded config and adds the providers whose
// credentials are in the environment:
//   - OPENAI_API_KEY adds gpt-4o and gpt-4o-mini through the OpenAI adapter
//     (OPENAI_BASE_URL overrides the endpoint);
//   - OLLAMA_HOST adds ollama (the model named by OLLAMA_MODEL, default
//     llama3.2) through Ollama's OpenAI-compatible endpoint.
func Default(getenv func(string) string) (*File, error) {
	f, err := Parse(DefaultYAML)
	if err != nil {
		return nil, err
	}
	if getenv("OPENAI_API_KEY") != "" {
		base := getenv("OPENAI_BASE_URL")
		f.Models = append(f.Models,
			Model{Name: "gpt-4o", Provider: "openai", Upstream: "gpt-4o", BaseURL: base, APIKeyEnv: "OPENAI_API_KEY",
				Price: Price{Input: 2.5, Output: 10, Cached: ptr(1.25)}, ContextWindow: 128000,
				Capabilities: []string{"tools", "json", "logprobs", "vision", "streaming"}, Labels: map[string]string{"tier": "premium"}},
			Model{Name: "gpt-4o-mini", Provider: "openai", Upstream: "gpt-4o-mini", BaseURL: base, APIKeyEnv: "OPENAI_API_KEY",
				Price: Price{Input: 0.15, Output: 0.6, Cached: ptr(0.075)}, ContextWindow: 128000,
				Capabilities: []string{"tools", "json", "logprobs", "vision", "streaming"}, Labels: map[string]string{"tier": "economy"}},
		)
	}
	if host := getenv("OLLAMA_HOST"); host != "" {
		base, err := ollamaBaseURL(host)
		if err != nil {
			return nil, fmt.Errorf("OLLAMA_HOST: %w", err)
		}
		model := getenv("OLLAMA_MODEL")
		if model == "" {
			model = "llama3.2"
		}
		f.Models = append(f.Models, Model{Name: "ollama", Provider: "openai", Upstream: model, BaseURL: base,
			ContextWindow: 8192, Capabilities: []string{"tools", "json", "streaming"}, Labels: map[string]string{"tier": "local"}})
	}
	return f, nil
}

// ollamaBaseURL turns OLLAMA_HOST ("host:port", "0.0.0.0", or a URL) into
// the base URL of Ollama's OpenAI-compatible API.
func ollamaBaseURL(host string) (string, error) {
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid host %q", host)
	}
	if u.Port() == "" {
		u.Host += ":11434"
	}
	if u.Hostname() == "0.0.0.0" {
		u.Host = "127.0.0.1:" + u.Port()
	}
	return strings.TrimSuffix(u.String(), "/") + "/v1", nil
}

func ptr[T any](v T) *T { return &v }
