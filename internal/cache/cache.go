package cache

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/state"
)

// Entry is one cached answer: the model that gave it and its whole
// response.
type Entry struct {
	Model    string        `json:"model"`
	Response *llm.Response `json:"response"`
}

// Cache stores entries in a bounded LRU and, when Remote returns a KV,
// there too. It is safe for concurrent use and outlives config reloads.
type Cache struct {
	mem *lru
	// Remote returns the shared store (nil: memory only); it is asked on
	// every call so that a reload that adds or removes Redis takes effect.
	Remote func() state.KV
	// Now is the clock; nil means time.Now.
	Now     func() time.Time
	group   singleflight.Group
	flights flights // streaming calls in progress; see JoinStream
}

// New returns a cache holding at most maxEntries in memory, backed by the
// process's shared Redis when one is configured.
func New(maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{mem: newLRU(maxEntries), Remote: remote}
}

func remote() state.KV {
	if r := state.Current(); r != nil {
		return r
	}
	return nil
}

// Resize changes the in-memory bound.
func (c *Cache) Resize(maxEntries int) {
	if maxEntries > 0 {
		c.mem.resize(maxEntries)
	}
}

// Len returns how many entries memory holds (expired ones included until
// they are touched or evicted).
func (c *Cache) Len() int { return c.mem.len() }

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

const remotePrefix = "cache:"

// Get returns the entry stored under key, if any and not expired.
func (c *Cache) Get(key string) (*Entry, bool) {
	now := c.now()
	if b, ok := c.mem.get(key, now); ok {
		return decode(b)
	}
	if c.Remote == nil {
		return nil, false
	}
	kv := c.Remote()
	if kv == nil {
		return nil, false
	}
	s, ok := kv.Get(remotePrefix + key)
	if !ok {
		return nil, false
	}
	e, ok := decode([]byte(s))
	if ok {
		// Redis expires the key itself; memory keeps it at most one TTL
		// of its own, which Set's caller bounded when it stored it.
		c.mem.set(key, []byte(s), now.Add(remoteMemTTL))
	}
	return e, ok
}

// remoteMemTTL bounds how long an entry read from Redis stays in memory,
// so a replica does not serve it much past Redis's expiry.
const remoteMemTTL = 5 * time.Second

func decode(b []byte) (*Entry, bool) {
	var e Entry
	if json.Unmarshal(b, &e) != nil || e.Response == nil {
		return nil, false
	}
	return &e, true
}

// Set stores e under key for ttl. An entry that does not encode is not
// stored.
func (c *Cache) Set(key string, e *Entry, ttl time.Duration) {
	b, err := json.Marshal(e)
	if err != nil || ttl <= 0 {
		return
	}
	c.setEncoded(key, b, ttl)
}

func (c *Cache) setEncoded(key string, b []byte, ttl time.Duration) {
	c.mem.set(key, b, c.now().Add(ttl))
	if c.Remote == nil {
		return
	}
	if kv := c.Remote(); kv != nil {
		kv.Set(remotePrefix+key, string(b), ttl)
	}
}

// Do coalesces concurrent calls for key: the first caller (the leader)
// runs fn, the others wait for it and get a copy of its entry, or its
// error. shared is true for a follower. When fn succeeds its entry is
// stored for ttl; a failure is not stored. A follower whose ctx ends
// stops waiting and gets ctx's error; the leader's call goes on.
func (c *Cache) Do(ctx context.Context, key string, ttl time.Duration, fn func() (*Entry, error)) (e *Entry, shared bool, err error) {
	var leader atomic.Bool
	ch := c.group.DoChan(key, func() (any, error) {
		leader.Store(true)
		e, err := fn()
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		if ttl > 0 {
			c.setEncoded(key, b, ttl)
		}
		return result{e, b}, nil
	})
	select {
	case <-ctx.Done():
		if leader.Load() {
			// The leader runs fn on this goroutine's behalf; wait for it so
			// its answer (or error) is not lost.
			r := <-ch
			return unpack(r, false)
		}
		return nil, true, context.Cause(ctx)
	case r := <-ch:
		return unpack(r, !leader.Load())
	}
}

type result struct {
	e *Entry
	b []byte
}

func unpack(r singleflight.Result, follower bool) (*Entry, bool, error) {
	if r.Err != nil {
		return nil, follower, r.Err
	}
	res := r.Val.(result)
	if !follower {
		return res.e, false, nil
	}
	// Followers get their own copy: the leader's response is its own.
	e, ok := decode(res.b)
	if !ok {
		return nil, true, errors.New("cache: the leader's answer does not decode")
	}
	return e, true, nil
}
