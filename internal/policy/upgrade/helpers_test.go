package upgrade

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/policy/policytest"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The "test" gate scores an answer scores[model] (default 1), an empty
// one 0, and passes at 0.5.
func init() { policytest.RegisterGate("test") }

// env is policytest's fleet with a live-signal registry in the executor.
type env struct{ *policytest.Env }

func newEnv(models map[string]*policytest.Model) *env {
	return &env{policytest.NewEnv(models, policytest.Options{Signals: signals.New(signals.Options{})})}
}

func (e *env) build(t testing.TB, cfg string) *Node {
	t.Helper()
	return e.New(t, New, "routes.r.upgrade", cfg).(*Node)
}

// decisions returns the trace's upgrade decisions as "decision:model",
// and the last one's waited_ms.
func decisions(tr *trace.Trace) (out []string, waited float64) {
	for _, d := range tr.Snapshot().Decisions {
		if d.Kind != "upgrade" {
			continue
		}
		s := d.Decision
		if m, ok := d.Data["model"].(string); ok {
			s += ":" + m
		}
		out = append(out, s)
		waited, _ = d.Data["waited_ms"].(float64)
	}
	return out, waited
}
