package peak

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/load"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register("peak", New) }

// Levels are the thresholds of one direction; 0 means not used.
type Levels struct {
	Load      float64 `json:"load"`
	LatencyMS float64 `json:"latency_ms"`
}

type config struct {
	Normal   json.RawMessage `json:"normal"`
	Peak     json.RawMessage `json:"peak"`
	Enter    Levels          `json:"enter"`
	Exit     *Levels         `json:"exit"`
	Models   []string        `json:"models"`
	MinDwell conf.Duration   `json:"min_dwell"`
}

// Node switches between its normal and peak subtrees.
type Node struct {
	path         string
	normal, peak policy.Node
	enter, exit  Levels
	models       []string
	dwell        time.Duration

	// Hooks for tests; nil means the process-wide ones.
	level func() float64
	sig   *signals.Registry
	now   func() time.Time

	mu    sync.Mutex
	in    bool
	since time.Time
}

// New builds a peak node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, enter: cfg.Enter, models: cfg.Models, dwell: cfg.MinDwell.D()}
	if n.dwell < 0 {
		return nil, conf.Errorf(conf.Join(path, "min_dwell"), "must not be negative")
	}
	if cfg.MinDwell == 0 {
		n.dwell = 10 * time.Second
	}
	if !(n.enter.Load >= 0) || !(n.enter.LatencyMS >= 0) || (n.enter.Load == 0 && n.enter.LatencyMS == 0) {
		return nil, conf.Errorf(conf.Join(path, "enter"), "needs load or latency_ms, positive")
	}
	n.exit = Levels{Load: 0.8 * n.enter.Load, LatencyMS: 0.8 * n.enter.LatencyMS}
	if cfg.Exit != nil {
		n.exit = *cfg.Exit
		if n.enter.Load > 0 && !(n.exit.Load >= 0 && n.exit.Load < n.enter.Load) {
			return nil, conf.Errorf(conf.Join(conf.Join(path, "exit"), "load"), "must be in [0, enter.load)")
		}
		if n.enter.LatencyMS > 0 && !(n.exit.LatencyMS >= 0 && n.exit.LatencyMS < n.enter.LatencyMS) {
			return nil, conf.Errorf(conf.Join(conf.Join(path, "exit"), "latency_ms"), "must be in [0, enter.latency_ms)")
		}
	}
	if n.enter.LatencyMS > 0 && len(n.models) == 0 {
		return nil, conf.Errorf(conf.Join(path, "models"), "required with enter.latency_ms: whose latency counts")
	}
	for i, m := range n.models {
		if !b.HasModel(m) {
			return nil, conf.Errorf(conf.Index(conf.Join(path, "models"), i), "unknown model %q", m)
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		into *policy.Node
	}{{"normal", cfg.Normal, &n.normal}, {"peak", cfg.Peak, &n.peak}} {
		if f.raw == nil {
			return nil, conf.Errorf(conf.Join(path, f.name), "required: the %s-mode subtree", f.name)
		}
		node, err := b.Build(conf.Join(path, f.name), f.raw)
		if err != nil {
			return nil, err
		}
		*f.into = node
	}
	return n, nil
}

func (n *Node) observe() (lvl, lat float64) {
	if n.level != nil {
		lvl = n.level()
	} else {
		lvl = float64(load.Default.Level())
	}
	if n.enter.LatencyMS > 0 {
		sig := n.sig
		if sig == nil {
			sig = signals.Default
		}
		var sum float64
		var k int
		for _, m := range n.models {
			if v := sig.Stats(m).LatencyEWMAMS; v > 0 {
				sum += v
				k++
			}
		}
		if k > 0 {
			lat = sum / float64(k)
		}
	}
	return lvl, lat
}

// mode updates and returns the mode: true is peak.
func (n *Node) mode() (bool, string) {
	lvl, lat := n.observe()
	now := time.Now()
	if n.now != nil {
		now = n.now()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	over := func(v, limit float64) bool { return limit > 0 && v >= limit }
	under := func(v, limit, enter float64) bool { return enter == 0 || v <= limit }
	why := fmt.Sprintf("load %.0f, latency %.0f ms", lvl, lat)
	switch {
	case !n.in && (over(lvl, n.enter.Load) || over(lat, n.enter.LatencyMS)):
		n.in, n.since = true, now
		slog.Info("peak mode", "node", n.path, "mode", "peak", "load", lvl, "latency_ms", lat)
	case n.in && now.Sub(n.since) >= n.dwell && under(lvl, n.exit.Load, n.enter.Load) && under(lat, n.exit.LatencyMS, n.enter.LatencyMS):
		n.in, n.since = false, now
		slog.Info("peak mode", "node", n.path, "mode", "normal", "load", lvl, "latency_ms", lat)
	}
	return n.in, why
}

// Serve routes the request to the subtree of the current mode.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	in, why := n.mode()
	mode, next := "normal", n.normal
	if in {
		mode, next = "peak", n.peak
	}
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "peak", Decision: mode, Reason: why})
	return next.Serve(ctx, c)
}

var _ policy.Node = (*Node)(nil)
