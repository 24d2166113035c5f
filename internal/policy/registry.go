package policy

import (
	"encoding/json"

	"fmt"
	"sort"
	"sync"

	"github.com/sextant-router/sextant/internal/catalog"
)

// Builder builds subtrees while a node kind builds itself.
type Builder interface {
	// Build builds the subtree whose config is raw, at path (used in
	// error messages). raw is a model name as a JSON string, or an object
	// with exactly one key naming a registered kind.
	Build(path string, raw json.RawMessage) (Node, error)
	// HasModel reports whether the catalog has a model called name.
	HasModel(name string) bool
	// Model returns the catalog entry of name (its price and
	// capabilities, e.g. to order candidates by cost).
	Model(name string) (*catalog.Model, bool)
	// Path resolves a file path from the config (a model file, a data
	// set) against the config file's directory. Absolute paths and
	// "builtin:NAME" are returned unchanged.
	Path(p string) string
}

// Factory builds a node of one kind from its config block raw, found at
// path. It decodes raw strictly (conf.Decode), fills defaults, validates,
// and builds its subtrees with b. Errors are *conf.Error values naming the
// exact path.
type Factory func(b Builder, path string, raw json.RawMessage) (Node, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a node kind available by name; it panics on a duplicate.
func Register(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[kind]; dup {
		panic(fmt.Sprintf("policy: kind %q registered twice", kind))
	}
	factories[kind] = f
}

// Lookup returns the factory of kind.
func Lookup(kind string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[kind]
	return f, ok
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for k := range factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Describe names a subtree by its config: the model name for a model, the
// kind for a one-kind mapping, else "subtree". Kinds use it to name
// candidates, tiers and branches in the trace.
func Describe(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil && len(m) == 1 {
		for k := range m {
			return k
		}
	}
	return "subtree"
}
