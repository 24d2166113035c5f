// Package gatetest is test scaffolding for gates and for the nodes that
// use them: a policy.Builder, a scripted policy.Executor and constructors
// for calls and answers. It is imported by tests only.
package gatetest

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// Builder is a policy.Builder over a fixed set of models. It builds no
// subtrees; Path joins relative paths to Dir.
type Builder struct {
	Models map[string]*catalog.Model
	Dir    string
}

// Build fails: gates build no policy subtrees.
func (b Builder) Build(path string, raw json.RawMessage) (policy.Node, error) {
	return nil, conf.Errorf(path, "gatetest: no subtrees")
}

// HasModel reports whether name is in Models.
func (b Builder) HasModel(name string) bool { _, ok := b.Models[name]; return ok }

// Model returns Models[name].
func (b Builder) Model(name string) (*catalog.Model, bool) { m, ok := b.Models[name]; return m, ok }

// Path resolves p against Dir.
func (b Builder) Path(p string) string {
	if filepath.IsAbs(p) || b.Dir == "" {
		return p
	}
	return filepath.Join(b.Dir, p)
}

// Model returns a catalog model named name on provider with capabilities.
func Model(name, provider string, caps ...catalog.Capability) *catalog.Model {
	m := &catalog.Model{Name: name, Provider: provider, Upstream: name, Capabilities: map[catalog.Capability]bool{}}
	for _, c := range caps {
		m.Capabilities[c] = true
	}
	return m
}

// Call returns a call for a user message text from a caller of tier,
// with a fresh trace and exec as its executor (nil: none).
func Call(text, tier string, exec policy.Executor) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Model: "route", Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}},
		Caller:  policy.Caller{Tier: tier},
		Exec:    exec,
		Trace:   trace.New(time.Now()),
		Now:     time.Now(),
	}
}

// Response returns a response whose first choice is text, finished with
// finish ("" means stop).
func Response(text, finish string) *llm.Response {
	if finish == "" {
		finish = llm.FinishStop
	}
	return &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: text}, FinishReason: finish}}}
}

// Answer returns the answer text of model "small" to c's request.
func Answer(c *policy.Call, text string) *gate.Answer {
	var req *llm.Request
	if c != nil {
		req = c.Request
	}
	return &gate.Answer{Model: "small", Request: req, Response: Response(text, "")}
}

// Exec is a scripted policy.Executor. Chat answers calls (nil: an error);
// Embed answers embeddings (nil: an error). It counts calls and keeps the
// requests it saw. Safe for concurrent use.
type Exec struct {
	Models map[string]*catalog.Model
	Chat   func(ctx context.Context, model string, req *llm.Request) (*llm.Response, error)
	Embeds func(ctx context.Context, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error)

	mu       sync.Mutex
	Requests []*llm.Request
	Embedded []*llm.EmbedRequest
}

// Call answers with e.Chat.
func (e *Exec) Call(ctx context.Context, c *policy.Call, model string, req *llm.Request) (*policy.Outcome, error) {
	e.mu.Lock()
	e.Requests = append(e.Requests, req)
	e.mu.Unlock()
	if e.Chat == nil {
		return nil, errors.New("gatetest: no chat")
	}
	resp, err := e.Chat(ctx, model, req)
	if err != nil {
		return nil, err
	}
	return &policy.Outcome{Model: model, Response: resp}, nil
}

// Embed answers with e.Embeds.
func (e *Exec) Embed(ctx context.Context, c *policy.Call, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	e.mu.Lock()
	e.Embedded = append(e.Embedded, req)
	e.mu.Unlock()
	if e.Embeds == nil {
		return nil, errors.New("gatetest: no embeddings")
	}
	return e.Embeds(ctx, model, req)
}

// Model returns e.Models[name].
func (e *Exec) Model(name string) (*catalog.Model, bool) { m, ok := e.Models[name]; return m, ok }

// Calls returns how many chat calls were made.
func (e *Exec) Calls() int { e.mu.Lock(); defer e.mu.Unlock(); return len(e.Requests) }

// Embeddings returns how many embedding calls were made.
func (e *Exec) Embeddings() int { e.mu.Lock(); defer e.mu.Unlock(); return len(e.Embedded) }

var _ policy.Executor = (*Exec)(nil)
