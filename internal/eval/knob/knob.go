// Package knob is the registry of cost–quality knobs: for each policy kind
// that has one, which number in its config block trades quality for cost
// (a split's share, a threshold, a gate score) and which values to sweep by
// default. Offline evaluation (package eval) reads it to sweep and calibrate
// a route whose top node is of that kind.
//
// It is a leaf package so that policy kinds can register their knob in
// init without depending on the evaluator:
//
//	func init() {
//		policy.Register("winrate", New)
//		knob.Register("winrate", knob.Spec{Field: "threshold", Min: 0, Max: 1, Default: knob.Range(0, 1, 11)})
//	}
//
// A kind without a knob registers nothing; eval then reports a single point.
package knob

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// Spec describes one kind's knob.
type Spec struct {
	// Field is the member of the kind's config block that holds the knob,
	// a dotted path for nested members ("gate.threshold"). The block must
	// be a mapping when the knob is set (a shorthand list form cannot be
	// swept).
	Field string
	// Min and Max bound the knob; calibration searches [Min, Max].
	Min, Max float64
	// Default is the sweep of `--sweep` without a value, ascending.
	Default []float64
	// SeedField, when set, names a member holding an integer seed of a
	// randomized kind (split's "seed"); eval sets it to average a point
	// over several seeds.
	SeedField string
	// Integer knobs are rounded to whole numbers when set.
	Integer bool
}

var (
	mu    sync.RWMutex
	specs = map[string]Spec{}
)

// Register declares kind's knob; it panics on a duplicate or an invalid
// spec, as registration happens in init.
func Register(kind string, s Spec) {
	if s.Field == "" || !(s.Min <= s.Max) || len(s.Default) == 0 {
		panic(fmt.Sprintf("knob: invalid spec for kind %q", kind))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := specs[kind]; dup {
		panic(fmt.Sprintf("knob: kind %q registered twice", kind))
	}
	s.Default = append([]float64(nil), s.Default...)
	specs[kind] = s
}

// Lookup returns kind's knob.
func Lookup(kind string) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := specs[kind]
	return s, ok
}

// Kinds lists the kinds that have a knob, sorted.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(specs))
	for k := range specs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Range returns n evenly spaced values from lo to hi inclusive, rounded to
// 12 significant decimals so that 0.1 steps print as 0.1, 0.2, ...
func Range(lo, hi float64, n int) []float64 {
	if n <= 1 {
		return []float64{lo}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = Round(lo + (hi-lo)*float64(i)/float64(n-1))
	}
	return out
}

// Round rounds v to 12 decimals, hiding float noise in knob values; values
// of a million or more are returned as they are.
func Round(v float64) float64 {
	if !(math.Abs(v) < 1e6) {
		return v
	}
	return math.Round(v*1e12) / 1e12
}

// Set returns route with kind's knob set to v: route is a route's config,
// `{"<kind>": {...}}`; the knob member is replaced or added. The result
// is new JSON; route is not modified.
func (s Spec) Set(route json.RawMessage, v float64) (json.RawMessage, error) {
	if s.Integer {
		v = math.Round(v)
	}
	return s.set(route, s.Field, v)
}

// SetSeed returns route with the seed member set to seed; it fails when the
// kind has no seed.
func (s Spec) SetSeed(route json.RawMessage, seed uint64) (json.RawMessage, error) {
	if s.SeedField == "" {
		return nil, fmt.Errorf("the kind's knob has no seed")
	}
	return s.set(route, s.SeedField, seed)
}

func (s Spec) set(route json.RawMessage, field string, v any) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(route, &top); err != nil || len(top) != 1 {
		return nil, fmt.Errorf("the route is not a single policy kind")
	}
	for kind, block := range top {
		nb, err := setPath(block, strings.Split(field, "."), v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", kind, field, err)
		}
		return json.Marshal(map[string]json.RawMessage{kind: nb})
	}
	panic("unreachable")
}

func setPath(block json.RawMessage, path []string, v any) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(block) == 0 || string(block) == "null" {
		m = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(block, &m); err != nil {
		return nil, fmt.Errorf("the block is not a mapping, so its knob cannot be set")
	}
	if len(path) == 1 {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[path[0]] = b
		return json.Marshal(m)
	}
	inner, err := setPath(m[path[0]], path[1:], v)
	if err != nil {
		return nil, err
	}
	m[path[0]] = inner
	return json.Marshal(m)
}
