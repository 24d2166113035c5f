// Package learning routes what happens after a request to the policy
// nodes that learn from it: the bandit and split kinds.
//
// # What it does
//
// A learning node registers itself under an id (Register) when it is
// built, and writes that id into the Data of its trace decision under the
// key "learner" when it serves a request. Two events then reach it:
//
//   - Finished: the engine finished the request (the gateway wires an
//     engine observer to Registry.Finished). The decision record carries
//     the exact cost over every attempt, the latency, the status and the
//     whole trace (the node's own decision with its features, gate
//     verdicts under its arm).
//   - Feedback: a score arrived through POST /v1/feedback for the
//     request (the gateway calls Registry.Feedback after storing it), or
//     `sextant eval` replays a record's recorded quality. The decision is
//     read back from the decision log, so feedback joins by request id
//     even after a restart or on another replica.
//
// Each event goes to every registered learner whose id appears in the
// trace, once per learner even when its node decided several times.
//
// # Contract
//
// Learners must be safe for concurrent use and must not block: Finished
// runs on the request's goroutine after the answer was written. A node
// offers itself under its id when built (Offer) and claims the id when it
// serves (Claim): a rebuilt node (an accepted reload) takes over from the
// old one with its first request, and its statistics carry over when it
// keeps them under a stable key; a node built by a rejected reload never
// receives events. Registry methods are safe for concurrent use.
package learning

import (
	"github.com/sextant-router/sextant/internal/claim"
	"github.com/sextant-router/sextant/internal/store"
)

// DataKey is the key of a trace decision's Data that names the learner.
const DataKey = "learner"

// Learner learns from finished requests and their feedback.
type Learner interface {
	// Finished is called once per finished request whose trace names the
	// learner. d is shared and read-only.
	Finished(d *store.Decision)
	// Feedback is called when a score arrives for a request whose trace
	// names the learner. previous is the score given to the same request
	// before this one (the latest), nil when this is the first, so a
	// learner can replace a reward rather than count the request twice.
	Feedback(d *store.Decision, score float64, previous *float64)
}

// Registry maps learner ids to learners; its Offer, Claim, Register,
// Unregister and Lookup are package claim's.
type Registry struct {
	claim.Registry[Learner]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Default is the process-wide registry that nodes register with and the
// gateway and eval dispatch to.
var Default = NewRegistry()

// Finished tells every learner named in d's trace that d finished.
func (r *Registry) Finished(d *store.Decision) {
	for _, l := range r.named(d) {
		l.Finished(d)
	}
}

// Feedback tells every learner named in d's trace that score arrived;
// previous is the request's latest earlier score, nil for none.
func (r *Registry) Feedback(d *store.Decision, score float64, previous *float64) {
	for _, l := range r.named(d) {
		l.Feedback(d, score, previous)
	}
}

// named returns the registered learners whose ids appear in d's trace
// decisions, each once, in trace order.
func (r *Registry) named(d *store.Decision) []Learner {
	if d == nil {
		return nil
	}
	var out []Learner
	var seen map[string]bool
	for _, dec := range d.Trace.Decisions {
		id, _ := dec.Data[DataKey].(string)
		if id == "" || seen[id] {
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[id] = true
		if l, ok := r.Lookup(id); ok {
			out = append(out, l)
		}
	}
	return out
}
