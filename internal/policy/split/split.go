package split

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/experiment"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() {
	policy.Register("split", New)
	knob.Register("split", knob.Spec{Field: "share", Min: 0, Max: 1, Default: knob.Range(0, 1, 11), SeedField: "seed"})
}

// Key kinds.
const (
	KeyRequest = "request"
	KeyUser    = "user"
	KeySession = "session"
)

// Node assigns each request to one arm. It is immutable after New.
type Node struct {
	path string
	key  string
	seed uint64
	arms []arm

	// The experiment: see experiment.go.
	name    string // experiment name
	route   string // the route it sits in, "" when unknown
	learner string // learning id, "split:"+name
	rollout *rollout
	promote *experiment.Rule
	exp     *state
}

type arm struct {
	name string
	node policy.Node
	// path is the config path of the arm's subtree: gate verdicts at or
	// below it count for the arm.
	path   string
	weight float64
	stats  *tally.Vector
	// upper is the arm's cumulative share: it takes buckets in
	// [previous upper, upper).
	upper float64
}

type config struct {
	Key   string          `json:"key"`
	Seed  *int64          `json:"seed"`
	Share *float64        `json:"share"`
	A     json.RawMessage `json:"a"`
	B     json.RawMessage `json:"b"`
	Arms  []armConfig     `json:"arms"`

	Name    string         `json:"name"`
	Rollout *rolloutConfig `json:"rollout"`
	Promote *promoteConfig `json:"promote"`
}

type armConfig struct {
	Name   string          `json:"name"`
	Route  json.RawMessage `json:"route"`
	Weight *float64        `json:"weight"`
}

// New builds a split node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{path: path, key: cfg.Key}
	switch n.key {
	case "":
		n.key = KeyRequest
	case KeyRequest, KeyUser, KeySession:
	default:
		return nil, conf.Errorf(conf.Join(path, "key"), "unknown key %q (want request, user or session)", cfg.Key)
	}
	if cfg.Seed != nil {
		if *cfg.Seed < 0 {
			return nil, conf.Errorf(conf.Join(path, "seed"), "must not be negative")
		}
		n.seed = uint64(*cfg.Seed)
	}
	short := cfg.Share != nil || cfg.A != nil || cfg.B != nil
	switch {
	case short && cfg.Arms != nil:
		return nil, conf.Errorf(path, "use either share/a/b or arms, not both")
	case short:
		if cfg.Share == nil {
			return nil, conf.Errorf(conf.Join(path, "share"), "required with a and b: the share of traffic sent to a")
		}
		if s := *cfg.Share; !(s >= 0 && s <= 1) {
			return nil, conf.Errorf(conf.Join(path, "share"), "must be in [0,1], got %v", s)
		}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
		}{{"a", cfg.A}, {"b", cfg.B}} {
			if f.raw == nil {
				return nil, conf.Errorf(conf.Join(path, f.name), "required: the subtree of arm %s", f.name)
			}
			node, err := b.Build(conf.Join(path, f.name), f.raw)
			if err != nil {
				return nil, err
			}
			n.arms = append(n.arms, arm{name: f.name, node: node, path: conf.Join(path, f.name)})
		}
		n.arms[0].upper, n.arms[1].upper = *cfg.Share, 1
		n.arms[0].weight, n.arms[1].weight = *cfg.Share, 1-*cfg.Share
		return n, n.setupExperiment(path, &cfg)
	}
	armsPath := conf.Join(path, "arms")
	if len(cfg.Arms) == 0 {
		return nil, conf.Errorf(path, "either share with a and b, or a list of arms, is required")
	}
	weights := make([]float64, len(cfg.Arms))
	total := 0.0
	seen := map[string]bool{}
	for i, a := range cfg.Arms {
		p := conf.Index(armsPath, i)
		w := 1.0
		if a.Weight != nil {
			w = *a.Weight
		}
		if !(w >= 0 && w <= 1e9) {
			return nil, conf.Errorf(conf.Join(p, "weight"), "must be a number in [0,1e9], got %v", w)
		}
		weights[i], total = w, total+w
		name := a.Name
		if name == "" {
			name = "arms[" + strconv.Itoa(i) + "]"
		}
		if seen[name] {
			return nil, conf.Errorf(conf.Join(p, "name"), "duplicate arm name %q", name)
		}
		seen[name] = true
		if a.Route == nil {
			return nil, conf.Errorf(conf.Join(p, "route"), "required: the arm's subtree")
		}
		node, err := b.Build(conf.Join(p, "route"), a.Route)
		if err != nil {
			return nil, err
		}
		n.arms = append(n.arms, arm{name: name, node: node, path: conf.Join(p, "route"), weight: w})
	}
	if total <= 0 {
		return nil, conf.Errorf(armsPath, "at least one arm needs a positive weight")
	}
	cum := 0.0
	for i := range n.arms {
		cum += weights[i]
		n.arms[i].upper = cum / total
	}
	// The last arm with a positive weight takes every bucket up to 1, so
	// rounding never leaves a bucket unassigned.
	for i := len(n.arms) - 1; i >= 0; i-- {
		if weights[i] > 0 {
			n.arms[i].upper = math.Inf(1)
			break
		}
	}
	return n, n.setupExperiment(path, &cfg)
}

// Serve assigns the request to an arm and serves it there.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	learning.Default.Claim(n.learner, n)
	experiment.Default.Claim(n.name, n)
	h, keyKind := n.keyHash(c)
	bucket := h.bucket()
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	l := n.layout(now)
	i := l.pick(bucket, h.str("ramp").bucket(), n)
	a := n.arms[i]
	reason := fmt.Sprintf("%s bucket %.6f", keyKind, bucket)
	if keyKind != n.key {
		reason += fmt.Sprintf(" (no %s key)", n.key)
	}
	if l.promoted >= 0 {
		reason = "promoted: experiment " + n.name + " promoted arm " + a.name
	}
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "split", Decision: a.name, Reason: reason,
		Data: map[string]any{"arm": a.name, "arm_index": i, "bucket": bucket, "key": keyKind,
			"experiment": n.name, "share": l.share(i, n), learning.DataKey: n.learner}})
	return a.node.Serve(ctx, c)
}

// pick returns the arm whose range holds bucket.
func (n *Node) pick(bucket float64) int {
	for i, a := range n.arms {
		if bucket < a.upper {
			return i
		}
	}
	return len(n.arms) - 1
}

// Bucket returns the request's bucket in [0,1) and the key kind hashed:
// the configured one, or "request" when the configured key is absent.
func (n *Node) Bucket(c *policy.Call) (float64, string) {
	h, kind := n.keyHash(c)
	return h.bucket(), kind
}

// keyHash hashes the request's key.
func (n *Node) keyHash(c *policy.Call) (hash, string) {
	h := newHash(n.seed)
	switch n.key {
	case KeyUser:
		if u := userKey(c); u != "" {
			return h.str(u), KeyUser
		}
	case KeySession:
		if s := c.Caller.Session; s != "" {
			return h.str(s), KeySession
		}
	}
	return h.request(c), KeyRequest
}

func userKey(c *policy.Call) string {
	if c.Request != nil && c.Request.User != "" {
		return c.Request.User
	}
	return c.Caller.Key
}

var _ policy.Node = (*Node)(nil)
