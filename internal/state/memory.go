package state

import (
	"sync"
	"time"
)

// KV is a key-value store with expiry.
type KV interface {
	Get(key string) (string, bool)
	Set(key, value string, ttl time.Duration)
	Delete(key string)
}

// Memory is the in-process KV.
type Memory struct {
	mu  sync.Mutex
	cap int
	m   map[string]entry
	now func() time.Time
}

type entry struct {
	v  string
	at time.Time // expiry
}

// NewMemory returns an empty store holding at most capacity entries
// (at least 1).
func NewMemory(capacity int) *Memory {
	return &Memory{cap: max(capacity, 1), m: map[string]entry{}, now: time.Now}
}

// Get returns key's value unless it is missing or expired.
func (s *Memory) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return "", false
	}
	if !s.now().Before(e.at) {
		delete(s.m, key)
		return "", false
	}
	return e.v, true
}

// Set stores value under key for ttl.
func (s *Memory) Set(key, value string, ttl time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= s.cap {
		s.evict(now)
	}
	s.m[key] = entry{v: value, at: now.Add(ttl)}
}

// Delete removes key.
func (s *Memory) Delete(key string) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Len returns the number of entries, expired ones included.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// evict makes room for one entry. s.mu must be held.
func (s *Memory) evict(now time.Time) {
	for k, e := range s.m {
		if !now.Before(e.at) {
			delete(s.m, k)
		}
	}
	if len(s.m) < s.cap {
		return
	}
	// Map iteration order is random: the soonest expiry among a sample
	// approximates the oldest entry without keeping an index.
	victim, soonest, n := "", time.Time{}, 0
	for k, e := range s.m {
		if n == 0 || e.at.Before(soonest) {
			victim, soonest = k, e.at
		}
		if n++; n >= 8 {
			break
		}
	}
	delete(s.m, victim)
}
