package trace

import (
	"sync"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestTotalsSumEveryAttempt(t *testing.T) {
	tr := New(time.Now())
	a := tr.Begin(Attempt{Model: "a"}, time.Now())
	b := tr.Begin(Attempt{Model: "b"}, time.Now())
	tr.Update(a, func(x *Attempt) {
		x.Outcome, x.Usage, x.CostMicros = OutcomeError, llm.Usage{PromptTokens: 10, TotalTokens: 10}, 3
	})
	tr.Update(b, func(x *Attempt) {
		x.Outcome, x.Usage, x.CostMicros = OutcomeOK, llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}, 7
	})
	tr.Update(99, func(x *Attempt) { t.Error("update of a missing attempt ran") })
	u, c := tr.Totals()
	if u.PromptTokens != 20 || u.CompletionTokens != 5 || u.TotalTokens != 25 || c != 10 {
		t.Errorf("totals = %+v, %d", u, c)
	}
	v := tr.Snapshot()
	if len(v.Attempts) != 2 || v.Attempts[1].Outcome != OutcomeOK {
		t.Errorf("snapshot = %+v", v)
	}
	// A snapshot is a copy: later changes do not show through.
	tr.Update(b, func(x *Attempt) { x.Outcome = OutcomeCanceled })
	if v.Attempts[1].Outcome != OutcomeOK {
		t.Error("snapshot changed with the trace")
	}
}

func TestBeginDefaultsToPending(t *testing.T) {
	tr := New(time.Now())
	tr.Begin(Attempt{Model: "m"}, time.Now())
	tr.Decide(Decision{Node: "routes.r", Kind: "model", Decision: "m"})
	v := tr.Snapshot()
	if v.Attempts[0].Outcome != OutcomePending || len(v.Decisions) != 1 || v.Decisions[0].AtMS < 0 {
		t.Errorf("view = %+v", v)
	}
}

func TestConcurrentUse(t *testing.T) {
	tr := New(time.Now())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				i := tr.Begin(Attempt{Model: "m"}, time.Now())
				tr.Update(i, func(a *Attempt) { a.CostMicros = 1 })
				tr.Decide(Decision{Kind: "x"})
				tr.Snapshot()
			}
		})
	}
	wg.Wait()
	if _, c := tr.Totals(); c != 800 {
		t.Errorf("cost = %d, want 800", c)
	}
}
