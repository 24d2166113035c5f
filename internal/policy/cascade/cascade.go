package cascade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/eval/knob"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/hold"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() {
	policy.Register("cascade", New)
	knob.Register("cascade", knob.Spec{Field: "threshold", Min: 0, Max: 1, Default: knob.Range(0, 1, 41)})
}

// Return modes.
const (
	ReturnLast = "last"
	ReturnBest = "best"
)

// DefaultCheckEvery is how many characters of a held-back stream arrive
// between two checks of its prefix, when a tier sets none.
const DefaultCheckEvery = 256

// Node walks its tiers from the cheapest until one's answer passes its
// gates. It is immutable after New and safe for concurrent use.
type Node struct {
	tiers     []tier
	threshold *gate.Threshold // nil: the gates' own Pass decides
	best      bool            // return: best
}

type tier struct {
	name  string
	path  string // tiers[i]
	node  policy.Node
	gate  gate.Gate // nil: accepted unjudged (the last tier with return: last)
	every int       // prefix check interval in characters; 0 judges whole answers only
	// model is the catalog entry of the tier's model when the tier is one
	// model, for gates that prepare the request (logprobs, n); nil for a
	// subtree, whose requests go out as the client sent them.
	model *catalog.Model
}

type config struct {
	Threshold *gate.Threshold   `json:"threshold"`
	Return    string            `json:"return"`
	Gates     json.RawMessage   `json:"gates"`
	Tiers     []json.RawMessage `json:"tiers"`
}

type tierConfig struct {
	Name       string          `json:"name"`
	Route      json.RawMessage `json:"route"`
	Gates      json.RawMessage `json:"gates"`
	CheckEvery *int            `json:"check_every"`
}

// New builds a cascade node; see the package doc for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	n := &Node{}
	tiersPath := conf.Join(path, "tiers")
	switch cfg.Return {
	case "", ReturnLast:
	case ReturnBest:
		n.best = true
	default:
		return nil, conf.Errorf(conf.Join(path, "return"), "unknown value %q (want last or best)", cfg.Return)
	}
	n.threshold = cfg.Threshold
	if len(cfg.Tiers) < 2 {
		return nil, conf.Errorf(tiersPath, "at least two tiers are required (got %d)", len(cfg.Tiers))
	}
	last := len(cfg.Tiers) - 1
	names := map[string]bool{}
	var shared gate.Gate // the cascade's gates, built once for every tier using them
	for i, rawTier := range cfg.Tiers {
		p := conf.Index(tiersPath, i)
		tc, block, err := decodeTier(p, rawTier)
		if err != nil {
			return nil, err
		}
		if tc.Route == nil {
			return nil, conf.Errorf(conf.Join(p, "route"), "required: the tier's subtree")
		}
		t := tier{path: p, name: tc.Name, every: DefaultCheckEvery}
		if t.name == "" {
			t.name = policy.Describe(tc.Route)
		} else if names[t.name] {
			return nil, conf.Errorf(conf.Join(p, "name"), "duplicate tier name %q", t.name)
		}
		names[t.name] = true
		if tc.CheckEvery != nil {
			if *tc.CheckEvery < 0 {
				return nil, conf.Errorf(conf.Join(p, "check_every"), "must not be negative (0 judges whole answers only)")
			}
			t.every = *tc.CheckEvery
		}
		routePath := p
		if block {
			routePath = conf.Join(p, "route")
		}
		if t.node, err = b.Build(routePath, tc.Route); err != nil {
			return nil, err
		}
		if mn, ok := t.node.(*model.Node); ok {
			t.model, _ = b.Model(mn.Name)
		}
		judged := i < last || n.best
		gatesRaw, gatesPath := tc.Gates, conf.Join(p, "gates")
		switch {
		case gatesRaw != nil && !judged:
			return nil, conf.Errorf(gatesPath, "the last tier's answer is returned as it is with return: last; gates here need return: best")
		case gatesRaw == nil && judged && cfg.Gates != nil:
			gatesRaw, gatesPath = cfg.Gates, conf.Join(path, "gates")
		case gatesRaw == nil && judged:
			what := "every tier but the last"
			if n.best {
				what = "every tier (return: best judges the last one too)"
			}
			return nil, conf.Errorf(gatesPath, "required for %s, here or as the cascade's gates", what)
		}
		switch {
		case gatesRaw == nil:
		case tc.Gates == nil && shared != nil:
			t.gate = shared
		default:
			if t.gate, err = gate.Build(b, gatesPath, gatesRaw); err != nil {
				return nil, err
			}
			if tc.Gates == nil {
				shared = t.gate
			}
		}
		n.tiers = append(n.tiers, t)
	}
	return n, nil
}

// decodeTier reads a tier: a tier block {route, gates, check_every, name}
// (an object with any of those keys), or else the tier's subtree itself
// (a model name, {fallback: [...]}, ...).
func decodeTier(path string, raw json.RawMessage) (tc tierConfig, block bool, err error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return tierConfig{Route: raw}, false, nil
	}
	for _, k := range []string{"route", "gates", "check_every", "name"} {
		if _, ok := m[k]; ok {
			block = true
		}
	}
	if !block {
		return tierConfig{Route: raw}, false, nil
	}
	err = conf.Decode(path, raw, &tc)
	return tc, true, err
}

// answer is one tier's judged answer.
type answer struct {
	tier    int
	model   string
	verdict gate.Verdict
	// resp is a whole answer; held the chunks of a stream read to its end
	// (for a streaming request).
	resp *llm.Response
	held []*llm.Chunk
}

// outcome is the answer as the client asked for it: without what the
// gates added to the request (choices, logprobs).
func (a *answer) outcome(client *llm.Request) *policy.Outcome {
	if a.held != nil {
		return &policy.Outcome{Model: a.model, Stream: hold.NewReplay(a.held, nil, client)}
	}
	return &policy.Outcome{Model: a.model, Response: gate.Strip(client, a.resp)}
}

// Serve calls the tiers in order until one's answer is accepted; see the
// package doc.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	var best *answer
	var lastErr error
	for i := range n.tiers {
		if ctx.Err() != nil {
			return nil, ctxError(ctx)
		}
		out, a, err := n.serveTier(ctx, c, i)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctxError(ctx)
			}
			lastErr = err
			class := llm.ClassOf(err)
			reason := fmt.Sprintf("%s failed (%s): %s", n.tiers[i].name, class, llm.AsError(err).Message)
			if !class.FailOver() {
				n.decide(c, i, "give up", reason, map[string]any{"error_class": class.String()})
				return nil, err
			}
			decision := "escalate"
			if i == len(n.tiers)-1 {
				decision = "give up"
			}
			n.decide(c, i, decision, reason, map[string]any{"error_class": class.String()})
		case out != nil:
			return out, nil // accepted
		case a != nil:
			// Ties go to the later, more capable tier.
			if best == nil || a.verdict.Score >= best.verdict.Score {
				best = a
			}
		}
	}
	if best == nil {
		return nil, lastErr
	}
	reason := "every tier's answer failed its gates; returning the best-scoring one"
	if lastErr != nil {
		reason = "the last tier failed; returning the best-scoring answer that failed its gates"
	}
	n.decide(c, best.tier, "best", reason, map[string]any{"score": best.verdict.Score, "model": best.model})
	return best.outcome(c.Request), nil
}

// serveTier calls tier i and judges its answer. It returns the outcome
// when the answer is accepted; the rejected answer, a candidate for the
// best seen; neither, for a rejected prefix; or the tier's error.
func (n *Node) serveTier(ctx context.Context, c *policy.Call, i int) (*policy.Outcome, *answer, error) {
	t := &n.tiers[i]
	tc, req := c, c.Request
	if t.gate != nil {
		if r := gate.Prepare(t.gate, t.model, c.Request); r != c.Request {
			req = r
			tc = &policy.Call{Request: r, Caller: c.Caller, Header: c.Header, Exec: c.Exec, Trace: c.Trace, Now: c.Now}
		}
	}
	out, err := t.node.Serve(ctx, tc)
	if err != nil {
		return nil, nil, err
	}
	if out == nil || (out.Stream == nil && out.Response == nil) {
		return nil, nil, &llm.Error{Status: http.StatusInternalServerError, Type: llm.TypeServer,
			Message: fmt.Sprintf("cascade tier %s returned no answer", t.name), Class: llm.ClassUnknown}
	}
	if t.gate == nil {
		n.decide(c, i, "accept", fmt.Sprintf("%s answered (the last tier is not judged)", t.name), map[string]any{"model": out.Model})
		return out, nil, nil
	}
	if out.Stream != nil {
		return n.judgeStream(ctx, c, tc, i, req, out)
	}
	v, err := n.check(ctx, tc, t, &gate.Answer{Model: out.Model, Request: req, Response: out.Response})
	if err != nil {
		return nil, nil, err
	}
	a := &answer{tier: i, model: out.Model, resp: out.Response, verdict: v}
	if n.judge(c, i, v, out.Model, false) {
		return a.outcome(c.Request), nil, nil
	}
	return nil, a, nil
}

// judgeStream holds a tier's stream back while its gates judge it. Every
// `check_every` characters the prefix received so far is checked; a
// settled verdict ends the wait (accept: the held chunks are replayed and
// the rest streams live; reject: the stream is closed, its tokens so far
// paid for). Otherwise the stream is read to its end and judged whole.
// c is the client's call, tc the tier's (its request possibly prepared).
func (n *Node) judgeStream(ctx context.Context, c, tc *policy.Call, i int, req *llm.Request, out *policy.Outcome) (*policy.Outcome, *answer, error) {
	t := &n.tiers[i]
	s := out.Stream
	var asm hold.Assembler
	held := []*llm.Chunk{}
	next := t.every
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		held = append(held, ch)
		asm.Add(ch)
		if t.every == 0 || asm.Chars() < next {
			continue
		}
		next = asm.Chars() + t.every
		v, err := n.check(ctx, tc, t, &gate.Answer{Model: out.Model, Request: req, Response: asm.Response(), Partial: true})
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		if !settled(v, n.threshold != nil) {
			continue // a prefix the gates cannot judge yet: wait for more
		}
		if n.judge(c, i, v, out.Model, true) {
			return &policy.Outcome{Model: out.Model, Stream: hold.NewReplay(held, s, c.Request)}, nil, nil
		}
		s.Close()
		return nil, nil, nil
	}
	s.Close() // the stream ended, so its attempt is recorded already
	v, err := n.check(ctx, tc, t, &gate.Answer{Model: out.Model, Request: req, Response: asm.Response()})
	if err != nil {
		return nil, nil, err
	}
	a := &answer{tier: i, model: out.Model, held: held, verdict: v}
	if n.judge(c, i, v, out.Model, false) {
		return a.outcome(c.Request), nil, nil
	}
	return nil, a, nil
}

// check runs a tier's gates. A gate that fails to run is a failed check
// with the error as its reason (gate.Failed); only the end of ctx is an
// error.
func (n *Node) check(ctx context.Context, c *policy.Call, t *tier, a *gate.Answer) (gate.Verdict, error) {
	v, err := t.gate.Check(ctx, c, a)
	if ctx.Err() != nil {
		return gate.Verdict{}, ctxError(ctx)
	}
	if err != nil {
		v = gate.Failed(t.gate, err)
	}
	return v, nil
}

// settled reports whether a verdict on a prefix is final: more text
// cannot change it. A skipped gate has not judged yet. By the gates'
// rules, all fails for good when a child fails for good, any passes for
// good when a child passes for good, and otherwise every child must have
// judged; a weighted score, or any score compared with the cascade's
// threshold (byScore), is final only when every gate judged.
func settled(v gate.Verdict, byScore bool) bool {
	if v.Skipped {
		return false
	}
	if v.Rule == "" {
		return true
	}
	if !byScore {
		switch {
		case v.Rule == gate.RuleAll && !v.Pass:
			for _, ch := range v.Verdicts {
				if !ch.Skipped && !ch.Pass && settled(ch, false) {
					return true
				}
			}
			return false
		case v.Rule == gate.RuleAny && v.Pass:
			for _, ch := range v.Verdicts {
				if !ch.Skipped && ch.Pass && settled(ch, false) {
					return true
				}
			}
			return false
		}
	}
	for _, ch := range v.Verdicts {
		if !settled(ch, byScore) {
			return false
		}
	}
	return true
}

// judge records a verdict and the accept or escalate decision it leads to,
// and reports whether the answer is accepted.
func (n *Node) judge(c *policy.Call, i int, v gate.Verdict, model string, partial bool) bool {
	t := &n.tiers[i]
	gate.Record(c, t.path, v)
	accept, why := n.accepts(c, v)
	decision := "escalate"
	switch {
	case accept:
		decision = "accept"
	case i == len(n.tiers)-1:
		decision = "reject"
	}
	data := map[string]any{"model": model, "score": v.Score, "pass": v.Pass}
	what := "answer"
	if partial {
		data["prefix"] = true
		what = "answer's prefix"
	}
	if n.threshold != nil {
		data["threshold"] = n.threshold.For(c)
	}
	n.decide(c, i, decision, fmt.Sprintf("%s's %s %s", t.name, what, why), data)
	return accept
}

// accepts applies the cascade's threshold, or else the gates' own
// verdict. An answer no gate could judge is accepted: there is no
// evidence against it.
func (n *Node) accepts(c *policy.Call, v gate.Verdict) (bool, string) {
	if v.Skipped {
		return true, "could not be judged by its gates: " + v.Reason
	}
	if n.threshold != nil {
		th := n.threshold.For(c)
		if v.Score >= th {
			return true, fmt.Sprintf("scored %.3f >= threshold %.3f", v.Score, th)
		}
		return false, fmt.Sprintf("scored %.3f < threshold %.3f: %s", v.Score, th, v.Reason)
	}
	if v.Pass {
		return true, fmt.Sprintf("passed its gates (score %.3f)", v.Score)
	}
	return false, fmt.Sprintf("failed its gates (score %.3f): %s", v.Score, v.Reason)
}

func (n *Node) decide(c *policy.Call, i int, decision, reason string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["tier"] = i
	c.Trace.Decide(trace.Decision{Node: n.tiers[i].path, Kind: "cascade", Decision: decision, Reason: reason, Data: data})
}

// ctxError is the error of a request whose context ended, shaped as the
// executor shapes it.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Code: "request_timeout",
			Message: "the request's total deadline passed", Class: llm.ClassCanceled, Cause: ctx.Err()}
	}
	return &llm.Error{Status: 499, Type: llm.TypeInvalidRequest, Code: "client_closed_request",
		Message: "the client closed the request", Class: llm.ClassCanceled, Cause: ctx.Err()}
}

var _ policy.Node = (*Node)(nil)
