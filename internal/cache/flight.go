package cache

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// ErrLeaderFailed is what JoinStream returns to a follower whose leader
// ended without a whole answer (its call failed, its stream broke or its
// client went away): the follower makes its own call.
var ErrLeaderFailed = errors.New("cache: the coalesced call ended without an answer")

// flight is one leader's streaming call for a key. done is closed once
// the flight has ended; b is then the encoded entry, nil on failure.
type flight struct {
	done chan struct{}
	b    []byte
}

// flights are the streaming calls in progress, by key.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// JoinStream coalesces concurrent streaming requests for key. The first
// caller leads: it gets a Lead and must end it exactly once, by passing
// its stream through Lead.Record or by calling Lead.Fail or Lead.Done.
// Later callers wait for the leader's whole answer and get a copy of its
// entry; they get ErrLeaderFailed when the leader ended without one, or
// ctx's error when ctx ends first.
func (c *Cache) JoinStream(ctx context.Context, key string) (*Lead, *Entry, error) {
	c.flights.mu.Lock()
	if f, ok := c.flights.m[key]; ok {
		c.flights.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		case <-f.done:
		}
		if f.b == nil {
			return nil, nil, ErrLeaderFailed
		}
		e, ok := decode(f.b)
		if !ok {
			return nil, nil, ErrLeaderFailed
		}
		return nil, e, nil
	}
	if c.flights.m == nil {
		c.flights.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	c.flights.m[key] = f
	c.flights.mu.Unlock()
	return &Lead{c: c, key: key, f: f}, nil, nil
}

// Lead is the leader's side of a coalesced streaming call. Its methods
// are safe for concurrent use; only the first end counts.
type Lead struct {
	c    *Cache
	key  string
	f    *flight
	once sync.Once
}

// end removes the flight and wakes its followers with b (nil: failed).
func (l *Lead) end(b []byte) {
	l.once.Do(func() {
		l.c.flights.mu.Lock()
		if l.c.flights.m[l.key] == l.f {
			delete(l.c.flights.m, l.key)
		}
		l.c.flights.mu.Unlock()
		l.f.b = b
		close(l.f.done)
	})
}

// Fail ends the flight without an answer: its followers make their own
// calls.
func (l *Lead) Fail() { l.end(nil) }

// Done ends the flight with e, which the caller found or stored itself;
// it is not stored again.
func (l *Lead) Done(e *Entry) {
	b, err := json.Marshal(e)
	if err != nil || e == nil || e.Response == nil {
		b = nil
	}
	l.end(b)
}

// Record passes s through to the leader's client while assembling the
// whole answer. When s ends cleanly the entry {model, answer} is stored
// under the key for ttl, handed to stored (e.g. for the semantic cache)
// and to the followers. When s breaks or is closed before its end the
// flight fails. The returned stream must be read to its end or closed.
func (l *Lead) Record(s llm.Stream, model string, ttl time.Duration, stored func(*Entry)) llm.Stream {
	r := Record(s, func(resp *llm.Response) {
		e := &Entry{Model: model, Response: resp}
		b, err := json.Marshal(e)
		if err != nil {
			l.Fail()
			return
		}
		if ttl > 0 {
			l.c.setEncoded(l.key, b, ttl)
		}
		if stored != nil {
			stored(e)
		}
		l.end(b)
	})
	r.fail = l.Fail
	return r
}
