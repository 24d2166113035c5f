package state

import (
	"sync"
	"sync/atomic"

	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/signals"
)

var (
	memKV       = NewMemory(100_000)
	memCounters = NewMemoryCounters()
	shared      atomic.Pointer[Redis]
)

// DefaultKV is the process-wide KV (session stickiness): the shared Redis
// when one is configured, else memory. It outlives config reloads.
func DefaultKV() KV {
	if r := shared.Load(); r != nil {
		return r
	}
	return memKV
}

// DefaultCounters are the process-wide counters keys are accounted in
// (requests, tokens, spend): the shared Redis when one is configured, else
// memory.
func DefaultCounters() Counters {
	if r := shared.Load(); r != nil {
		return r.Counters()
	}
	return memCounters
}

var useMu sync.Mutex

// Use makes r the process-wide shared state (nil: back to memory): the
// default KV and Counters, the peers of signals.Default and the circuit
// trips of health.Default. It returns the Redis it replaced, which the
// caller should Close.
func Use(r *Redis) (old *Redis) {
	useMu.Lock()
	defer useMu.Unlock()
	old = shared.Swap(r)
	if r == nil {
		signals.Default.SetShared(nil)
		health.Default.SetShared(nil)
		return old
	}
	signals.Default.SetShared(r)
	health.Default.SetShared(r)
	return old
}

// Current returns the shared Redis in use, nil when state is in memory.
func Current() *Redis { return shared.Load() }

var applied *RedisConfig

// Apply installs the shared state c asks for, process-wide: a Redis
// connection (reused while its settings stay the same across reloads) or
// memory when c has no redis block.
func Apply(c Config, getenv func(string) string) {
	useMu.Lock()
	same := (c.Redis == nil && applied == nil) || (c.Redis != nil && applied != nil && *c.Redis == *applied)
	useMu.Unlock()
	if same {
		return
	}
	var r *Redis
	if c.Redis != nil {
		pw := ""
		if c.Redis.PasswordEnv != "" {
			pw = getenv(c.Redis.PasswordEnv)
		}
		r = NewRedis(*c.Redis, pw, signals.Default, nil)
	}
	old := Use(r)
	useMu.Lock()
	if c.Redis != nil {
		cp := *c.Redis
		applied = &cp
	} else {
		applied = nil
	}
	useMu.Unlock()
	if old != nil {
		go old.Close()
	}
}
