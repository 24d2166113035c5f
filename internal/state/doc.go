// Package state holds routing state that may be shared between Sextant
// replicas: a key-value store with expiry (session stickiness) and
// fixed-window counters (virtual keys' requests and tokens per minute and
// spend per UTC day and month).
//
// # What it does
//
// By default both live in memory (Memory, MemoryCounters). With the config
// block `state: {redis: {addr, password_env, db, prefix, sync}}` Apply
// connects to Redis and makes it the process-wide state: DefaultKV and
// DefaultCounters then read and write Redis (GET/SET with PX, INCRBY with
// an expiry a minute after the period ends), and a background loop every
// `sync` (default 250ms) publishes this replica's signals (signals.Local,
// one hash field per replica, ignored by peers once older than 4 syncs or
// 1s) and fetches its peers' signals and circuit trips into a cache that
// signals.Default and health.Default read (signals.Shared, health.Shared).
// A reload with the same redis block keeps the connection; a changed one
// reconnects; removing it returns to memory. Redis.Client and Redis.Prefix
// let other packages keep their own shared state in the same Redis (the
// learners' statistics of internal/tally, under prefix+"tally:").
//
// # Contract
//
// A KV maps string keys to string values, each with a time to live. Get
// never returns an expired entry. A Memory holds at most its capacity;
// when full, Set first drops expired entries and then, if still full, the
// entry that expires soonest among a small sample. Counters count per key
// and Period; a period's count starts at 0 when it turns over. All methods
// are safe for concurrent use.
//
// # Failure behaviour
//
// Nothing here fails a request: a Redis error reads as a KV miss or a
// count of 0 (so limits fail open) and is logged; a failing sync loop logs
// once when it starts failing and once when it recovers, and peers' data
// goes stale and is dropped.
//
// # Example
//
//	kv := state.DefaultKV()
//	kv.Set("sess:abc", "fast-small", 30*time.Minute)
//	n, resetAt := state.DefaultCounters().Add("req:free-user", state.Minute, 1)
package state
