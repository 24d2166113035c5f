// Package fallback provides the "fallback" policy node: try ordered
// candidates until one answers acceptably.
//
// Config: a list of subtrees, `fallback: [gpt-4, mixtral]`, or
//
//	fallback:
//	  candidates: [gpt-4, mixtral]
//	  reject_empty: true                 # an answer with no text and no tool call fails over (default true)
//	  reject_finish: [length, content_filter]  # finish reasons that fail over (default none)
//
// A candidate that fails with an error that allows failover (auth, quota,
// rate limit, transient, unknown) or whose whole answer fails the check is
// skipped; a caller fault or a canceled request stops the walk at once. When
// every candidate fails, the last candidate's error is returned; when every
// answer failed the check, the last answer is returned as the best seen.
// Checks judge whole answers: a streaming candidate is accepted once its
// first chunk arrives, which is the stream's commit point.
package fallback

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register("fallback", New) }

// Node walks its candidates in order.
type Node struct {
	path         string
	listPath     string // where the candidates are: path or path.candidates
	candidates   []policy.Node
	names        []string
	rejectEmpty  bool
	rejectFinish []string
}

type config struct {
	Candidates   []json.RawMessage `json:"candidates"`
	RejectEmpty  *bool             `json:"reject_empty"`
	RejectFinish []string          `json:"reject_finish"`
}

var finishReasons = []string{llm.FinishStop, llm.FinishLength, llm.FinishToolCalls, llm.FinishContentFilter}

// New builds a fallback node.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var cfg config
	listPath := path
	if err := json.Unmarshal(raw, &cfg.Candidates); err != nil {
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		listPath = conf.Join(path, "candidates")
	}
	if len(cfg.Candidates) == 0 {
		return nil, conf.Errorf(listPath, "at least one candidate is required")
	}
	n := &Node{path: path, listPath: listPath, rejectEmpty: cfg.RejectEmpty == nil || *cfg.RejectEmpty}
	for i, f := range cfg.RejectFinish {
		if !slices.Contains(finishReasons, f) {
			return nil, conf.Errorf(conf.Index(conf.Join(path, "reject_finish"), i), "unknown finish reason %q (want one of %v)", f, finishReasons)
		}
	}
	n.rejectFinish = cfg.RejectFinish
	for i, c := range cfg.Candidates {
		p := conf.Index(listPath, i)
		node, err := b.Build(p, c)
		if err != nil {
			return nil, err
		}
		n.candidates = append(n.candidates, node)
		n.names = append(n.names, policy.Describe(c))
	}
	return n, nil
}

// Serve tries each candidate in order.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	var lastErr error
	var best *policy.Outcome
	for i, cand := range n.candidates {
		out, err := cand.Serve(ctx, c)
		if err != nil {
			lastErr = err
			class := llm.ClassOf(err)
			if ctx.Err() != nil || !class.FailOver() || i == len(n.candidates)-1 {
				n.decide(c, i, "give up", fmt.Sprintf("%s failed (%s)", n.names[i], class))
				break
			}
			n.decide(c, i, "fail over", fmt.Sprintf("%s failed (%s): %v", n.names[i], class, publicMessage(err)))
			continue
		}
		if reason := n.check(out); reason != "" && i < len(n.candidates)-1 {
			n.decide(c, i, "fail over", fmt.Sprintf("%s answered but %s", n.names[i], reason))
			best = out
			continue
		}
		n.decide(c, i, "accept", fmt.Sprintf("%s answered", n.names[i]))
		return out, nil
	}
	if best != nil {
		c.Trace.Decide(trace.Decision{Node: n.path, Kind: "fallback", Decision: "best seen", Reason: "no later candidate answered; returning the last answer that failed the check"})
		return best, nil
	}
	return nil, lastErr
}

func (n *Node) decide(c *policy.Call, i int, decision, reason string) {
	c.Trace.Decide(trace.Decision{Node: conf.Index(n.listPath, i), Kind: "fallback", Decision: decision, Reason: reason})
}

// check returns why a whole answer fails, or "".
func (n *Node) check(out *policy.Outcome) string {
	if out.Response == nil {
		return ""
	}
	for _, ch := range out.Response.Choices {
		if n.rejectEmpty && ch.Message.Content == "" && len(ch.Message.ToolCalls) == 0 {
			return "the answer is empty"
		}
		if slices.Contains(n.rejectFinish, ch.FinishReason) {
			return fmt.Sprintf("finish_reason is %q", ch.FinishReason)
		}
	}
	if len(out.Response.Choices) == 0 && n.rejectEmpty {
		return "the answer has no choices"
	}
	return ""
}

func publicMessage(err error) string { return llm.AsError(err).Message }

var _ policy.Node = (*Node)(nil)
