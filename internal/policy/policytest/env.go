package policytest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

// Options shape an Env.
type Options struct {
	// Price prices a model by name; nil prices every model at $1 per
	// million input tokens and $2 per million output tokens.
	Price func(name string) catalog.Price
	// Capabilities are given to every model.
	Capabilities []catalog.Capability
	// Signals, when set, is the executor's live-signal registry.
	Signals *signals.Registry
	// Caller is the caller of the calls Call makes.
	Caller policy.Caller
}

// Env is a fleet of fake models behind the real executor (no retries,
// no jitter). It is a policy.Builder that builds model names and
// {model: ...} blocks; Path returns paths unchanged.
type Env struct {
	Models  map[string]*Model
	Catalog map[string]*catalog.Model
	Exec    *executor.Executor
	Signals *signals.Registry // Options.Signals
	Caller  policy.Caller     // Options.Caller
}

// NewEnv returns an Env serving models under their map keys, each on
// provider "fake" with its key as upstream name.
func NewEnv(models map[string]*Model, opts Options) *Env {
	e := &Env{Models: models, Catalog: map[string]*catalog.Model{}, Signals: opts.Signals, Caller: opts.Caller}
	targets := map[string]executor.Target{}
	for name, f := range models {
		price := catalog.Price{Input: catalog.RateFromUSD(1), Output: catalog.RateFromUSD(2)}
		if opts.Price != nil {
			price = opts.Price(name)
		}
		m := &catalog.Model{Name: name, Provider: "fake", Upstream: name, Price: price}
		if len(opts.Capabilities) > 0 {
			m.Capabilities = map[catalog.Capability]bool{}
			for _, c := range opts.Capabilities {
				m.Capabilities[c] = true
			}
		}
		e.Catalog[name] = m
		targets[name] = executor.Target{Model: m, Provider: f}
	}
	e.Exec = executor.New(targets, executor.Options{MaxRetries: -1, Rand: func() float64 { return 0 }, Signals: opts.Signals})
	return e
}

// HasModel reports whether name is in the fleet.
func (e *Env) HasModel(name string) bool { _, ok := e.Catalog[name]; return ok }

// Model returns the catalog entry of name.
func (e *Env) Model(name string) (*catalog.Model, bool) { m, ok := e.Catalog[name]; return m, ok }

// Path returns p unchanged.
func (e *Env) Path(p string) string { return p }

// Build builds model names and {model: ...} blocks, the only subtrees
// these tests need; anything else is a *conf.Error at path.
func (e *Env) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		if inner, ok := m["model"]; ok && len(m) == 1 {
			return model.New(e, conf.Join(path, "model"), inner)
		}
		return nil, conf.Errorf(path, "the test builder builds model names only")
	}
	return model.New(e, path, raw)
}

// New builds cfg with f at path against e, failing t if it does not
// build.
func (e *Env) New(t testing.TB, f policy.Factory, path, cfg string) policy.Node {
	t.Helper()
	n, err := f(e, path, json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return n
}

// Call returns a call asking route "r" "what is 2+2?", streamed or not,
// from e.Caller, with e.Exec as executor and a fresh trace.
func (e *Env) Call(stream bool) *policy.Call {
	return &policy.Call{
		Request: &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser, Content: "what is 2+2?"}}, Stream: stream},
		Exec:    e.Exec,
		Trace:   trace.New(time.Now()),
		Caller:  e.Caller,
	}
}
