package metrics

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sextant-router/sextant/internal/health"
)

func TestCircuitFamilies(t *testing.T) {
	b := health.New(health.Options{ConsecutiveFailures: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.Report("m1", health.Outcome{Failure: true})
	b.Report("m2", health.Outcome{})
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Options{Circuits: b}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP sextant_circuit_state Per-model circuit breaker state: 1 for the current state (closed, open, half_open), 0 for the others.
# TYPE sextant_circuit_state gauge
sextant_circuit_state{model="m1",state="closed"} 0
sextant_circuit_state{model="m1",state="half_open"} 0
sextant_circuit_state{model="m1",state="open"} 1
sextant_circuit_state{model="m2",state="closed"} 1
sextant_circuit_state{model="m2",state="half_open"} 0
sextant_circuit_state{model="m2",state="open"} 0
# HELP sextant_circuit_transitions_total Circuit breaker state changes, by model, from and to state.
# TYPE sextant_circuit_transitions_total counter
sextant_circuit_transitions_total{from="closed",model="m1",to="open"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sextant_circuit_state", "sextant_circuit_transitions_total"); err != nil {
		t.Error(err)
	}
}
