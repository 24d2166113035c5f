package metrics

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/health"
	"github.com/sextant-router/sextant/internal/trace"
)

// LogStats are the decision log's counters (store.Log implements it).
type LogStats interface {
	Written() uint64
	Dropped() uint64
	WriteErrors() uint64
	Queued() int
}

// Options configure New.
type Options struct {
	// Log, when set, exports the decision log's counters.
	Log LogStats
	// Circuits, when set, exports the circuit breakers' states and
	// transitions (sextant_circuit_state, sextant_circuit_transitions_total).
	Circuits *health.Breakers
}

// Metrics derives Sextant's Prometheus metrics from finished requests. It
// implements engine.Observer; Observe is safe for concurrent use and
// allocation-free once a route and model pair has been seen.
type Metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	overhead    *prometheus.HistogramVec
	attempts    *prometheus.CounterVec
	attemptDur  *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	baseline    *prometheus.CounterVec
	savings     *prometheus.GaugeVec
	decisions   *prometheus.CounterVec
	gates       *prometheus.CounterVec
	cascades    *prometheus.CounterVec
	cache       *prometheus.CounterVec
	httpReqs    *prometheus.CounterVec
	reqChildren sync.Map // pairKey -> *pair
	attChildren sync.Map // model -> *modelChildren
}

// Buckets, in seconds.
var (
	// DurationBuckets span a cached answer to a long generation.
	DurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
	// TTFTBuckets resolve the first second finely.
	TTFTBuckets = []float64{.01, .025, .05, .1, .15, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 30}
	// OverheadBuckets start at 50µs: the gateway's own time is small.
	OverheadBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
)

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer, o Options) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_requests_total",
			Help: "Chat requests finished, by route, answering model and outcome."}, []string{"route", "model", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_request_duration_seconds",
			Help: "Total time of a chat request, arrival to last byte.", Buckets: DurationBuckets}, []string{"route", "model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_request_ttft_seconds",
			Help: "Time from arrival to the first content byte of a streamed answer.", Buckets: TTFTBuckets}, []string{"route", "model"}),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_request_overhead_seconds",
			Help:    "Sextant's own time in a request: total time less the time waiting on upstreams (retry backoff included).",
			Buckets: OverheadBuckets}, []string{"route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_upstream_attempts_total",
			Help: "Calls to models, by model, outcome (ok, error, canceled) and failure class of errors (transient, rate_limit, auth, quota, unsupported, caller, unknown)."},
			[]string{"model", "outcome", "class"}),
		attemptDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sextant_upstream_attempt_duration_seconds",
			Help: "Duration of one call to a model.", Buckets: DurationBuckets}, []string{"model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_tokens_total",
			Help: "Tokens billed by models, by route, model and type (input, output, cached_input)."}, []string{"route", "model", "type"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_cost_usd_total",
			Help: "Cost of model calls in US dollars, failed and escalated attempts included, by route and the model that charged it."},
			[]string{"route", "model"}),
		baseline: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_baseline_cost_usd_total",
			Help: "What the answers would have cost on the baseline model (metrics.baseline) with the same tokens, in US dollars."},
			[]string{"route", "baseline"}),
		savings: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sextant_savings_usd",
			Help: "Baseline cost less actual cost since start, in US dollars; negative when routing cost more."},
			[]string{"route", "baseline"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_policy_decisions_total",
			Help: "Decisions recorded by policy nodes, by route and node kind."}, []string{"route", "kind"}),
		gates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_gate_verdicts_total",
			Help: "Quality gate verdicts (pass, fail, skip), by route and gate."}, []string{"route", "gate", "verdict"}),
		cascades: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_cascade_steps_total",
			Help: "Cascade steps, by route and decision: accept the tier's answer or escalate to the next tier."},
			[]string{"route", "decision"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_cache_lookups_total",
			Help: "Response cache lookups, by route, result (hit, miss) and for hits the cache that answered (exact, semantic; empty for misses)."},
			[]string{"route", "result", "cache"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sextant_http_requests_total",
			Help: "HTTP requests served, by handler pattern and status code (rejected and non-chat requests included)."},
			[]string{"handler", "code"}),
	}
	cs := []prometheus.Collector{m.requests, m.duration, m.ttft, m.overhead, m.attempts, m.attemptDur, m.tokens, m.cost,
		m.baseline, m.savings, m.decisions, m.gates, m.cascades, m.cache, m.httpReqs}
	if l := o.Log; l != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sextant_decisions_written_total",
				Help: "Decision records written to the decision log."}, func() float64 { return float64(l.Written()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sextant_decisions_dropped_total",
				Help: "Decision records dropped: queue full, write failed for good, or unwritten at shutdown."},
				func() float64 { return float64(l.Dropped()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sextant_decision_write_errors_total",
				Help: "Failed decision log writes (each may be retried)."}, func() float64 { return float64(l.WriteErrors()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sextant_decision_queue_records",
				Help: "Decision records waiting to be written."}, func() float64 { return float64(l.Queued()) }),
		)
	}
	if o.Circuits != nil {
		cs = append(cs, newCircuits(o.Circuits))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the metrics gathered by g in the Prometheus text (or
// OpenMetrics, when asked) format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// pair holds the children of one route and model pair, so that a request
// costs no label hashing once its pair was seen.
type pair struct {
	outcomes  sync.Map // outcome -> prometheus.Counter
	duration  prometheus.Observer
	ttft      prometheus.Observer
	overhead  prometheus.Observer
	decisions sync.Map // kind -> prometheus.Counter
	baseline  sync.Map // baseline model -> *baselineChildren
}

type baselineChildren struct {
	cost    prometheus.Counter
	savings prometheus.Gauge
}

func (p *pair) baselineFor(m *Metrics, route, model string) *baselineChildren {
	if c, ok := p.baseline.Load(model); ok {
		return c.(*baselineChildren)
	}
	c, _ := p.baseline.LoadOrStore(model, &baselineChildren{
		cost: m.baseline.WithLabelValues(route, model), savings: m.savings.WithLabelValues(route, model)})
	return c.(*baselineChildren)
}

type pairKey struct{ route, model string }

func (m *Metrics) pair(route, model string) *pair {
	k := pairKey{route, model}
	if p, ok := m.reqChildren.Load(k); ok {
		return p.(*pair)
	}
	p := &pair{
		duration: m.duration.WithLabelValues(route, model),
		ttft:     m.ttft.WithLabelValues(route, model),
		overhead: m.overhead.WithLabelValues(route),
	}
	actual, _ := m.reqChildren.LoadOrStore(k, p)
	return actual.(*pair)
}

func (p *pair) outcome(m *Metrics, route, model, outcome string) prometheus.Counter {
	if c, ok := p.outcomes.Load(outcome); ok {
		return c.(prometheus.Counter)
	}
	c, _ := p.outcomes.LoadOrStore(outcome, m.requests.WithLabelValues(route, model, outcome))
	return c.(prometheus.Counter)
}

func (p *pair) decision(m *Metrics, route, kind string) prometheus.Counter {
	if c, ok := p.decisions.Load(kind); ok {
		return c.(prometheus.Counter)
	}
	c, _ := p.decisions.LoadOrStore(kind, m.decisions.WithLabelValues(route, kind))
	return c.(prometheus.Counter)
}

// modelChildren holds one route's per-model attempt children.
type modelChildren struct {
	model                 string
	ok, canceled          prometheus.Counter
	errored               sync.Map // class -> prometheus.Counter
	duration              prometheus.Observer
	input, output, cached prometheus.Counter
	cost                  prometheus.Counter
}

func (c *modelChildren) errorClass(m *Metrics, class string) prometheus.Counter {
	if x, ok := c.errored.Load(class); ok {
		return x.(prometheus.Counter)
	}
	x, _ := c.errored.LoadOrStore(class, m.attempts.WithLabelValues(c.model, "error", safeLabel(class)))
	return x.(prometheus.Counter)
}

type attKey struct{ route, model string }

func (m *Metrics) model(route, model string) *modelChildren {
	k := attKey{route, model}
	if c, ok := m.attChildren.Load(k); ok {
		return c.(*modelChildren)
	}
	c := &modelChildren{model: model,
		ok: m.attempts.WithLabelValues(model, "ok", ""), canceled: m.attempts.WithLabelValues(model, "canceled", "canceled"),
		duration: m.attemptDur.WithLabelValues(model),
		input:    m.tokens.WithLabelValues(route, model, "input"), output: m.tokens.WithLabelValues(route, model, "output"),
		cached: m.tokens.WithLabelValues(route, model, "cached_input"), cost: m.cost.WithLabelValues(route, model),
	}
	actual, _ := m.attChildren.LoadOrStore(k, c)
	return actual.(*modelChildren)
}

// Observe implements engine.Observer.
func (m *Metrics) Observe(f *engine.Finished) {
	d := f.Decision
	route, model := RouteLabel(f), ModelLabel(f)
	p := m.pair(route, model)
	p.outcome(m, route, model, Outcome(d.Status)).Inc()
	p.duration.Observe(d.LatencyMS / 1e3)
	if d.TTFTMS > 0 {
		p.ttft.Observe(d.TTFTMS / 1e3)
	}
	p.overhead.Observe(OverheadMS(f) / 1e3)

	for i := range d.Trace.Attempts {
		a := &d.Trace.Attempts[i]
		c := m.model(route, a.Model)
		switch a.Outcome {
		case trace.OutcomeOK:
			c.ok.Inc()
		case trace.OutcomeCanceled:
			c.canceled.Inc()
		default:
			c.errorClass(m, a.ErrorClass).Inc()
		}
		c.duration.Observe(a.LatencyMS / 1e3)
		cached := min(max(a.Usage.CachedTokens, 0), max(a.Usage.PromptTokens, 0))
		if n := a.Usage.PromptTokens - cached; n > 0 {
			c.input.Add(float64(n))
		}
		if cached > 0 {
			c.cached.Add(float64(cached))
		}
		if a.Usage.CompletionTokens > 0 {
			c.output.Add(float64(a.Usage.CompletionTokens))
		}
		if a.CostMicros != 0 {
			c.cost.Add(a.CostMicros.USD())
		}
	}
	if f.Snapshot != nil && f.Snapshot.Observability.Baseline != "" {
		bc := p.baselineFor(m, route, f.Snapshot.Observability.Baseline)
		base := BaselineCost(f)
		bc.cost.Add(base.USD())
		bc.savings.Add((base - d.CostMicros).USD())
	}
	for i := range d.Trace.Decisions {
		x := &d.Trace.Decisions[i]
		p.decision(m, route, KindLabel(x.Kind)).Inc()
		switch x.Kind {
		case KindGate:
			if g, v, ok := GateVerdict(x); ok {
				m.gates.WithLabelValues(route, g, v).Inc()
			}
		case KindCascade:
			if v, ok := CascadeDecision(x); ok {
				m.cascades.WithLabelValues(route, v).Inc()
			}
		case KindCache:
			if v, ok := CacheResult(x); ok {
				m.cache.WithLabelValues(route, v, CacheSource(x)).Inc()
			}
		}
	}
}

// ObserveHTTP counts one HTTP request by the pattern of the handler that
// served it ("" for none) and its status code.
func (m *Metrics) ObserveHTTP(pattern string, status int) {
	if pattern == "" {
		pattern = "_none"
	}
	m.httpReqs.WithLabelValues(pattern, strconv.Itoa(status)).Inc()
}

var _ engine.Observer = (*Metrics)(nil)
