package bestof

import (
	"encoding/json"
	"testing"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/sim"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func init() { policytest.RegisterGate("test") }

type env struct{ *policytest.Env }

func newEnv(models map[string]*policytest.Model) *env {
	return &env{policytest.NewEnv(models, policytest.Options{})}
}

// Embedding models newEnvEmbed adds to the fake fleet: sim providers
// with the embeddings capability, "emb" answering and "emb-down" always
// failing.
var embedModels = map[string]string{
	"emb":      `{"realtime": false, "embedding_dimensions": 256}`,
	"emb-down": `{"realtime": false, "error_rate": 1}`,
}

// newEnvEmbed is newEnv plus the sim embedding models, all behind one
// executor.
func newEnvEmbed(t testing.TB, models map[string]*policytest.Model) *env {
	e := newEnv(models)
	targets := map[string]executor.Target{}
	for name, f := range e.Models {
		targets[name] = executor.Target{Model: e.Catalog[name], Provider: f}
	}
	for name, opts := range embedModels {
		p, err := sim.New(provider.Config{Model: name, Upstream: name, Options: json.RawMessage(opts), OptionsPath: name})
		if err != nil {
			t.Fatal(err)
		}
		m := &catalog.Model{Name: name, Provider: "sim", Upstream: name, Price: catalog.Price{Input: catalog.RateFromUSD(1)},
			Capabilities: map[catalog.Capability]bool{catalog.CapEmbeddings: true}}
		e.Catalog[name] = m
		targets[name] = executor.Target{Model: m, Provider: p}
	}
	e.Exec = executor.New(targets, executor.Options{MaxRetries: -1, Rand: func() float64 { return 0 }})
	return e
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	return e.New(t, New, "routes.r.best_of", cfg).(*Node)
}

// decisions returns the trace's best_of decisions as "decision:candidate".
func decisions(tr *trace.Trace) []string { return policytest.CandidateDecisions(tr, "best_of") }
