package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Combination rules.
const (
	RuleAll      = "all"
	RuleAny      = "any"
	RuleWeighted = "weighted"
)

func init() {
	Register(RuleAll, func(b policy.Builder, path string, raw json.RawMessage) (Gate, error) {
		return newCombination(b, path, RuleAll, raw)
	})
	Register(RuleAny, func(b policy.Builder, path string, raw json.RawMessage) (Gate, error) {
		return newCombination(b, path, RuleAny, raw)
	})
	Register(RuleWeighted, func(b policy.Builder, path string, raw json.RawMessage) (Gate, error) {
		return newCombination(b, path, RuleWeighted, raw)
	})
}

// Combination judges an answer with several gates: all must pass, any
// must pass, or their weighted mean score must reach a threshold. Its
// verdict's Score is the weighted mean of the scores of the children that
// judged (not skipped), and its Verdicts are the children's verdicts.
type Combination struct {
	Base
	rule         string
	shortCircuit bool
	children     []child
}

type child struct {
	path   string
	gate   Gate
	weight float64
}

type listConfig struct {
	Name         string            `json:"name"`
	Gates        []json.RawMessage `json:"gates"`
	ShortCircuit *bool             `json:"short_circuit"`
}

type weightedConfig struct {
	Common
	Gates []weightedEntry `json:"gates"`
}

type weightedEntry struct {
	Gate   json.RawMessage `json:"gate"`
	Weight *float64        `json:"weight"`
}

// DefaultWeightedThreshold is a weighted combination's threshold when none
// is configured.
const DefaultWeightedThreshold = 0.5

func newCombination(b policy.Builder, path, rule string, raw json.RawMessage) (Gate, error) {
	c := &Combination{rule: rule, shortCircuit: rule != RuleWeighted}
	raw = bytes.TrimSpace(raw)
	if rule == RuleWeighted {
		var cfg weightedConfig
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		base, err := cfg.Common.Base(path, rule, DefaultWeightedThreshold)
		if err != nil {
			return nil, err
		}
		c.Base = base
		gp := conf.Join(path, "gates")
		if len(cfg.Gates) == 0 {
			return nil, conf.Errorf(gp, "required: a list of {gate: ..., weight: ...}")
		}
		total := 0.0
		for i, e := range cfg.Gates {
			p := conf.Index(gp, i)
			w := 1.0
			if e.Weight != nil {
				w = *e.Weight
			}
			if !(w >= 0 && w <= 1e6) {
				return nil, conf.Errorf(conf.Join(p, "weight"), "must be a number in [0,1e6], got %v", w)
			}
			total += w
			g, err := build(b, conf.Join(p, "gate"), e.Gate)
			if err != nil {
				return nil, err
			}
			c.children = append(c.children, child{path: conf.Join(p, "gate"), gate: g, weight: w})
		}
		if total <= 0 {
			return nil, conf.Errorf(gp, "at least one gate needs a positive weight")
		}
		return c, nil
	}
	var cfg listConfig
	if len(raw) > 0 && raw[0] == '[' {
		if err := conf.Decode(path, raw, &cfg.Gates); err != nil {
			return nil, err
		}
	} else if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := Common{Name: cfg.Name}.Base(path, rule, 0)
	if err != nil {
		return nil, err
	}
	c.Base = base
	c.Base.thr = nil // all and any have no threshold of their own
	if cfg.ShortCircuit != nil {
		c.shortCircuit = *cfg.ShortCircuit
	}
	gp := path
	if len(raw) > 0 && raw[0] == '{' {
		gp = conf.Join(path, "gates")
	}
	if len(cfg.Gates) == 0 {
		return nil, conf.Errorf(gp, "required: a non-empty list of gates")
	}
	for i, r := range cfg.Gates {
		p := conf.Index(gp, i)
		g, err := build(b, p, r)
		if err != nil {
			return nil, err
		}
		c.children = append(c.children, child{path: p, gate: g, weight: 1})
	}
	return c, nil
}

// Rule returns "all", "any" or "weighted".
func (c *Combination) Rule() string { return c.rule }

// Gates returns the children in config order.
func (c *Combination) Gates() []Gate {
	out := make([]Gate, len(c.children))
	for i, ch := range c.children {
		out[i] = ch.gate
	}
	return out
}

// Prepare lets every child prepare the request in turn.
func (c *Combination) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	for _, ch := range c.children {
		req = Prepare(ch.gate, m, req)
	}
	return req
}

// Check runs the children in config order. all stops at the first child
// that fails and any at the first that passes (unless short_circuit is
// false); the children not run are reported as skipped. A child's error is
// its failed verdict (see Run); Check returns an error only when ctx ends.
func (c *Combination) Check(ctx context.Context, call *policy.Call, a *Answer) (Verdict, error) {
	vs := make([]Verdict, len(c.children))
	decidedBy := -1
	for i, ch := range c.children {
		if decidedBy >= 0 {
			vs[i] = Verdict{Gate: ch.gate.Name(), Skipped: true, Reason: "not run: " + c.children[decidedBy].gate.Name() + " decided"}
			continue
		}
		if err := ctx.Err(); err != nil {
			return Verdict{}, err
		}
		vs[i] = Run(ctx, call, ch.gate, a)
		if err := ctx.Err(); err != nil {
			return Verdict{}, err
		}
		if c.shortCircuit && !vs[i].Skipped &&
			((c.rule == RuleAll && !vs[i].Pass) || (c.rule == RuleAny && vs[i].Pass)) {
			decidedBy = i
		}
	}
	return c.combine(call, vs), nil
}

// combine computes the combination's verdict from its children's.
func (c *Combination) combine(call *policy.Call, vs []Verdict) Verdict {
	var sum, wsum float64
	judged, passed := 0, 0
	var failed, ok []string
	for i, v := range vs {
		if v.Skipped {
			continue
		}
		judged++
		w := c.children[i].weight
		sum += w * v.Score
		wsum += w
		if v.Pass {
			passed++
			ok = append(ok, v.Gate)
		} else {
			failed = append(failed, v.Gate+" ("+v.Reason+")")
		}
	}
	out := Verdict{Gate: c.name, Rule: c.rule, Verdicts: vs}
	if c.rule == RuleWeighted {
		out.Threshold = c.thr.For(call)
	}
	if judged == 0 || wsum == 0 {
		out.Skipped = true
		out.Reason = "no gate could judge the answer"
		return out
	}
	out.Score = clamp01(sum / wsum)
	switch c.rule {
	case RuleAll:
		out.Pass = passed == judged
		if out.Pass {
			out.Reason = fmt.Sprintf("all %d passed", passed)
		} else {
			out.Reason = "failed: " + strings.Join(failed, "; ")
		}
	case RuleAny:
		out.Pass = passed > 0
		if out.Pass {
			out.Reason = "passed: " + strings.Join(ok, ", ")
		} else {
			out.Reason = fmt.Sprintf("none of %d passed", judged)
		}
	default:
		out.Pass = out.Score >= out.Threshold
		cmp := ">="
		if !out.Pass {
			cmp = "<"
		}
		out.Reason = fmt.Sprintf("weighted score %.3f %s %.3g over %d gates", out.Score, cmp, out.Threshold, judged)
	}
	return out
}

var (
	_ Gate     = (*Combination)(nil)
	_ Preparer = (*Combination)(nil)
)
