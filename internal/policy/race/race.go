package race

import (
	"encoding/json"
	"math"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/signals"
)

func init() {
	policy.Register("race", New)
}

// Hedge defaults.
const (
	// DefaultHedgeDelay is the hedge delay when the primary model's p95 is
	// unknown (fewer than MinP95Samples attempts in the signals window, or
	// a primary that is a subtree, not one model).
	DefaultHedgeDelay = time.Second
	// MinP95Samples is how many attempts on the primary the signals
	// window must hold before its p95 is trusted.
	MinP95Samples = 20
	// DefaultHedgeBudget is the share of the node's requests that may
	// send a hedge.
	DefaultHedgeBudget = 0.1
)

// Node races its candidates; see the package doc. It is immutable after
// New (but for its hedge budget's counter) and safe for concurrent use.
type Node struct {
	path       string
	candidates []candidate
	gate       gate.Gate // nil: the first answer wins
	stagger    time.Duration
	maxConc    int            // 0: no limit
	maxCost    catalog.Micros // 0: no cap
	fallback   policy.Node    // nil: the best-scoring answer
	hedge      *hedge         // nil: not hedging
}

type candidate struct {
	name string
	node policy.Node
	// model is the catalog entry when the candidate is one model: for
	// gates that prepare the request and for the hedge delay's p95.
	model *catalog.Model
}

type config struct {
	Candidates     []json.RawMessage `json:"candidates"`
	Stagger        conf.Duration     `json:"stagger"`
	Gates          json.RawMessage   `json:"gates"`
	MaxConcurrency int               `json:"max_concurrency"`
	MaxCostUSD     float64           `json:"max_cost_usd"`
	Fallback       json.RawMessage   `json:"fallback"`
	Hedge          *hedgeConfig      `json:"hedge"`
}

type hedgeConfig struct {
	Delay        json.RawMessage `json:"delay"`
	DefaultDelay *conf.Duration  `json:"default_delay"`
	Max          *int            `json:"max"`
	Budget       *float64        `json:"budget"`
}

// New builds a race node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, stagger: cfg.Stagger.D(), maxConc: cfg.MaxConcurrency}
	candPath := conf.Join(path, "candidates")
	if len(cfg.Candidates) < 2 {
		return nil, conf.Errorf(candPath, "at least two candidates are required (got %d)", len(cfg.Candidates))
	}
	if n.stagger < 0 {
		return nil, conf.Errorf(conf.Join(path, "stagger"), "must not be negative")
	}
	if n.maxConc < 0 {
		return nil, conf.Errorf(conf.Join(path, "max_concurrency"), "must not be negative (0: no limit)")
	}
	if cfg.MaxCostUSD < 0 {
		return nil, conf.Errorf(conf.Join(path, "max_cost_usd"), "must not be negative (0: no cap)")
	}
	n.maxCost = catalog.Micros(math.Round(cfg.MaxCostUSD * 1e6))
	for i, rc := range cfg.Candidates {
		p := conf.Index(candPath, i)
		node, err := b.Build(p, rc)
		if err != nil {
			return nil, err
		}
		cd := candidate{name: policy.Describe(rc), node: node}
		if mn, ok := node.(*model.Node); ok {
			cd.model, _ = b.Model(mn.Name)
		}
		n.candidates = append(n.candidates, cd)
	}
	if cfg.Gates != nil {
		g, err := gate.Build(b, conf.Join(path, "gates"), cfg.Gates)
		if err != nil {
			return nil, err
		}
		n.gate = g
	}
	if cfg.Fallback != nil {
		fb, err := b.Build(conf.Join(path, "fallback"), cfg.Fallback)
		if err != nil {
			return nil, err
		}
		n.fallback = fb
	}
	if cfg.Hedge != nil {
		if cfg.Stagger != 0 {
			return nil, conf.Errorf(conf.Join(path, "stagger"), "cannot be used with hedge (the hedge delay spaces the launches)")
		}
		h, err := newHedge(conf.Join(path, "hedge"), cfg.Hedge, len(n.candidates))
		if err != nil {
			return nil, err
		}
		n.hedge = h
	}
	return n, nil
}

func newHedge(path string, hc *hedgeConfig, candidates int) (*hedge, error) {
	h := &hedge{max: 1, defaultDelay: DefaultHedgeDelay, signals: signals.Default, now: time.Now}
	h.budget.share = DefaultHedgeBudget
	switch {
	case hc.Delay == nil:
		h.p95 = true
	default:
		var s string
		if err := json.Unmarshal(hc.Delay, &s); err != nil {
			return nil, conf.Errorf(conf.Join(path, "delay"), "want p95 or a duration like \"300ms\"")
		}
		if s == "p95" {
			h.p95 = true
			break
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, conf.Errorf(conf.Join(path, "delay"), "want p95 or a non-negative duration like \"300ms\" (got %q)", s)
		}
		h.delay = d
	}
	if hc.DefaultDelay != nil {
		if hc.DefaultDelay.D() < 0 {
			return nil, conf.Errorf(conf.Join(path, "default_delay"), "must not be negative")
		}
		h.defaultDelay = hc.DefaultDelay.D()
	}
	if hc.Max != nil {
		h.max = *hc.Max
	}
	if h.max < 1 || h.max > candidates-1 {
		return nil, conf.Errorf(conf.Join(path, "max"), "must be between 1 and the number of backup candidates (%d)", candidates-1)
	}
	if hc.Budget != nil {
		h.budget.share = *hc.Budget
	}
	if h.budget.share <= 0 || h.budget.share > 1 {
		return nil, conf.Errorf(conf.Join(path, "budget"), "must be in (0,1]: the share of requests that may hedge")
	}
	return h, nil
}

var _ policy.Node = (*Node)(nil)
