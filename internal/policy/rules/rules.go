package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register(Kind, New) }

// Kind is the node kind's name in config.
const Kind = "rules"

// DefaultCostLimit is the CEL cost budget of one rule's evaluation when
// the config sets none. A regex match over a 1 MB prompt costs about
// 25,000 per pattern character, so the default leaves room for ordinary
// rules on huge prompts while stopping runaway comprehensions.
const DefaultCostLimit = 10_000_000

type config struct {
	Rules     []json.RawMessage `json:"rules"`
	Default   json.RawMessage   `json:"default"`
	Timezone  string            `json:"timezone"`
	CostLimit *uint64           `json:"cost_limit"`
}

type ruleConfig struct {
	Name  string          `json:"name"`
	When  string          `json:"when"`
	Route json.RawMessage `json:"route"`
}

// Node routes a request to the subtree of the first rule whose condition
// holds, or to its default. It is immutable after New and safe for
// concurrent use.
type Node struct {
	path  string
	rules []rule
	def   target
	loc   *time.Location
	conv  types.Adapter
}

type rule struct {
	name, when string
	prg        cel.Program
	to         target
}

// target is a subtree with what the trace says about it.
type target struct {
	node policy.Node
	path string // config path of the subtree
	desc string // a model name, or the kind of the subtree
}

// New builds a rules node from its config block raw, found at path.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("rules: building the CEL environment: %w", err)
	}
	n := &Node{path: path, loc: time.UTC, conv: e.CELTypeAdapter()}
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, conf.Errorf(conf.Join(path, "timezone"), "unknown time zone %q (use an IANA name such as \"Europe/Berlin\")", cfg.Timezone)
		}
		n.loc = loc
	}
	costLimit := uint64(DefaultCostLimit)
	if cfg.CostLimit != nil {
		if *cfg.CostLimit == 0 {
			return nil, conf.Errorf(conf.Join(path, "cost_limit"), "must be positive")
		}
		costLimit = *cfg.CostLimit
	}
	rulesPath := conf.Join(path, "rules")
	if len(cfg.Rules) == 0 {
		return nil, conf.Errorf(rulesPath, "at least one rule is required")
	}
	seen := make(map[string]string, len(cfg.Rules))
	for i, raw := range cfg.Rules {
		at := conf.Index(rulesPath, i)
		var rc ruleConfig
		if err := conf.Decode(at, raw, &rc); err != nil {
			return nil, err
		}
		if rc.Name == "" {
			rc.Name = "rules[" + strconv.Itoa(i) + "]"
		}
		if prev, dup := seen[rc.Name]; dup {
			return nil, conf.Errorf(conf.Join(at, "name"), "duplicate rule name %q (also at %s)", rc.Name, prev)
		}
		seen[rc.Name] = at
		if rc.When == "" {
			return nil, conf.Errorf(conf.Join(at, "when"), "required: a CEL condition such as 'request.tokens > 1500'")
		}
		prg, err := compile(e, rc.When, costLimit)
		if err != nil {
			return nil, conf.Errorf(conf.Join(at, "when"), "%v", err)
		}
		to, err := build(b, conf.Join(at, "route"), rc.Route)
		if err != nil {
			return nil, err
		}
		n.rules = append(n.rules, rule{name: rc.Name, when: rc.When, prg: prg, to: to})
	}
	def, err := build(b, conf.Join(path, "default"), cfg.Default)
	if err != nil {
		return nil, err
	}
	n.def = def
	return n, nil
}

func build(b policy.Builder, path string, raw json.RawMessage) (target, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return target{}, conf.Errorf(path, "required: a model name or a subtree such as {fallback: [a, b]}")
	}
	node, err := b.Build(path, raw)
	if err != nil {
		return target{}, err
	}
	return target{node: node, path: path, desc: policy.Describe(raw)}, nil
}

// Serve evaluates the rules in order and delegates to the first match, or
// to the default. A rule whose evaluation fails (a missing map key, a type
// error at run time, the cost limit) counts as not matching; the error is
// recorded in the trace decision's data under "errors".
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	v := &vars{c: c, loc: n.loc, conv: n.conv}
	var errs []string
	for i := range n.rules {
		r := &n.rules[i]
		ok, err := r.match(v)
		if err != nil {
			errs = append(errs, r.name+": "+err.Error())
			continue
		}
		if ok {
			n.decide(c, r.name, r.to, "matched: "+r.when, errs)
			return r.to.node.Serve(ctx, c)
		}
	}
	n.decide(c, "default", n.def, "no rule matched; default", errs)
	return n.def.node.Serve(ctx, c)
}

func (r *rule) match(v *vars) (bool, error) {
	out, _, err := r.prg.Eval(v)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("evaluated to %s, not a boolean", out.Type().TypeName())
	}
	return bool(b), nil
}

func (n *Node) decide(c *policy.Call, name string, to target, reason string, errs []string) {
	d := trace.Decision{Node: n.path, Kind: Kind, Decision: name + " -> " + to.desc, Reason: reason}
	if len(errs) > 0 {
		d.Data = map[string]any{"errors": errs}
	}
	c.Trace.Decide(d)
}

var _ policy.Node = (*Node)(nil)
