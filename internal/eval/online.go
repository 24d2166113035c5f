package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/store"
)

// learnerKinds are the policy kinds that learn online (package learning):
// a route holding one anywhere in its tree, for which the function says
// the block learns, is evaluated as an online-learning simulation (see
// runOnline) rather than with records in parallel. A split learns only
// with a promote rule (its assignment is a pure hash otherwise).
var learnerKinds = map[string]func(block map[string]any) bool{
	"bandit": func(map[string]any) bool { return true },
	"split":  func(b map[string]any) bool { _, ok := b["promote"]; return ok },
}

// banditKinds are the learner kinds with the bandit's config shape (arms,
// lambda, mu, feedback {min, max}, seed, name): eval measures their regret
// against each arm alone and against the per-record oracle.
var banditKinds = map[string]bool{"bandit": true}

// namedKinds are the learner kinds that keep their statistics under their
// config's name: eval gives every run a fresh name so that each run (each
// sweep point, each seed) starts from nothing.
var namedKinds = map[string]bool{"bandit": true, "split": true}

// evalRuns numbers the online runs of the process, to name their learners.
var evalRuns atomic.Uint64

// step is one step of a path into a JSON tree: a member or an index.
type step struct {
	key   string
	index int // used when key is ""
}

// banditNode is the first bandit-shaped node of a route, as configured.
type banditNode struct {
	kind string
	// at is the path from the route's root to the node (the object
	// {kind: block}); where is its config path for messages.
	at    []step
	where string
	arms  []json.RawMessage
	// labels name the arms: the model name, or "arms[i] (kind)".
	labels []string
	// lambda, mu and the feedback range of the reward (see reward).
	lambda, mu float64
	fmin, fmax float64
}

// decodeTree decodes JSON keeping numbers exact.
func decodeTree(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// visitNodes calls f for every object {kind: block} in the tree whose
// single key is a learner kind, depth first, with the path to it.
func visitNodes(v any, at []step, f func(kind string, block any, at []step)) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, b := range t {
				if _, ok := learnerKinds[k]; ok {
					f(k, b, at)
				}
			}
		}
		for _, k := range sortedKeys(t) {
			visitNodes(t[k], append(at[:len(at):len(at)], step{key: k}), f)
		}
	case []any:
		for i, x := range t {
			visitNodes(x, append(at[:len(at):len(at)], step{index: i}), f)
		}
	}
}

// learns reports whether the route's tree holds a learning node.
func learns(route json.RawMessage) bool {
	if route == nil {
		return false
	}
	tree, err := decodeTree(route)
	if err != nil {
		return false
	}
	found := false
	visitNodes(tree, nil, func(kind string, block any, _ []step) {
		m, _ := block.(map[string]any)
		if m != nil && learnerKinds[kind](m) {
			found = true
		}
	})
	return found
}

// findBandit returns the route's first bandit-shaped node, nil when it has
// none. routeName names the route in the node's config path.
func findBandit(route json.RawMessage, routeName string) (*banditNode, error) {
	if route == nil {
		return nil, nil
	}
	tree, err := decodeTree(route)
	if err != nil {
		return nil, err
	}
	var out *banditNode
	var ferr error
	visitNodes(tree, nil, func(kind string, block any, at []step) {
		if out != nil || ferr != nil || !banditKinds[kind] {
			return
		}
		m, ok := block.(map[string]any)
		if !ok {
			return
		}
		where := pathText("routes."+routeName, at) + "." + kind
		b := &banditNode{kind: kind, at: append([]step(nil), at...), where: where, fmin: 0, fmax: 1}
		list, _ := m["arms"].([]any)
		for i, a := range list {
			label := armLabel(a, i)
			// The {name, route} form: the arm is its route.
			if m, ok := a.(map[string]any); ok && m["route"] != nil && (len(m) == 2 && m["name"] != nil || len(m) == 1) {
				if name, _ := m["name"].(string); name != "" {
					label = name
				} else {
					label = armLabel(m["route"], i)
				}
				a = m["route"]
			}
			raw, err := json.Marshal(a)
			if err != nil {
				ferr = err
				return
			}
			b.arms = append(b.arms, raw)
			b.labels = append(b.labels, label)
		}
		num := func(v any, name string, dst *float64) {
			if v == nil || ferr != nil {
				return
			}
			n, ok := v.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				ferr = fmt.Errorf("%s.%s: expected a number", where, name)
				return
			}
			*dst = f
		}
		num(m["lambda"], "lambda", &b.lambda)
		num(m["mu"], "mu", &b.mu)
		if fb, ok := m["feedback"].(map[string]any); ok {
			num(fb["min"], "feedback.min", &b.fmin)
			num(fb["max"], "feedback.max", &b.fmax)
		}
		if ferr == nil && !(b.fmax > b.fmin) {
			ferr = fmt.Errorf("%s.feedback: max must exceed min", where)
		}
		out = b
	})
	if ferr != nil {
		return nil, ferr
	}
	if out != nil && len(out.arms) == 0 {
		return nil, fmt.Errorf("%s.arms: a bandit needs arms", out.where)
	}
	return out, nil
}

func armLabel(a any, i int) string {
	if s, ok := a.(string); ok {
		return s
	}
	if m, ok := a.(map[string]any); ok && len(m) == 1 {
		for k := range m {
			return fmt.Sprintf("arms[%d] (%s)", i, k)
		}
	}
	return fmt.Sprintf("arms[%d]", i)
}

func pathText(base string, at []step) string {
	s := base
	for _, st := range at {
		if st.key != "" {
			s += "." + st.key
		} else {
			s += "[" + strconv.Itoa(st.index) + "]"
		}
	}
	return s
}

// prepare returns route with every learner of a named kind given a name no
// other run of the process uses ("eval<run>-" and the configured name, or
// the node's path), so that its statistics start from nothing,
// and, when seed is not nil, every bandit-shaped node's seed set to it.
func prepare(route json.RawMessage, routeName string, seed *uint64) (json.RawMessage, error) {
	tree, err := decodeTree(route)
	if err != nil {
		return nil, err
	}
	run := evalRuns.Add(1)
	visitNodes(tree, nil, func(kind string, block any, at []step) {
		m, ok := block.(map[string]any)
		if !ok {
			return
		}
		if namedKinds[kind] {
			name, _ := m["name"].(string)
			if name == "" {
				name = pathText("routes."+routeName, at) + "." + kind
			}
			m["name"] = fmt.Sprintf("eval%d-%s", run, name)
		}
		if seed != nil && banditKinds[kind] {
			m["seed"] = json.Number(strconv.FormatUint(*seed, 10))
		}
	})
	return json.Marshal(tree)
}

// replaceAt returns route with the node at path replaced by repl.
func replaceAt(route json.RawMessage, at []step, repl json.RawMessage) (json.RawMessage, error) {
	if len(at) == 0 {
		return repl, nil
	}
	tree, err := decodeTree(route)
	if err != nil {
		return nil, err
	}
	r, err := decodeTree(repl)
	if err != nil {
		return nil, err
	}
	cur := tree
	for i, st := range at {
		last := i == len(at)-1
		switch t := cur.(type) {
		case map[string]any:
			if last {
				t[st.key] = r
			} else {
				cur = t[st.key]
			}
		case []any:
			if st.index >= len(t) {
				return nil, fmt.Errorf("eval: bad node path")
			}
			if last {
				t[st.index] = r
			} else {
				cur = t[st.index]
			}
		default:
			return nil, fmt.Errorf("eval: bad node path")
		}
	}
	return json.Marshal(tree)
}

// capture keeps the first decision an engine finishes: in an online run,
// the routed request of the record being run (later turns finish after
// it).
type capture struct {
	mu sync.Mutex
	d  *store.Decision
}

func (c *capture) Observe(f *engine.Finished) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		c.d = f.Decision
	}
}

func (c *capture) take() *store.Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.d
	c.d = nil
	return d
}

// feedbackDelay is how many records are answered before a record's
// feedback arrives in an online run: Options.Concurrency, default 1.
func (e *Evaluator) feedbackDelay() int {
	if e.opts.Concurrency > 0 {
		return e.opts.Concurrency
	}
	return 1
}

// runOnline runs the records in order through a route holding a learning
// node, as online learning: each record's routed request finishes, the
// learners named in its trace are told (learning.Default.Finished, with
// the decision the engine would log, its latency replaced by the modeled
// one), and its recorded quality arrives as feedback
// (learning.Default.Feedback, the answering model's raw label) before the
// record feedbackDelay places later is routed. With a delay of 1 every
// answer is judged before the next request; a delay of k models k requests
// in flight. Records are routed one at a time, so a learner drawing from a
// seeded generator gives the same results for the same seed. Records
// without a label (or without an answer) give no feedback.
func (e *Evaluator) runOnline(ctx context.Context, sr *snapshotRoute) ([]outcome, error) {
	obs := &capture{}
	eng := engine.New(sr.snap, nil, obs)
	delay := e.feedbackDelay()
	type judged struct {
		d     *store.Decision
		score float64
		ok    bool
	}
	pending := make([]judged, len(e.records))
	deliver := func(j judged) {
		if j.d != nil && j.ok {
			learning.Default.Feedback(j.d, j.score, nil)
		}
	}
	out := make([]outcome, len(e.records))
	for i := range e.records {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i >= delay {
			deliver(pending[i-delay])
		}
		obs.take()
		o := e.runRecord(ctx, eng, sr.name, &e.records[i])
		if d := obs.take(); d != nil {
			dc := *d
			dc.LatencyMS = o.latencyMS
			learning.Default.Finished(&dc)
			pending[i] = judged{d: &dc, score: o.quality, ok: o.labeled}
		}
		out[i] = o
		e.tick()
	}
	for i := max(len(e.records)-delay, 0); i < len(e.records); i++ {
		deliver(pending[i])
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// runOn runs the records through sr: in order with feedback when its route
// learns, concurrently otherwise.
func (e *Evaluator) runOn(ctx context.Context, sr *snapshotRoute) ([]outcome, error) {
	if sr.online {
		return e.runOnline(ctx, sr)
	}
	return e.run(ctx, sr.snap, sr.name)
}
