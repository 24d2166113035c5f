package cache

import (
	"math"
	"slices"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
)

// Config is the config file's cache block.
type Config struct {
	Enabled bool `json:"enabled"`
	// TTL is how long an answer is served from the cache; default 5m.
	TTL conf.Duration `json:"ttl"`
	// MaxEntries bounds the in-memory LRU; default 10000.
	MaxEntries int `json:"max_entries"`
	// Routes limits the cache to these routes or models; empty means all.
	Routes []string `json:"routes"`
	// Semantic turns on the in-memory semantic cache; nil means off.
	Semantic *SemanticConfig `json:"semantic"`
}

// SemanticConfig is the cache block's semantic block.
type SemanticConfig struct {
	// EmbedModel names the model (with the embeddings capability) that
	// embeds the last user message.
	EmbedModel string `json:"embed_model"`
	// Threshold is the least cosine similarity that counts as a hit, in
	// (0, 1]; default 0.95.
	Threshold float64 `json:"threshold"`
	// MaxEntries bounds each scope's LRU; default 5000.
	MaxEntries int `json:"max_entries"`
}

// Semantic defaults.
const (
	DefaultThreshold          = 0.95
	DefaultSemanticMaxEntries = 5000
)

// ThresholdOrDefault returns the configured threshold or DefaultThreshold.
func (c *SemanticConfig) ThresholdOrDefault() float64 {
	if c.Threshold > 0 {
		return c.Threshold
	}
	return DefaultThreshold
}

// MaxOrDefault returns the configured bound or DefaultSemanticMaxEntries.
func (c *SemanticConfig) MaxOrDefault() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultSemanticMaxEntries
}

// Validate checks c, found at path. That the model exists and embeds is
// checked by the config snapshot.
func (c *SemanticConfig) Validate(path string) error {
	switch {
	case c.EmbedModel == "":
		return conf.Errorf(conf.Join(path, "embed_model"), "is required")
	case c.Threshold < 0 || c.Threshold > 1 || math.IsNaN(c.Threshold):
		return conf.Errorf(conf.Join(path, "threshold"), "must be in (0, 1]")
	case c.MaxEntries < 0:
		return conf.Errorf(conf.Join(path, "max_entries"), "must not be negative")
	}
	return nil
}

// Defaults.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultMaxEntries = 10_000
)

// Validate checks c, found at path.
func (c *Config) Validate(path string) error {
	switch {
	case c.TTL < 0:
		return conf.Errorf(conf.Join(path, "ttl"), "must not be negative")
	case c.TTL > 0 && c.TTL.D() < time.Second:
		return conf.Errorf(conf.Join(path, "ttl"), "must be at least 1s")
	case c.MaxEntries < 0:
		return conf.Errorf(conf.Join(path, "max_entries"), "must not be negative")
	}
	if c.Semantic != nil {
		if err := c.Semantic.Validate(conf.Join(path, "semantic")); err != nil {
			return err
		}
	}
	for i, r := range c.Routes {
		if r == "" {
			return conf.Errorf(conf.Index(conf.Join(path, "routes"), i), "must not be empty")
		}
	}
	return nil
}

// TTLOrDefault returns the configured TTL or DefaultTTL.
func (c *Config) TTLOrDefault() time.Duration {
	if c.TTL > 0 {
		return c.TTL.D()
	}
	return DefaultTTL
}

// MaxOrDefault returns the configured bound or DefaultMaxEntries.
func (c *Config) MaxOrDefault() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultMaxEntries
}

// Covers reports whether the cache is on for route.
func (c *Config) Covers(route string) bool {
	return c.Enabled && (len(c.Routes) == 0 || slices.Contains(c.Routes, route))
}
