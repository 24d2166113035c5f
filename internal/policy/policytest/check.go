package policytest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// Text returns an outcome's text, draining and closing its stream if it
// has one; a stream error fails t.
func Text(t testing.TB, out *policy.Outcome) string {
	t.Helper()
	if out.Response != nil {
		return out.Response.Text()
	}
	text, _ := Drain(t, out.Stream)
	return text
}

// Drain reads s to its end, closes it and returns its text and chunks; a
// Recv or Close error fails t.
func Drain(t testing.TB, s llm.Stream) (string, []*llm.Chunk) {
	t.Helper()
	var b strings.Builder
	var chunks []*llm.Chunk
	for {
		ch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		chunks = append(chunks, ch)
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return b.String(), chunks
}

// CandidateDecisions returns tr's decisions of kind as
// "decision:candidate", or just "decision" when it names no candidate.
func CandidateDecisions(tr *trace.Trace, kind string) []string {
	var out []string
	for _, d := range tr.Snapshot().Decisions {
		if d.Kind != kind {
			continue
		}
		s := d.Decision
		if c, ok := d.Data["candidate"].(string); ok {
			s += ":" + c
		}
		out = append(out, s)
	}
	return out
}

// NodeDecisions returns tr's decisions of kind as "decision@node".
func NodeDecisions(tr *trace.Trace, kind string) []string {
	var out []string
	for _, d := range tr.Snapshot().Decisions {
		if d.Kind == kind {
			out = append(out, d.Decision+"@"+d.Node)
		}
	}
	return out
}

// Ledger checks that no attempt in tr is pending and that tr's total cost
// is the sum of its attempts' (each counted once), failing t otherwise.
// It returns the attempts, last outcome and cost per model.
func Ledger(t testing.TB, tr *trace.Trace) (calls map[string]int, outcomes map[string]string, cost map[string]catalog.Micros) {
	t.Helper()
	v := tr.Snapshot()
	calls, outcomes, cost = map[string]int{}, map[string]string{}, map[string]catalog.Micros{}
	var sum catalog.Micros
	for _, a := range v.Attempts {
		calls[a.Model]++
		outcomes[a.Model] = a.Outcome
		cost[a.Model] += a.CostMicros
		sum += a.CostMicros
		if a.Outcome == trace.OutcomePending {
			t.Errorf("attempt on %s still pending: its usage was never counted", a.Model)
		}
	}
	if _, total := tr.Totals(); total != sum {
		t.Errorf("total cost %d, sum of attempts %d", total, sum)
	}
	return calls, outcomes, cost
}

// CheckLedger checks what Ledger checks, that every attempt that did not
// fail was paid for, and that each model in wantCalls had exactly that
// many attempts.
func CheckLedger(t testing.TB, tr *trace.Trace, wantCalls map[string]int) {
	t.Helper()
	got, _, _ := Ledger(t, tr)
	attempts := tr.Snapshot().Attempts
	for _, a := range attempts {
		if a.Outcome != trace.OutcomeError && a.CostMicros <= 0 {
			t.Errorf("attempt on %s cost %d, want it paid for", a.Model, a.CostMicros)
		}
	}
	for m, n := range wantCalls {
		if got[m] != n {
			t.Errorf("%d attempts on %s, want %d (attempts %+v)", got[m], m, n, attempts)
		}
	}
}
