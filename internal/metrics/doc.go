// Package metrics derives Sextant's Prometheus metrics from finished
// requests.
//
// # What it does
//
// Metrics is an engine.Observer: when the engine records a request's
// decision it hands the finished record (the trace of every policy
// decision and upstream attempt, usage, cost, latency) to Observe, which
// updates counters and histograms. Nothing else in Sextant imports this
// package, and a new policy kind's decisions are counted without any change
// here (sextant_policy_decisions_total by kind); gate verdicts, cascade
// steps and cache lookups are read from the trace by the conventions in
// derive.go. Library code takes an injected prometheus.Registerer; there
// are no global collectors. Handler serves a Gatherer's metrics.
//
// Label values are bounded by the config: route is a configured route or
// model name (or _unknown when the client named neither, never the raw
// name), model a catalog model (or _none when nothing answered), gate a
// gate's configured name, class a failure class, kind a policy kind. No
// user, key, prompt or request id is ever a label.
//
// # Metrics
//
//	sextant_requests_total{route,model,outcome}             counter
//	sextant_request_duration_seconds{route,model}           histogram, arrival to last byte
//	sextant_request_ttft_seconds{route,model}               histogram, streams: arrival to first content byte
//	sextant_request_overhead_seconds{route}                 histogram, total less time waiting on upstreams
//	sextant_upstream_attempts_total{model,outcome,class}    counter, every call to a model
//	sextant_upstream_attempt_duration_seconds{model}        histogram
//	sextant_tokens_total{route,model,type}                  counter, type: input, output, cached_input
//	sextant_cost_usd_total{route,model}                     counter, every attempt's cost
//	sextant_baseline_cost_usd_total{route,baseline}         counter, the answers' tokens at the baseline's prices
//	sextant_savings_usd{route,baseline}                     gauge, baseline less actual cost since start
//	sextant_policy_decisions_total{route,kind}              counter
//	sextant_gate_verdicts_total{route,gate,verdict}         counter, verdict: pass, fail, skip
//	sextant_cascade_steps_total{route,decision}             counter, decision: accept, escalate
//	sextant_cache_lookups_total{route,result,cache}         counter, result: hit, miss; cache: exact, semantic ("" on a miss)
//	sextant_http_requests_total{handler,code}               counter, every HTTP request by mux pattern
//	sextant_decisions_written_total                         counter (decision log)
//	sextant_decisions_dropped_total                         counter (decision log)
//	sextant_decision_write_errors_total                     counter (decision log)
//	sextant_decision_queue_records                          gauge (decision log)
//	sextant_circuit_state{model,state}                      gauge, 1 for the current state (closed, open, half_open)
//	sextant_circuit_transitions_total{model,from,to}        counter, circuit breaker state changes
//
// Outcome is ok, client_error, rate_limited, canceled, timeout,
// upstream_error or server_error, from the HTTP status the client saw.
// Overhead includes decoding, routing, encoding and retry backoff: it is
// the request's latency less the union of its attempts' intervals.
//
// Circuit families are exported when Options.Circuits is set (read at
// scrape time from internal/health). Budgets and race winners have no
// source in this build; their families are added with the code that
// produces them.
//
// # Failure behaviour
//
// Observe never fails and never blocks: it takes no lock of its own beyond
// the client library's atomic updates, and allocates nothing once a route
// and model pair has been seen (BenchmarkObserve). New returns an error
// when a family is already registered with reg.
//
// # Example
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, metrics.Options{Log: decisionLog})
//	eng := engine.New(snap, decisionLog, m)
//	mux.Handle("/metrics", metrics.Handler(reg))
package metrics
