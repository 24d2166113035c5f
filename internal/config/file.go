// Package config reads Sextant's YAML config, validates it strictly (every
// error names its exact path), and builds an immutable Snapshot: the
// catalog, one provider per model, and the policy tree of every route.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/sextant-router/sextant/internal/cache"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/state"
	"github.com/sextant-router/sextant/internal/store"
)

// File is the config file's shape. Field docs are the config reference.
type File struct {
	Server   Server                     `json:"server"`
	Store    store.Config               `json:"store"`
	Executor Executor                   `json:"executor"`
	Keys     []Key                      `json:"keys"`
	Models   []Model                    `json:"models"`
	Routes   map[string]json.RawMessage `json:"routes"`
	// Operator endpoints: the admin key, /metrics, OpenTelemetry tracing
	// and the dashboard (see observability.go).
	Admin     Admin     `json:"admin"`
	Metrics   Metrics   `json:"metrics"`
	Telemetry Telemetry `json:"telemetry"`
	UI        UI        `json:"ui"`

	// Health configures per-model circuit breaking (internal/health);
	// off by default.
	Health health.Config `json:"health"`
	// State shares signals, circuits, budgets, rate limits and session
	// stickiness between replicas (internal/state); default in memory.
	State state.Config `json:"state"`
	// Cache is the exact response cache (internal/cache); off by default.
	Cache cache.Config `json:"cache"`
}

// Server configures the HTTP listener.
type Server struct {
	// Addr is host:port to listen on; --addr and SEXTANT_ADDR override it.
	// Default 127.0.0.1:8080.
	Addr string `json:"addr"`
	// MaxBodyBytes bounds a request body; larger bodies get 413. Default
	// 8 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// ShutdownGrace is how long open requests and streams may run after
	// SIGTERM. Default 30s.
	ShutdownGrace conf.Duration `json:"shutdown_grace"`
	// AllowedHeaders lists request headers rules may read. Default none.
	AllowedHeaders []string `json:"allowed_headers"`
}

// Executor configures how models are called.
type Executor struct {
	// AttemptTimeout bounds one non-streaming attempt. Default 60s.
	AttemptTimeout conf.Duration `json:"attempt_timeout"`
	// TTFTTimeout bounds the wait for a stream's first chunk. Default 30s.
	TTFTTimeout conf.Duration `json:"ttft_timeout"`
	// TotalTimeout bounds a whole request, all attempts and the whole
	// stream included. Default 300s.
	TotalTimeout conf.Duration `json:"total_timeout"`
	// MaxRetries is how often a retryable failure is retried on the same
	// model before failing over; a model's own max_retries overrides it.
	// Default 2.
	MaxRetries *int `json:"max_retries"`
	// BackoffInitial and BackoffMax shape the full-jitter exponential
	// backoff between retries. Defaults 200ms and 5s. A Retry-After longer
	// than MaxRetryAfter fails over instead of waiting. Default 10s.
	BackoffInitial conf.Duration `json:"backoff_initial"`
	BackoffMax     conf.Duration `json:"backoff_max"`
	MaxRetryAfter  conf.Duration `json:"max_retry_after"`
}

// Key is a virtual API key a client presents as a bearer token.
type Key struct {
	Name string `json:"name"`
	// KeyEnv names the environment variable holding the key's value.
	KeyEnv   string            `json:"key_env"`
	Tier     string            `json:"tier"`
	Metadata map[string]string `json:"metadata"`

	// KeySHA256 is the hex SHA-256 of the key's value, for configs that
	// must not hold the key itself; exactly one of KeyEnv and KeySHA256.
	KeySHA256 string `json:"key_sha256"`
	// Routes lists the routes and models the key may name; empty allows
	// all.
	Routes []string `json:"routes"`
	// Limits are the key's rate limits and budgets (internal/gateway
	// enforces them); zero values mean no limit.
	Limits KeyLimits `json:"limits"`
}

// KeyLimits bound one virtual key. Counts are kept per key in fixed
// windows (a minute; a UTC day and month) in internal/state.
type KeyLimits struct {
	RequestsPerMinute int     `json:"requests_per_minute"`
	TokensPerMinute   int     `json:"tokens_per_minute"`
	DailyUSD          float64 `json:"daily_usd"`
	MonthlyUSD        float64 `json:"monthly_usd"`
	// Downgrade names a route or model to serve the key's requests on
	// once DowngradeAt (default 0.8) of a budget is spent, before the
	// budget runs out and requests get 429.
	Downgrade   string  `json:"downgrade"`
	DowngradeAt float64 `json:"downgrade_at"`
}

// Model is one deployment in the fleet.
type Model struct {
	Name          string            `json:"name"`
	Provider      string            `json:"provider"`
	Upstream      string            `json:"upstream"`
	BaseURL       string            `json:"base_url"`
	APIKeyEnv     string            `json:"api_key_env"`
	Price         Price             `json:"price"`
	ContextWindow int               `json:"context_window"`
	Capabilities  []string          `json:"capabilities"`
	Labels        map[string]string `json:"labels"`
	Timeout       conf.Duration     `json:"timeout"`
	MaxRetries    *int              `json:"max_retries"`
	Options       json.RawMessage   `json:"options"`
}

// Price is in dollars per one million tokens.
type Price struct {
	Input  float64  `json:"input"`
	Output float64  `json:"output"`
	Cached *float64 `json:"cached"`
	// CacheWrite prices prompt tokens written to the provider's cache
	// (Anthropic bills 1.25x input for 5-minute writes); default input.
	CacheWrite *float64 `json:"cache_write"`
}

// Parse reads YAML into a File, rejecting unknown fields, wrong types and
// duplicate keys with the path of the fault.
func Parse(data []byte) (*File, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, err
	}
	var f File
	if err := conf.Decode("", js, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// yamlToJSON converts a YAML document to JSON so that every block can be
// decoded strictly with conf.Decode.
func yamlToJSON(data []byte) (json.RawMessage, error) {
	var doc any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return json.RawMessage("{}"), nil
		}
		return nil, &conf.Error{Msg: "invalid YAML: " + err.Error()}
	}
	norm, err := normalize("", doc)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(norm)
	if err != nil {
		return nil, &conf.Error{Msg: "invalid YAML: " + err.Error()}
	}
	return js, nil
}

// normalize turns YAML's generic values into ones encoding/json accepts,
// rejecting mappings with non-string keys.
func normalize(path string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(conf.Join(path, k), e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, conf.Errorf(path, "mapping key %v must be a string", k)
			}
			n, err := normalize(conf.Join(path, ks), e)
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(conf.Index(path, i), e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case float64:
		if x != x || x > 1e300 || x < -1e300 {
			return nil, conf.Errorf(path, "number %v is out of range", x)
		}
		return x, nil
	default:
		return x, nil
	}
}

// String describes f's size, for logs.
func (f *File) String() string {
	return fmt.Sprintf("%d models, %d routes", len(f.Models), len(f.Routes))
}
