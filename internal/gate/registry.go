package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/policy"
)

// Factory builds a gate of one kind from its config block raw, found at
// path (e.g. "routes.r.cascade.gates[0].structure"). raw is null when the
// gate was named by its kind alone; the factory then uses its defaults.
// It decodes raw strictly (conf.Decode), fills defaults, validates, and
// returns *conf.Error values naming the exact path. b resolves files
// (b.Path) and knows the catalog (b.Model).
type Factory func(b policy.Builder, path string, raw json.RawMessage) (Gate, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a gate kind available by name; it panics on a duplicate.
// Kinds register in init; package kinds links them all into the binary.
func Register(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[kind]; dup {
		panic(fmt.Sprintf("gate: kind %q registered twice", kind))
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

// Build builds the gate whose config is raw, at path. raw is one of:
//
//	{KIND: {...}}      one gate of a registered kind (or a combination:
//	                   all, any, weighted)
//	"KIND"             one gate of that kind with its defaults
//	[g, g, ...]        shorthand for {all: [g, g, ...]}
//
// Names must be unique within the tree; see the package doc for every
// kind's config.
func Build(b policy.Builder, path string, raw json.RawMessage) (Gate, error) {
	g, err := build(b, path, raw)
	if err != nil {
		return nil, err
	}
	if err := uniqueNames(path, g, map[string]bool{}); err != nil {
		return nil, err
	}
	return g, nil
}

func build(b policy.Builder, path string, raw json.RawMessage) (Gate, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, conf.Errorf(path, "a gate is required: {KIND: {...}} with KIND one of %s", strings.Join(Kinds(), ", "))
	}
	switch raw[0] {
	case '[':
		return newCombination(b, path, RuleAll, raw)
	case '"':
		var kind string
		if err := json.Unmarshal(raw, &kind); err != nil {
			return nil, conf.Errorf(path, "invalid gate name: %v", err)
		}
		f, err := lookup(path, kind)
		if err != nil {
			return nil, err
		}
		return f(b, conf.Join(path, kind), nil)
	case '{':
	default:
		return nil, conf.Errorf(path, "expected a mapping {KIND: {...}}, a kind name or a list of gates, got %s", raw)
	}
	var m map[string]json.RawMessage
	if err := conf.Decode(path, raw, &m); err != nil {
		return nil, err
	}
	if len(m) != 1 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, conf.Errorf(path, "a gate is a mapping with exactly one key naming its kind, got %d keys (%s)", len(m), strings.Join(keys, ", "))
	}
	for kind, block := range m {
		f, err := lookup(path, kind)
		if err != nil {
			return nil, err
		}
		return f(b, conf.Join(path, kind), block)
	}
	panic("unreachable")
}

func lookup(path, kind string) (Factory, error) {
	f, ok := Lookup(kind)
	if !ok {
		return nil, conf.Errorf(conf.Join(path, kind), "unknown gate kind %q (known: %s)", kind, strings.Join(Kinds(), ", "))
	}
	return f, nil
}

func uniqueNames(path string, g Gate, seen map[string]bool) error {
	if seen[g.Name()] {
		return conf.Errorf(path, "two gates are named %q; give one a distinct name", g.Name())
	}
	seen[g.Name()] = true
	if c, ok := g.(*Combination); ok {
		for _, ch := range c.children {
			if err := uniqueNames(ch.path, ch.gate, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// Common is the config every gate kind shares; kinds embed it in their
// config struct.
type Common struct {
	// Name names the gate in verdicts and the trace; default: the kind.
	Name string `json:"name"`
	// Threshold is the score an answer must reach; default: the kind's.
	Threshold *Threshold `json:"threshold"`
}

// Base returns a gate's name and threshold from its common config: the
// kind and def when they were not configured.
func (cm Common) Base(path, kind string, def float64) (Base, error) {
	b := Base{name: kind, thr: cm.Threshold}
	if cm.Name != "" {
		if strings.TrimSpace(cm.Name) != cm.Name || strings.ContainsAny(cm.Name, "\n\t") {
			return Base{}, conf.Errorf(conf.Join(path, "name"), "must not have leading or trailing space or control characters: %q", cm.Name)
		}
		b.name = cm.Name
	}
	if b.thr == nil {
		b.thr = Fixed(def)
	}
	return b, nil
}

// Base holds what every gate has: a name and a threshold. Kinds embed it
// and build verdicts with it.
type Base struct {
	name string
	thr  *Threshold
}

// NewBase returns a Base named name with threshold thr (tests and kinds
// built without config).
func NewBase(name string, thr *Threshold) Base { return Base{name: name, thr: thr} }

// Name returns the gate's name.
func (b Base) Name() string { return b.name }

// Threshold returns the gate's threshold.
func (b Base) Threshold() *Threshold { return b.thr }

// Verdict returns the verdict for score (clamped to [0,1]) against the
// threshold that applies to c now.
func (b Base) Verdict(c *policy.Call, score float64, reason string) Verdict {
	t := b.thr.For(c)
	score = clamp01(score)
	return Verdict{Gate: b.name, Score: score, Threshold: t, Pass: score >= t, Reason: reason}
}

// Skip returns a skipped verdict: the gate could not judge the answer.
func (b Base) Skip(c *policy.Call, reason string) Verdict {
	return Verdict{Gate: b.name, Threshold: b.thr.For(c), Skipped: true, Reason: reason}
}
