package bestof

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func init() { policytest.RegisterGate("test") }

type env struct{ *policytest.Env }

func newEnv(models map[string]*policytest.Model) *env {
	return &env{policytest.NewEnv(models, policytest.Options{})}
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	return e.New(t, New, "routes.r.best_of", cfg).(*Node)
}

// decisions returns the trace's best_of decisions as "decision:candidate".
func decisions(tr *trace.Trace) []string { return policytest.CandidateDecisions(tr, "best_of") }
