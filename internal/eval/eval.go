package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/dataset"
	"github.com/sextant-router/sextant/internal/eval/knob"
)

// Options configure an Evaluator.
type Options struct {
	// File is the parsed config and BaseDir the directory its relative
	// paths resolve against. ConfigName names it in reports.
	File       *config.File
	BaseDir    string
	ConfigName string
	// Route names the route to evaluate (or a model, evaluated alone).
	Route string
	// Dataset is a .jsonl file (or a directory of them) in the
	// ../shared/data format; every model answers from it.
	Dataset string
	// Strong and Weak name the catalog models PGR and the cost share are
	// measured against. By default they are the labeled models with the
	// highest and the lowest cost when each answers every record alone.
	Strong, Weak string
	// Concurrency is how many records are in flight; default
	// GOMAXPROCS × 4. For a route that learns (see runOnline) it is the
	// feedback delay instead: records are routed in order and a record's
	// feedback arrives Concurrency records later; default 1.
	Concurrency int
	// ExcludeContaminated drops the records marked contaminated, as
	// RouteLLM's evaluation does.
	ExcludeContaminated bool
	// Limit, when positive, keeps only the first Limit records.
	Limit int
	// OutputTokens, when positive, is the output length charged for an
	// answer the data set has no text for, instead of the derived
	// estimate (see Estimate).
	OutputTokens int
	// Progress, when set, is called after every record with the records
	// done and planned so far; it is called from several goroutines.
	Progress func(done, total int64)
	// Seeds, for a route with a bandit, runs the online-learning
	// simulation with the bandits' seed set to 0..Seeds-1 and reports the
	// mean learning curve with its band; default 1 (the configured seed).
	Seeds int
}

// Evaluator runs a route of a config over a recorded data set through the
// engine that serves traffic. It is safe for one evaluation at a time.
type Evaluator struct {
	opts      Options
	file      *config.File // rewritten: every model offline
	baseDir   string
	records   []dataset.Record
	dropped   int // contaminated records left out
	fleet     []*fleetModel
	byName    map[string]*fleetModel
	index     map[string]int
	estimates map[string]*Estimate
	route     json.RawMessage // nil when Route names a model
	twin      *config.File    // e.file with sim stand-ins, to build routes
	// bandit is the route's first bandit-shaped node, nil for none: its
	// online-learning simulation is measured against its arms.
	bandit *banditNode

	baseOnce sync.Once
	baseSnap *config.Snapshot
	baseErr  error

	done, total atomic.Int64
}

// Load parses the config file at path into opts.File, opts.BaseDir and
// opts.ConfigName.
func Load(path string, opts *Options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	f, err := config.Parse(data)
	if err != nil {
		return err
	}
	opts.File, opts.BaseDir, opts.ConfigName = f, filepath.Dir(path), path
	return nil
}

// New loads the data set and prepares the config for offline runs.
func New(opts Options) (*Evaluator, error) {
	if opts.File == nil {
		return nil, errors.New("eval: no config")
	}
	if opts.Dataset == "" {
		return nil, errors.New("eval: no data set (--dataset)")
	}
	records, err := dataset.Open(opts.Dataset, "")
	if err != nil {
		return nil, fmt.Errorf("eval: data set: %w", err)
	}
	e := &Evaluator{opts: opts, baseDir: opts.BaseDir, byName: map[string]*fleetModel{}, index: map[string]int{}}
	for _, r := range records {
		if opts.ExcludeContaminated && r.Contaminated {
			e.dropped++
			continue
		}
		e.records = append(e.records, r)
	}
	if opts.Limit > 0 && len(e.records) > opts.Limit {
		e.records = e.records[:opts.Limit]
	}
	if len(e.records) == 0 {
		return nil, errors.New("eval: the data set has no records to evaluate")
	}
	if e.baseDir == "" {
		e.baseDir = "."
	}
	// Replay models answer from the whole file (the index needs every
	// record), but only the kept records are sent.
	e.file, e.fleet, err = rewriteFleet(opts.File, opts.Dataset, recordModelsOf(records))
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	// Estimates use every record of the file, so that leaving records out
	// does not change what the others cost.
	e.estimates = estimates(records, opts.OutputTokens)
	e.twin = twinOf(e.file)
	for i, m := range e.fleet {
		e.byName[m.Name], e.index[m.Name] = m, i
		m.estimate = DefaultOutputTokens
		if est, ok := e.estimates[m.RecordModel]; ok {
			m.estimate = est.OutputTokens
		}
	}
	if raw, ok := opts.File.Routes[opts.Route]; ok {
		e.route = raw
	} else if e.byName[opts.Route] == nil {
		return nil, fmt.Errorf("eval: the config has no route or model %q (routes: %s)", opts.Route, strings.Join(sortedKeys(opts.File.Routes), ", "))
	}
	if e.bandit, err = findBandit(e.route, opts.Route); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for _, name := range []string{opts.Strong, opts.Weak} {
		if name != "" && e.byName[name] == nil {
			return nil, fmt.Errorf("eval: --strong/--weak: the config has no model %q", name)
		}
	}
	// Build once now so that config errors surface before any work.
	if _, err := e.snapshot(e.route); err != nil {
		return nil, err
	}
	return e, nil
}

// Records returns how many records an evaluation sends per run.
func (e *Evaluator) Records() int { return len(e.records) }

func (e *Evaluator) snapshot(route json.RawMessage) (*snapshotRoute, error) {
	return e.snapshotSeeded(route, nil)
}

// snapshotSeeded builds route; a route that learns gets fresh learner
// names (see prepare), and seed, when not nil, as its bandits' seed.
func (e *Evaluator) snapshotSeeded(route json.RawMessage, seed *uint64) (*snapshotRoute, error) {
	online := learns(route)
	if online {
		var err error
		if route, err = prepare(route, e.opts.Route, seed); err != nil {
			return nil, fmt.Errorf("eval: route %s: %w", e.opts.Route, err)
		}
	}
	snap, err := e.withRoute(route)
	if err != nil {
		return nil, err
	}
	return &snapshotRoute{snap: snap, name: e.opts.Route, online: online}, nil
}

// snapshotRoute is a built snapshot and the name to send requests to.
type snapshotRoute struct {
	snap *config.Snapshot
	name string
	// online is set when the route learns: it runs in order (runOnline).
	online bool
}

// Knob returns the knob of the route's top kind, if it has one.
func (e *Evaluator) Knob() (*KnobInfo, bool) {
	if e.route == nil {
		return nil, false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(e.route, &top) != nil || len(top) != 1 {
		return nil, false
	}
	for kind, block := range top {
		spec, ok := knob.Lookup(kind)
		if !ok {
			return nil, false
		}
		info := &KnobInfo{Kind: kind, Field: spec.Field, Min: spec.Min, Max: spec.Max, Default: spec.Default, spec: spec}
		info.Value = lookupNumber(block, spec.Field)
		return info, true
	}
	return nil, false
}

// KnobInfo describes the knob of the evaluated route.
type KnobInfo struct {
	Kind  string `json:"kind"`
	Field string `json:"field"`
	// Value is the knob as configured; null when the block does not set it.
	Value   *float64  `json:"value"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Default []float64 `json:"default_sweep"`
	spec    knob.Spec
}

// lookupNumber reads the number at a dotted path in a JSON block.
func lookupNumber(block json.RawMessage, path string) *float64 {
	cur := block
	for _, part := range strings.Split(path, ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return nil
		}
		cur = m[part]
	}
	var v float64
	if json.Unmarshal(cur, &v) != nil {
		return nil
	}
	return &v
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
