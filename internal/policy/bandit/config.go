package bandit

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/sextant-router/sextant/internal/bandit"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/policy"
)

// Quality sources.
const (
	QualityFeedback = "feedback"
	QualityGate     = "gate"
	QualityBoth     = "both"
)

type config struct {
	Arms      []json.RawMessage `json:"arms"`
	Algorithm string            `json:"algorithm"`
	Alpha     *float64          `json:"alpha"`
	Features  json.RawMessage   `json:"features"`
	Lambda    float64           `json:"lambda"`
	Mu        float64           `json:"mu"`
	Quality   string            `json:"quality"`
	Gates     json.RawMessage   `json:"gates"`
	Feedback  *scaleConfig      `json:"feedback"`
	Explore   *exploreConfig    `json:"explore"`
	Prior     *priorConfig      `json:"prior"`
	Name      string            `json:"name"`
	Seed      *int64            `json:"seed"`
}

type armConfig struct {
	Name  string          `json:"name"`
	Route json.RawMessage `json:"route"`
}

type scaleConfig struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

type exploreConfig struct {
	MaxShare *float64 `json:"max_share"`
	MinPulls *int     `json:"min_pulls"`
	Window   *int     `json:"window"`
}

type priorConfig struct {
	Weight *float64            `json:"weight"`
	Arms   map[string]priorArm `json:"arms"`
	Eval   string              `json:"eval"`
}

type priorArm struct {
	Quality *float64 `json:"quality"`
	Cost    float64  `json:"cost"`    // USD per request
	Latency float64  `json:"latency"` // seconds
}

// Defaults.
const (
	defaultMaxShare = 0.2
	defaultWindow   = 100
	defaultAlpha    = 1.0
	defaultWeight   = 10.0
)

// parseArm reads arms[i]: a subtree, or {name, route}.
func parseArm(b policy.Builder, p string, raw json.RawMessage) (name, path string, node policy.Node, err error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		_, hasName := m["name"]
		_, hasRoute := m["route"]
		if hasName || hasRoute {
			var ac armConfig
			if err := conf.Decode(p, raw, &ac); err != nil {
				return "", "", nil, err
			}
			if ac.Route == nil {
				return "", "", nil, conf.Errorf(conf.Join(p, "route"), "required: the arm's subtree")
			}
			path = conf.Join(p, "route")
			node, err = b.Build(path, ac.Route)
			if err != nil {
				return "", "", nil, err
			}
			name = ac.Name
			if name == "" {
				name = policy.Describe(ac.Route)
			}
			return name, path, node, nil
		}
	}
	node, err = b.Build(p, raw)
	if err != nil {
		return "", "", nil, err
	}
	return policy.Describe(raw), p, node, nil
}

// build validates cfg and fills n's settings (everything but the arms'
// statistics).
func (n *Node) configure(b policy.Builder, path string, cfg *config) error {
	switch cfg.Algorithm {
	case "", string(bandit.Thompson):
		n.alg = bandit.Thompson
	case string(bandit.LinUCB):
		n.alg = bandit.LinUCB
	default:
		return conf.Errorf(conf.Join(path, "algorithm"), "unknown algorithm %q (want thompson or linucb)", cfg.Algorithm)
	}
	n.alpha = defaultAlpha
	if cfg.Alpha != nil {
		if n.alg != bandit.LinUCB {
			return conf.Errorf(conf.Join(path, "alpha"), "applies to algorithm linucb only")
		}
		if a := *cfg.Alpha; !(a >= 0 && a <= 100) {
			return conf.Errorf(conf.Join(path, "alpha"), "must be in [0,100], got %v", a)
		}
		n.alpha = *cfg.Alpha
	}
	if !(cfg.Lambda >= 0 && cfg.Lambda <= 1e9) {
		return conf.Errorf(conf.Join(path, "lambda"), "must be a non-negative number, got %v", cfg.Lambda)
	}
	if !(cfg.Mu >= 0 && cfg.Mu <= 1e9) {
		return conf.Errorf(conf.Join(path, "mu"), "must be a non-negative number, got %v", cfg.Mu)
	}
	n.reward = bandit.Reward{Lambda: cfg.Lambda, Mu: cfg.Mu}
	switch cfg.Quality {
	case "":
		n.quality = QualityFeedback
	case QualityFeedback, QualityGate, QualityBoth:
		n.quality = cfg.Quality
	default:
		return conf.Errorf(conf.Join(path, "quality"), "unknown quality source %q (want feedback, gate or both)", cfg.Quality)
	}
	if cfg.Gates != nil && !bytes.Equal(bytes.TrimSpace(cfg.Gates), []byte("null")) {
		if n.quality == QualityFeedback {
			return conf.Errorf(conf.Join(path, "gates"), "gates score answers for quality gate or both; quality is feedback")
		}
		n.gatesPath = conf.Join(path, "gates")
		g, err := gate.Build(b, n.gatesPath, cfg.Gates)
		if err != nil {
			return err
		}
		n.gate = g
	}
	n.scale = bandit.Scale{Min: 0, Max: 1}
	if f := cfg.Feedback; f != nil {
		if f.Min != nil {
			n.scale.Min = *f.Min
		}
		if f.Max != nil {
			n.scale.Max = *f.Max
		}
		if !(n.scale.Max > n.scale.Min) {
			return conf.Errorf(conf.Join(path, "feedback"), "max (%v) must be greater than min (%v)", n.scale.Max, n.scale.Min)
		}
	}
	share, window, minPulls := defaultMaxShare, defaultWindow, 0
	if e := cfg.Explore; e != nil {
		ep := conf.Join(path, "explore")
		if e.MaxShare != nil {
			if share = *e.MaxShare; !(share >= 0 && share <= 1) {
				return conf.Errorf(conf.Join(ep, "max_share"), "must be in [0,1], got %v", share)
			}
		}
		if e.Window != nil {
			if window = *e.Window; window < 1 || window > 100000 {
				return conf.Errorf(conf.Join(ep, "window"), "must be in [1,100000], got %d", window)
			}
		}
		if e.MinPulls != nil {
			if minPulls = *e.MinPulls; minPulls < 0 || minPulls > 1000000 {
				return conf.Errorf(conf.Join(ep, "min_pulls"), "must be in [0,1000000], got %d", minPulls)
			}
		}
	}
	lim, err := bandit.NewLimiter(share, window)
	if err != nil {
		return conf.Errorf(conf.Join(path, "explore"), "%v", err)
	}
	n.limiter, n.minPulls = lim, float64(minPulls)
	if cfg.Seed != nil {
		if *cfg.Seed < 0 {
			return conf.Errorf(conf.Join(path, "seed"), "must not be negative")
		}
		n.seed = uint64(*cfg.Seed)
	}
	fs, err := parseFeatures(b, conf.Join(path, "features"), cfg.Features)
	if err != nil {
		return err
	}
	n.feats = fs
	n.layout = bandit.Layout{D: fs.dim}
	return nil
}

// configurePrior reads prior: into each arm's prior reward.
func (n *Node) configurePrior(b policy.Builder, path string, p *priorConfig) error {
	if p == nil {
		return nil
	}
	pp := conf.Join(path, "prior")
	n.priorWeight = defaultWeight
	if p.Weight != nil {
		if w := *p.Weight; !(w >= 0 && w <= 1e6) {
			return conf.Errorf(conf.Join(pp, "weight"), "must be in [0,1e6], got %v", w)
		}
		n.priorWeight = *p.Weight
	}
	if p.Arms == nil && p.Eval == "" {
		return conf.Errorf(pp, "give arms: {ARM: {quality: Q}} or eval: FILE")
	}
	if p.Eval != "" {
		ep := conf.Join(pp, "eval")
		found, err := priorFromEval(b.Path(p.Eval), n.armNames())
		if err != nil {
			return conf.Errorf(ep, "%v", err)
		}
		if len(found) == 0 {
			return conf.Errorf(ep, "no arm (%v) is a model or route of %s", n.armNames(), p.Eval)
		}
		for _, a := range n.arms {
			if e, ok := found[a.name]; ok {
				r := n.reward.Of(e.quality, e.costUSD, e.latencyS)
				a.prior = &r
			}
		}
	}
	for name, pa := range p.Arms {
		ap := conf.Join(conf.Join(pp, "arms"), name)
		a := n.arm(name)
		if a == nil {
			return conf.Errorf(ap, "no arm is named %q (arms: %v)", name, n.armNames())
		}
		if pa.Quality == nil || !(*pa.Quality >= 0 && *pa.Quality <= 1) {
			return conf.Errorf(conf.Join(ap, "quality"), "required, in [0,1]")
		}
		if !(pa.Cost >= 0 && pa.Cost <= 1e6) {
			return conf.Errorf(conf.Join(ap, "cost"), "must be a non-negative number of US dollars per request")
		}
		if !(pa.Latency >= 0 && pa.Latency <= 1e6) {
			return conf.Errorf(conf.Join(ap, "latency"), "must be a non-negative number of seconds")
		}
		r := n.reward.Of(*pa.Quality, pa.Cost, pa.Latency)
		a.prior = &r
	}
	return nil
}

func (n *Node) armNames() []string {
	out := make([]string, len(n.arms))
	for i, a := range n.arms {
		out[i] = a.name
	}
	return out
}

func (n *Node) arm(name string) *arm {
	for _, a := range n.arms {
		if a.name == name {
			return a
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
