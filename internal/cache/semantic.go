package cache

import (
	"container/list"
	"encoding/json"
	"math"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

// Semantic is the in-memory semantic cache: entries found by the cosine
// similarity of an embedding of the last user message, among the entries
// of the same scope only (see Scope). Each scope is a bounded LRU searched
// by a linear scan. It is safe for concurrent use and is never stored in
// Redis.
type Semantic struct {
	// mu guards max and scopes; lock order is mu, then a scope's mu. A
	// scan holds only its scope's lock.
	mu     sync.Mutex
	max    int
	scopes map[string]*semScope
}

type semScope struct {
	mu sync.Mutex
	ll *list.List
}

type semEntry struct {
	vec     []float32
	norm    float64
	entry   []byte // the encoded Entry: each hit decodes its own copy
	expires time.Time
}

// NewSemantic returns a semantic cache holding at most max entries per
// scope.
func NewSemantic(max int) *Semantic {
	return &Semantic{max: max, scopes: map[string]*semScope{}}
}

// Scope returns the semantic scope of r and the text to embed: the hash of
// tenant, route and the whole request but its last message (so every
// system or developer message, earlier turn, tool, response_format and
// sampling parameter), and the last message's text. ok is false when r is
// not eligible: the last message is not a user message, has no text, or
// has parts other than text (an image is not embedded).
func Scope(tenant, route string, r *llm.Request) (scope, text string, ok bool) {
	n := len(r.Messages)
	if n == 0 {
		return "", "", false
	}
	last := r.Messages[n-1]
	if last.Role != "user" || last.Content == "" || last.Name != "" {
		return "", "", false
	}
	for _, p := range last.Parts {
		if p.Type != "text" {
			return "", "", false
		}
	}
	rest := *r
	rest.Messages = r.Messages[:n-1]
	k, err := Key(tenant, route, &rest)
	if err != nil {
		return "", "", false
	}
	return k, last.Content, true
}

// Resize sets the per-scope bound, evicting least recently used entries.
func (s *Semantic) Resize(max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max == max {
		return
	}
	s.max = max
	for k, sc := range s.scopes {
		sc.mu.Lock()
		trim(sc.ll, max)
		if sc.ll.Len() == 0 {
			delete(s.scopes, k)
		}
		sc.mu.Unlock()
	}
}

func trim(l *list.List, max int) {
	for l.Len() > max {
		l.Remove(l.Back())
	}
}

// Lookup returns the live entry of scope most similar to vec and its
// cosine similarity when that is at least threshold; a hit becomes the
// scope's most recently used entry. Expired entries met on the way are
// dropped.
func (s *Semantic) Lookup(scope string, vec []float32, threshold float64, now time.Time) (*Entry, float64, bool) {
	qn := norm(vec)
	if qn == 0 {
		return nil, 0, false
	}
	best, bestSim := s.nearest(scope, vec, qn, threshold, now)
	if best == nil {
		return nil, bestSim, false
	}
	ent, ok := decode(best)
	if !ok {
		return nil, bestSim, false
	}
	return ent, bestSim, true
}

// nearest returns the similarity of the entry of scope most similar to vec
// (of norm qn) and, when that is at least threshold, the encoded entry,
// made the most recently used.
func (s *Semantic) nearest(scope string, vec []float32, qn, threshold float64, now time.Time) ([]byte, float64) {
	s.mu.Lock()
	sc := s.scopes[scope]
	s.mu.Unlock()
	if sc == nil {
		return nil, 0
	}
	b, sim, empty := sc.nearest(vec, qn, threshold, now)
	if empty {
		s.dropIfEmpty(scope, sc)
	}
	return b, sim
}

// nearest is Semantic.nearest on one scope; empty reports that dropping
// expired entries emptied it.
func (sc *semScope) nearest(vec []float32, qn, threshold float64, now time.Time) (b []byte, sim float64, empty bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	l := sc.ll
	var best *list.Element
	bestSim := math.Inf(-1)
	expired := false
	for el := l.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*semEntry)
		if !now.Before(e.expires) {
			l.Remove(el)
			expired = true
		} else if sim := cosine(vec, qn, e); sim > bestSim {
			best, bestSim = el, sim
		}
		el = next
	}
	switch {
	case best == nil:
		return nil, 0, expired && l.Len() == 0
	case bestSim < threshold:
		return nil, bestSim, false
	}
	l.MoveToFront(best)
	return best.Value.(*semEntry).entry, bestSim, false
}

// dropIfEmpty forgets scope if it is still sc and still empty.
func (s *Semantic) dropIfEmpty(scope string, sc *semScope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s.scopes[scope] == sc && sc.ll.Len() == 0 {
		delete(s.scopes, scope)
	}
}

// Add stores ent under vec in scope until expires. A zero vector or an
// entry that does not encode is not stored.
func (s *Semantic) Add(scope string, vec []float32, ent *Entry, expires time.Time) {
	n := norm(vec)
	if n == 0 || ent == nil {
		return
	}
	b, err := json.Marshal(ent)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max <= 0 {
		return
	}
	sc := s.scopes[scope]
	if sc == nil {
		sc = &semScope{ll: list.New()}
		s.scopes[scope] = sc
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.ll.PushFront(&semEntry{vec: vec, norm: n, entry: b, expires: expires})
	trim(sc.ll, s.max)
}

// Len returns the number of entries held in scope.
func (s *Semantic) Len(scope string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.scopes[scope]; sc != nil {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.ll.Len()
	}
	return 0
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// cosine is the cosine similarity of q (of norm qn) and e; vectors of
// different lengths are unrelated (similarity -1).
func cosine(q []float32, qn float64, e *semEntry) float64 {
	if len(q) != len(e.vec) {
		return -1
	}
	return float64(dot(q, e.vec)) / (qn * e.norm)
}

// dot is the dot product of two vectors of the same length.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
