package cache

import (
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
