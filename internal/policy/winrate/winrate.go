package winrate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	cls "github.com/sextant-router/sextant/internal/classify"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() {
	policy.Register("winrate", New)
	// Offline evaluation interpolates between sweep points, and a win-rate
	// model's predictions crowd into part of [0,1], so the default sweep
	// is fine: 101 points, 0.01 apart.
	knob.Register("winrate", knob.Spec{Field: "threshold", Min: 0, Max: 1, Default: knob.Range(0, 1, 101)})
}

// DefaultThreshold is the threshold when the config leaves it out.
const DefaultThreshold = 0.5

// Node routes each request to the cheapest candidate predicted to answer
// it well enough. It is immutable after New.
type Node struct {
	path      string
	model     *cls.Learned
	threshold float64
	// cands are ordered by price, cheapest first; the last is the
	// strongest, which serves when no cheaper candidate qualifies.
	cands []candidate
}

type candidate struct {
	model string // catalog name
	label string // the model file's label, "" when none (the strongest only)
	index int    // label's index in the model's labels, -1 when none
	price catalog.Rate
	node  policy.Node
}

type config struct {
	Model      json.RawMessage   `json:"model"`
	Candidates []json.RawMessage `json:"candidates"`
	Threshold  *float64          `json:"threshold"`
}

type candidateConfig struct {
	Model string          `json:"model"`
	Label string          `json:"label"`
	Route json.RawMessage `json:"route"`
}

// New builds a winrate node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	modelPath := conf.Join(path, "model")
	if cfg.Model == nil {
		return nil, conf.Errorf(modelPath, "required: a winrate model file (or builtin:NAME)")
	}
	lc, err := cls.DecodeLearned(modelPath, cfg.Model)
	if err != nil {
		return nil, err
	}
	l, err := cls.LoadLearned(b, modelPath, lc, learn.KindWinrate)
	if err != nil {
		return nil, err
	}
	n := &Node{path: path, model: l, threshold: DefaultThreshold}
	if v := cfg.Threshold; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return nil, conf.Errorf(conf.Join(path, "threshold"), "must be in [0,1], got %v", *v)
		}
		n.threshold = *v
	}
	candsPath := conf.Join(path, "candidates")
	if len(cfg.Candidates) < 2 {
		return nil, conf.Errorf(candsPath, "at least two candidate models are needed, got %d", len(cfg.Candidates))
	}
	paths := make([]string, len(cfg.Candidates))
	for i, raw := range cfg.Candidates {
		p := conf.Index(candsPath, i)
		paths[i] = p
		cc := candidateConfig{}
		routePath := p
		if json.Unmarshal(raw, &cc.Model) != nil {
			if err := conf.Decode(p, raw, &cc); err != nil {
				return nil, err
			}
			if cc.Model == "" {
				return nil, conf.Errorf(conf.Join(p, "model"), "required: the catalog model this candidate is")
			}
			routePath = conf.Join(p, "route")
		}
		m, ok := b.Model(cc.Model)
		if !ok {
			return nil, conf.Errorf(p, "unknown model %q", cc.Model)
		}
		for _, o := range n.cands {
			if o.model == cc.Model {
				return nil, conf.Errorf(p, "model %q is a candidate twice", cc.Model)
			}
		}
		route := cc.Route
		if route == nil {
			route = json.RawMessage(fmt.Appendf(nil, "%q", cc.Model))
		}
		node, err := b.Build(routePath, route)
		if err != nil {
			return nil, err
		}
		n.cands = append(n.cands, candidate{model: cc.Model, label: cc.Label, index: -1,
			price: m.Price.Input + m.Price.Output, node: node})
	}
	// Cheapest first; equal prices keep config order.
	order := make([]int, len(n.cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return n.cands[order[a]].price < n.cands[order[b]].price })
	sorted := make([]candidate, len(n.cands))
	sortedPaths := make([]string, len(n.cands))
	for i, j := range order {
		sorted[i], sortedPaths[i] = n.cands[j], paths[j]
	}
	n.cands = sorted
	labels := l.Labels()
	for i := range n.cands {
		c := &n.cands[i]
		strongest := i == len(n.cands)-1
		if c.label != "" {
			if c.index = slices.Index(labels, c.label); c.index < 0 {
				return nil, conf.Errorf(conf.Join(sortedPaths[i], "label"), "%q is not a label of %s (labels: %s)",
					c.label, l.Name(), strings.Join(labels, ", "))
			}
			continue
		}
		m, _ := b.Model(c.model)
		for _, name := range []string{c.model, m.Upstream} {
			if j := slices.Index(labels, name); name != "" && j >= 0 {
				c.label, c.index = name, j
				break
			}
		}
		if c.index < 0 && !strongest {
			return nil, conf.Errorf(sortedPaths[i], "model %q (upstream %q) is not a label of %s (labels: %s); set label",
				c.model, m.Upstream, l.Name(), strings.Join(labels, ", "))
		}
	}
	return n, nil
}

// Serve predicts each candidate's chance of a good answer and serves the
// request with the cheapest whose chance clears the threshold, else with
// the strongest.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	probs, err := n.model.Predict(ctx, c)
	strongest := len(n.cands) - 1
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s := n.cands[strongest]
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "winrate", Decision: s.model,
			Reason: "no prediction, so the strongest: " + err.Error(),
			Data:   map[string]any{"model": n.model.Name(), "threshold": n.threshold, "chosen": s.model}})
		return s.node.Serve(ctx, c)
	}
	i, reason := n.choose(probs)
	chosen := n.cands[i]
	cands := make([]map[string]any, len(n.cands))
	for j, cd := range n.cands {
		e := map[string]any{"model": cd.model, "price_per_mtok": cd.price.USD()}
		if cd.index >= 0 {
			e["label"], e["p"] = cd.label, probs[cd.index]
		}
		cands[j] = e
	}
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "winrate", Decision: chosen.model, Reason: reason,
		Data: map[string]any{"model": n.model.Name(), "threshold": n.threshold, "chosen": chosen.model, "candidates": cands}})
	return chosen.node.Serve(ctx, c)
}

// choose returns the index of the cheapest candidate whose probability is
// at least the threshold (the strongest when none is), and why.
func (n *Node) choose(probs []float64) (int, string) {
	last := len(n.cands) - 1
	for i, cd := range n.cands[:last] {
		if p := probs[cd.index]; p >= n.threshold {
			return i, fmt.Sprintf("%s p=%.3f >= threshold %v (cheapest that qualifies)", cd.model, p, n.threshold)
		}
	}
	var sb strings.Builder
	for i, cd := range n.cands[:last] {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s p=%.3f", cd.model, probs[cd.index])
	}
	return last, fmt.Sprintf("no cheaper candidate reaches threshold %v (%s), so the strongest, %s", n.threshold, sb.String(), n.cands[last].model)
}

var _ policy.Node = (*Node)(nil)
