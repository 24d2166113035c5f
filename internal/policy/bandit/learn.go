package bandit

import (
	"strings"

	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

// statusCanceled is the status of a request whose client went away.
const statusCanceled = 499

// Finished learns from a finished request when its reward is known now:
// a failed request (status ≥ 400 other than 499) has quality 0 whatever
// the quality source; with quality gate or both, the gate score of the
// answer. With quality feedback it does nothing and keeps nothing: the
// feedback recomputes everything from the decision.
func (n *Node) Finished(d *store.Decision) {
	a, x, ok := n.decision(d)
	if !ok {
		return
	}
	if r, ok := n.baseline(d, a); ok {
		a.stats.Add(n.layout.Observe(nil, x, r))
		a.version.Add(1)
	}
}

// Feedback learns from a feedback score. The request's first score adds
// an observation, unless Finished already counted one (quality both, or a
// failed request), whose reward it then replaces; a later score replaces
// the reward of the previous one. With quality gate, feedback is ignored,
// and so is feedback on a request the client cancelled (it teaches
// nothing).
func (n *Node) Feedback(d *store.Decision, score float64, previous *float64) {
	if n.quality == QualityGate || d == nil || d.Status == statusCanceled {
		return
	}
	a, x, ok := n.decision(d)
	if !ok {
		return
	}
	r := n.rewardOf(d, n.scale.Map(score))
	switch old, counted := n.baseline(d, a); {
	case previous != nil:
		a.stats.Add(n.layout.Replace(nil, x, n.rewardOf(d, n.scale.Map(*previous)), r))
	case counted:
		a.stats.Add(n.layout.Replace(nil, x, old, r))
	default:
		a.stats.Add(n.layout.Observe(nil, x, r))
	}
	a.version.Add(1)
}

// rewardOf is the reward of d's answer at quality q.
func (n *Node) rewardOf(d *store.Decision, q float64) float64 {
	return n.reward.Of(q, d.CostMicros.USD(), d.LatencyMS/1000)
}

// baseline returns the reward Finished counts for d on arm a, if any. It
// depends on d alone, so Feedback recomputes it after a restart.
func (n *Node) baseline(d *store.Decision, a *arm) (float64, bool) {
	switch {
	case d.Status == statusCanceled:
		return 0, false
	case d.Status >= 400:
		return n.rewardOf(d, 0), true
	case n.quality == QualityFeedback:
		return 0, false
	}
	q, ok := n.gateScore(d.Trace, a)
	if !ok {
		return 0, false
	}
	return n.rewardOf(d, q), true
}

// gateScore returns the score of the last top-level gate verdict that
// judged a's answer: the node's own gates' when it has gates, else the
// last one recorded inside a's subtree (a cascade's accepted tier).
// Skipped verdicts do not count.
func (n *Node) gateScore(v trace.View, a *arm) (float64, bool) {
	for i := len(v.Decisions) - 1; i >= 0; i-- {
		dec := &v.Decisions[i]
		if dec.Kind != gate.DecisionKind || dec.Decision == "skip" {
			continue
		}
		if _, child := dec.Data["parent"]; child {
			continue
		}
		if n.gate != nil {
			if dec.Node != n.gatesPath {
				continue
			}
		} else if !under(dec.Node, a.path) {
			continue
		}
		if s, ok := dec.Data["score"].(float64); ok {
			return clamp01(s), true
		}
	}
	return 0, false
}

// under reports whether node is path or inside it.
func under(node, path string) bool {
	if !strings.HasPrefix(node, path) {
		return false
	}
	rest := node[len(path):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// decision finds this node's decision in d's trace (the last one, when it
// decided more than once) and returns its arm and context. It is false
// when there is none, or the arm or the feature shape changed since.
func (n *Node) decision(d *store.Decision) (*arm, []float64, bool) {
	if d == nil {
		return nil, nil, false
	}
	for i := len(d.Trace.Decisions) - 1; i >= 0; i-- {
		dec := &d.Trace.Decisions[i]
		if dec.Kind != Kind || dec.Node != n.path {
			continue
		}
		if id, _ := dec.Data[learning.DataKey].(string); id != n.id {
			continue
		}
		name, _ := dec.Data["arm"].(string)
		a := n.arm(name)
		x, ok := floats(dec.Data["x"])
		if a == nil || !ok || len(x) != n.feats.dim {
			return nil, nil, false
		}
		return a, x, true
	}
	return nil, nil, false
}

// floats reads a vector from trace data: []float64 in process, []any of
// float64 when read back from the decision log.
func floats(v any) ([]float64, bool) {
	switch v := v.(type) {
	case []float64:
		return v, true
	case []any:
		out := make([]float64, len(v))
		for i, e := range v {
			f, ok := e.(float64)
			if !ok {
				return nil, false
			}
			out[i] = f
		}
		return out, true
	}
	return nil, false
}
