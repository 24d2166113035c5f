// Package model provides the "model" policy node: call one model.
//
// Config: a model name (`gpt-4`), `{model: gpt-4}` or `{model: {name: gpt-4}}`.
// The node asks the executor for that model; retries and timeouts are the
// executor's. It fails with the executor's error.
package model

import (
	"context"
	"encoding/json"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policy.Register("model", New) }

// Node calls one model.
type Node struct {
	Name string
	path string
}

// New builds a model node from a name or {name: ...}.
func New(b policy.Builder, path string, raw json.RawMessage) (policy.Node, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		var cfg struct {
			Name string `json:"name"`
		}
		if err := conf.Decode(path, raw, &cfg); err != nil {
			return nil, err
		}
		name, path = cfg.Name, conf.Join(path, "name")
	}
	if name == "" {
		return nil, conf.Errorf(path, "a model name is required")
	}
	if !b.HasModel(name) {
		return nil, conf.Errorf(path, "unknown model %q", name)
	}
	return &Node{Name: name, path: path}, nil
}

// Serve calls the model.
func (n *Node) Serve(ctx context.Context, c *policy.Call) (*policy.Outcome, error) {
	c.Trace.Decide(trace.Decision{Node: n.path, Kind: "model", Decision: n.Name})
	return c.Exec.Call(ctx, c, n.Name, c.Request)
}

var _ policy.Node = (*Node)(nil)
