package cascade

import (
	"context"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/trace"
)

func init() { policytest.RegisterGate("test") }

// env is policytest's fleet priced like a cascade's tiers (models named
// "strong..." are dear, the rest cheap), with logprobs, called by a free
// tier caller, and streaming 8-byte chunks unless a model says otherwise.
type env struct{ *policytest.Env }

func newEnv(models map[string]*policytest.Model) *env {
	for _, f := range models {
		if f.ChunkSize == 0 {
			f.ChunkSize = 8
		}
	}
	return &env{policytest.NewEnv(models, policytest.Options{
		Price:        tierPrice,
		Capabilities: []catalog.Capability{catalog.CapLogprobs},
		Caller:       policy.Caller{Tier: "free"},
	})}
}

func tierPrice(name string) catalog.Price {
	if strings.HasPrefix(name, "strong") {
		return catalog.Price{Input: catalog.RateFromUSD(10), Output: catalog.RateFromUSD(30)}
	}
	return catalog.Price{Input: catalog.RateFromUSD(0.25), Output: catalog.RateFromUSD(0.25)}
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	return e.New(t, New, "routes.r.cascade", cfg).(*Node)
}

// decisions returns the trace's decisions of kind, as "decision@node".
func decisions(tr *trace.Trace, kind string) []string { return policytest.NodeDecisions(tr, kind) }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
