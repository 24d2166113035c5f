package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeLog struct{ written, dropped, errs uint64 }

func (f *fakeLog) Written() uint64     { return f.written }
func (f *fakeLog) Dropped() uint64     { return f.dropped }
func (f *fakeLog) WriteErrors() uint64 { return f.errs }
func (f *fakeLog) Queued() int         { return 3 }

func TestObserve(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	log := &fakeLog{written: 7, dropped: 2}
	m, err := New(reg, Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	m.Observe(finished())
	m.Observe(finished())

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"requests ok", m.requests.WithLabelValues("auto", "small", "ok"), 2},
		{"attempt errors by class", m.attempts.WithLabelValues("big", "error", "transient"), 2},
		{"attempts ok", m.attempts.WithLabelValues("small", "ok", ""), 2},
		{"input tokens", m.tokens.WithLabelValues("auto", "small", "input"), 2000},
		{"output tokens", m.tokens.WithLabelValues("auto", "small", "output"), 1000},
		{"cost", m.cost.WithLabelValues("auto", "small"), 100e-6},
		{"baseline", m.baseline.WithLabelValues("auto", "big"), 0.05},
		{"savings", m.savings.WithLabelValues("auto", "big"), 0.05 - 100e-6},
		{"gate fail", m.gates.WithLabelValues("auto", "structure", "fail"), 2},
		{"gate pass", m.gates.WithLabelValues("auto", "structure", "pass"), 2},
		{"escalations", m.cascades.WithLabelValues("auto", "escalate"), 2},
		{"accepts", m.cascades.WithLabelValues("auto", "accept"), 2},
		{"gate decisions", m.decisions.WithLabelValues("auto", "gate"), 4},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("duration series = %d, want 1", n)
	}
	// Histograms: the overhead of 20ms lands in the 25ms bucket.
	want := `
# HELP sextant_request_overhead_seconds Sextant's own time in a request: total time less the time waiting on upstreams (retry backoff included).
# TYPE sextant_request_overhead_seconds histogram
sextant_request_overhead_seconds_bucket{route="auto",le="5e-05"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.0001"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.00025"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.0005"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.001"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.0025"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.005"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.01"} 0
sextant_request_overhead_seconds_bucket{route="auto",le="0.025"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="0.05"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="0.1"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="0.25"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="0.5"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="1"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="5"} 2
sextant_request_overhead_seconds_bucket{route="auto",le="+Inf"} 2
sextant_request_overhead_seconds_sum{route="auto"} 0.04
sextant_request_overhead_seconds_count{route="auto"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sextant_request_overhead_seconds"); err != nil {
		t.Error(err)
	}
	logWant := `
# HELP sextant_decisions_dropped_total Decision records dropped: queue full, write failed for good, or unwritten at shutdown.
# TYPE sextant_decisions_dropped_total counter
sextant_decisions_dropped_total 2
# HELP sextant_decision_queue_records Decision records waiting to be written.
# TYPE sextant_decision_queue_records gauge
sextant_decision_queue_records 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(logWant), "sextant_decisions_dropped_total", "sextant_decision_queue_records"); err != nil {
		t.Error(err)
	}
	// The pedantic registry checks names, help and label consistency.
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// A request naming nothing configured is labelled _unknown, never with
// the name the client sent.
func TestObserveUnknownRouteHasNoRawLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := finished()
	f.Kind, f.Decision.Route, f.Decision.Model, f.Decision.Status = "", "secret-client-model", "", 404
	f.Decision.Trace.Attempts, f.Decision.Trace.Decisions = nil, nil
	m.Observe(f)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					routes[l.GetValue()] = true
				}
			}
		}
	}
	if routes["secret-client-model"] || !routes["_unknown"] {
		t.Errorf("route labels = %v, want only _unknown", routes)
	}
}

func TestNewRejectsDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Options{}); err == nil {
		t.Error("second New on one registry succeeded")
	}
}

func TestObserveHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, _ := New(reg, Options{})
	m.ObserveHTTP("/v1/chat/completions", 401)
	m.ObserveHTTP("", 404)
	if got := testutil.ToFloat64(m.httpReqs.WithLabelValues("/v1/chat/completions", "401")); got != 1 {
		t.Errorf("401s = %v", got)
	}
	if got := testutil.ToFloat64(m.httpReqs.WithLabelValues("_none", "404")); got != 1 {
		t.Errorf("unmatched = %v", got)
	}
}

// BenchmarkObserve measures the metrics hook on one finished request with
// two attempts and four decisions: what the engine adds to a request.
func BenchmarkObserve(b *testing.B) {
	m, err := New(prometheus.NewRegistry(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	f := finished()
	m.Observe(f) // create the series once, as a running server has
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Observe(f)
	}
}
