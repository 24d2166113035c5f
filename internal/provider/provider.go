// Package provider defines the interface every wire adapter implements and
// the registry that builds adapters by kind name. Adapters live in
// sub-packages (openai, sim, replay, ...) and register themselves in init.
package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
)

// Provider calls one upstream deployment.
//
// Chat returns a whole response. ChatStream returns once the upstream has
// accepted the request (HTTP headers received); the caller must Close the
// stream. Both must return when ctx is canceled, and both return *llm.Error
// values classified by failure class so the executor can decide whether to
// retry, fail over or give up. Usage is reported as the upstream reported it;
// a zero Usage means "not reported" and the executor counts tokens itself.
type Provider interface {
	Chat(ctx context.Context, req *llm.Request) (*llm.Response, error)
	ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error)
}

// Labeler is implemented by providers whose answers are not live model
// output (replayed or simulated); Label returns "replay" or "sim".
type Labeler interface {
	Label() string
}

// Config is what a factory gets to build one deployment's provider.
type Config struct {
	Model    string      // catalog name, for error messages
	Upstream string      // the model name the upstream knows
	BaseURL  string      // empty means the kind's default
	APIKey   conf.Secret // may be empty
	// Options is the model's provider-specific block; the factory decodes it
	// with conf.Decode at OptionsPath and rejects unknown fields.
	Options     json.RawMessage
	OptionsPath string
	// HTTPClient is shared by all adapters; never nil.
	HTTPClient *http.Client
	// BaseDir is the directory relative paths in Options resolve against
	// (the config file's directory).
	BaseDir string
}

// Factory builds a provider from its config.
type Factory func(cfg Config) (Provider, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a provider kind available by name. It panics if the name
// is taken, as registration happens in init.
func Register(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[kind]; dup {
		panic(fmt.Sprintf("provider: kind %q registered twice", kind))
	}
	factories[kind] = f
}

// Lookup returns the factory of kind.
func Lookup(kind string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[kind]
	return f, ok
}

// Kinds returns the registered kind names, sorted.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for k := range factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Embedder is implemented by providers that serve embeddings. Vectors come
// back in input order, one per input.
type Embedder interface {
	Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error)
}
