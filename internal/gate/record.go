package gate

import (
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// DecisionKind is the trace kind of every gate decision.
const DecisionKind = "gate"

// Record writes v into c's trace as decisions of node (the config path of
// the cascade, race or tier that ran the gates): for a combination one
// decision per child first, depth first in config order, then one for the
// combination. Each decision is
//
//	Kind:     "gate"
//	Decision: "pass" | "fail" | "skip"
//	Reason:   the verdict's reason
//	Data:     {"gate": name, "score": s, "threshold": t,
//	           "metrics": {...} when the gate measured any,
//	           "rule": "all"|"any"|"weighted" for a combination,
//	           "parent": the enclosing combination's name, if any}
//
// all and any have no threshold of their own and record none.
func Record(c *policy.Call, node string, v Verdict) {
	if c == nil || c.Trace == nil {
		return
	}
	record(c.Trace, node, "", v)
}

func record(t *trace.Trace, node, parent string, v Verdict) {
	for _, ch := range v.Verdicts {
		record(t, node, v.Gate, ch)
	}
	data := map[string]any{"gate": v.Gate, "score": v.Score}
	if v.Rule != RuleAll && v.Rule != RuleAny {
		data["threshold"] = v.Threshold
	}
	if v.Rule != "" {
		data["rule"] = v.Rule
	}
	if len(v.Metrics) > 0 {
		data["metrics"] = v.Metrics
	}
	if parent != "" {
		data["parent"] = parent
	}
	t.Decide(trace.Decision{Node: node, Kind: DecisionKind, Decision: v.Outcome(), Reason: v.Reason, Data: data})
}
