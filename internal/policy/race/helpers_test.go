package race

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func init() { policytest.RegisterGate("test") }

// env is policytest's fleet with a live-signal registry, which the
// hedge reads.
type env struct{ *policytest.Env }

func newEnv(models map[string]*policytest.Model) *env {
	return &env{policytest.NewEnv(models, policytest.Options{Signals: signals.New(signals.Options{})})}
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	rn := e.New(t, New, "routes.r.race", cfg).(*Node)
	if rn.hedge != nil {
		rn.hedge.signals = e.Signals
	}
	return rn
}

// decisions returns the trace's race decisions as "decision:candidate".
func decisions(tr *trace.Trace) []string { return policytest.CandidateDecisions(tr, "race") }
