package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sextant-router/sextant/internal/health"
)

// circuits exports the circuit breakers' states and transitions at scrape
// time, so a state change needs no call into this package.
type circuits struct {
	b           *health.Breakers
	state       *prometheus.Desc
	transitions *prometheus.Desc
}

var circuitStates = []health.State{health.Closed, health.Open, health.HalfOpen}

func newCircuits(b *health.Breakers) *circuits {
	return &circuits{b: b,
		state: prometheus.NewDesc("sextant_circuit_state",
			"Per-model circuit breaker state: 1 for the current state (closed, open, half_open), 0 for the others.",
			[]string{"model", "state"}, nil),
		transitions: prometheus.NewDesc("sextant_circuit_transitions_total",
			"Circuit breaker state changes, by model, from and to state.", []string{"model", "from", "to"}, nil),
	}
}

func (c *circuits) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.transitions
}

func (c *circuits) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.b.All() {
		for _, s := range circuitStates {
			v := 0.0
			if st.State == s.String() {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, st.Model, s.String())
		}
		for k, n := range c.b.Transitions(st.Model) {
			ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(n), st.Model, k[0].String(), k[1].String())
		}
	}
}
