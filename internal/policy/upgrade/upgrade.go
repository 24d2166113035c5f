package upgrade

import (
	"encoding/json"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
)

func init() {
	policy.Register("upgrade", New)
}

// DefaultWindow is how long the node waits for the better answer after
// the fast one arrived when the config sets no window.
const DefaultWindow = 500 * time.Millisecond

// Node serves the fast and the better subtree at once; see the package
// doc. It is immutable after New and safe for concurrent use.
type Node struct {
	path   string
	fast   branch
	better branch
	window time.Duration
	gate   gate.Gate // nil: any better answer in time is taken
}

// branch is one of the two subtrees.
type branch struct {
	name string
	node policy.Node
	// model is the catalog entry when the subtree is one model, for gates
	// that prepare the request.
	model *catalog.Model
}

type config struct {
	Fast   json.RawMessage `json:"fast"`
	Better json.RawMessage `json:"better"`
	Window *conf.Duration  `json:"window"`
	Gates  json.RawMessage `json:"gates"`
}

// New builds an upgrade node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, window: DefaultWindow}
	if cfg.Window != nil {
		n.window = cfg.Window.D()
		if n.window < 0 {
			return nil, conf.Errorf(conf.Join(path, "window"), "must not be negative")
		}
	}
	var err error
	if n.fast, err = buildBranch(b, path, "fast", cfg.Fast); err != nil {
		return nil, err
	}
	if n.better, err = buildBranch(b, path, "better", cfg.Better); err != nil {
		return nil, err
	}
	if cfg.Gates != nil {
		g, err := gate.Build(b, conf.Join(path, "gates"), cfg.Gates)
		if err != nil {
			return nil, err
		}
		n.gate = g
	}
	return n, nil
}

func buildBranch(b policy.Builder, path, key string, raw json.RawMessage) (branch, error) {
	p := conf.Join(path, key)
	if raw == nil || string(raw) == "null" {
		return branch{}, conf.Errorf(p, "is required (a model name or a subtree)")
	}
	node, err := b.Build(p, raw)
	if err != nil {
		return branch{}, err
	}
	br := branch{name: policy.Describe(raw), node: node}
	if mn, ok := node.(*model.Node); ok {
		br.model, _ = b.Model(mn.Name)
	}
	return br, nil
}

var _ policy.Node = (*Node)(nil)
