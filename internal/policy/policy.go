// Package policy defines the policy tree: a Node decides what to call for a
// request and calls it through the Executor. Node kinds live in sub-packages
// and register a Factory by name; a route's config is a tree of kinds that
// the Builder assembles and validates at load.
package policy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/trace"
)

// Node is one node of a policy tree.
//
// Serve must return when ctx is canceled. On success the Outcome holds a
// whole response, or for a streaming request an open stream that the caller
// must Close. A node records what it decided and why with Call.Trace.
type Node interface {
	Serve(ctx context.Context, c *Call) (*Outcome, error)
}

// Executor makes every model call. Nodes never call providers directly.
type Executor interface {
	// Call calls model with req (req.Model is ignored). For a streaming
	// request it returns once the first chunk has arrived, so a failure up
	// to then is an error the node may fall over from; after that the
	// stream is the caller's. Retries and backoff happen inside Call; every
	// attempt is recorded in c.Trace with its usage and cost.
	Call(ctx context.Context, c *Call, model string, req *llm.Request) (*Outcome, error)
	// Embed calls model for embeddings, with the same retries and
	// accounting. The model must have the embeddings capability.
	Embed(ctx context.Context, c *Call, model string, req *llm.EmbedRequest) (*llm.EmbedResponse, error)
	// Model returns the catalog entry of name.
	Model(name string) (*catalog.Model, bool)
}

// Caller is who is calling.
type Caller struct {
	Key      string            // the virtual key's name, "" when anonymous
	Tier     string            // e.g. "free", "pro"; "" when unknown
	Session  string            // x-session-id, for stickiness
	Metadata map[string]string // request metadata merged with the key's labels
}

// Call is one request on its way through the tree. Nodes must treat Request
// as read-only and Clone it to change it.
type Call struct {
	Request *llm.Request
	Caller  Caller
	// Header holds the request headers the config allows rules to read,
	// with canonical names.
	Header http.Header
	Exec   Executor
	Trace  *trace.Trace
	// Now is when the request arrived, for time-of-day rules.
	Now time.Time

	featOnce sync.Once
	feat     *features.Set
}

// Features returns the request's features, computed on first use.
func (c *Call) Features() *features.Set {
	c.featOnce.Do(func() { c.feat = features.Extract(c.Request) })
	return c.feat
}

// Outcome is a node's answer.
type Outcome struct {
	Model string // catalog name of the model that answered
	// Response is set for a non-streaming request, Stream for a streaming
	// one.
	Response *llm.Response
	Stream   llm.Stream
}
