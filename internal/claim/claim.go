// Package claim maps names to the live one of the nodes a config reload
// rebuilds under the same name: the learners (package learning) and the
// experiments (package experiment).
//
// A node Offers itself when it is built and Claims its name each time it
// serves. The first node built under a name is live at once (events for
// requests decided before a restart find it), a node built by a reload
// that is then rejected never displaces the live one (it never serves),
// and the node of an accepted reload takes over with its first request.
// All methods are safe for concurrent use.
package claim

import (
	"sort"
	"sync"
)

// Registry maps names to holders.
type Registry[T comparable] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Register makes v the holder of name, replacing any earlier one.
func (r *Registry[T]) Register(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]T{}
	}
	r.m[name] = v
}

// Offer makes v the holder of name unless name is held.
func (r *Registry[T]) Offer(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]T{}
	}
	if _, ok := r.m[name]; !ok {
		r.m[name] = v
	}
}

// Claim makes v the holder of name unless it already is; it takes only
// a read lock when v holds name.
func (r *Registry[T]) Claim(name string, v T) {
	r.mu.RLock()
	cur, ok := r.m[name]
	r.mu.RUnlock()
	if ok && cur == v {
		return
	}
	r.Register(name, v)
}

// Unregister removes name if v still holds it.
func (r *Registry[T]) Unregister(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.m[name]; ok && cur == v {
		delete(r.m, name)
	}
}

// Lookup returns the holder of name.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names returns the held names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
