// Package telemetry exports one OpenTelemetry span tree per request over
// OTLP/HTTP.
//
// # What it does
//
// A Sampler gives each arriving request a trace id (the gateway's
// WithTraceIDs hook): the client's, when it sent a valid W3C traceparent,
// so Sextant's spans join the caller's trace; otherwise the request id's
// 128 bits (X-Request-Id is a UUIDv7, so its hex without dashes is the
// trace id). The gateway returns it in X-Sextant-Trace-Id and the engine
// records it in the decision log (Decision.TraceID, column trace_id).
//
// Tracer is an engine.Observer. Observe only queues the finished request;
// one goroutine builds the spans after the fact from the trace's recorded
// timestamps and hands them to the SDK's batching exporter, so tracing adds
// nothing to a request's latency. The tree is
//
//	chat <route>                     SERVER span: the whole request
//	├── policy <kind>                one per policy node path that decided,
//	│   │                            nested by config path; each decision
//	│   │                            is an event (kind, decision, reason, data)
//	│   └── chat <upstream model>    CLIENT span per upstream attempt, under
//	│                                the node that chose its model; a stream
//	│                                has a first_token event
//	└── ...
//
// Attributes follow the GenAI semantic conventions: gen_ai.operation.name,
// gen_ai.provider.name (and the older gen_ai.system), gen_ai.request.model,
// gen_ai.response.model, gen_ai.usage.input_tokens, output_tokens,
// cache_read.input_tokens, gen_ai.response.finish_reasons, error.type and
// http.response.status_code; Sextant adds sextant.route, sextant.route.kind,
// sextant.model, sextant.decision (the decisions in order), sextant.node,
// sextant.policy.kind, sextant.reason, sextant.data, sextant.request_id,
// sextant.cost_usd, sextant.attempt.try, sextant.attempt.outcome,
// sextant.ttft_ms and sextant.stream.
//
// # Config
//
//	telemetry:
//	  service_name: sextant        # service.name
//	  sample_ratio: 1              # share of requests traced; a sampled parent always is
//	  otlp:
//	    endpoint: http://127.0.0.1:4318   # /v1/traces is added to a URL without a path
//	    insecure: false            # a bare host:port is sent over plain HTTP
//	    headers: {x-tenant: acme}
//	    headers_env: {authorization: OTLP_AUTH}   # secrets from the environment
//	    timeout: 10s
//
// Tracing is off unless otlp.endpoint is set; it is fixed for the process's
// life (a reload does not restart the exporter).
//
// # Failure behaviour
//
// A full queue (4096 requests) drops the request's spans and counts it
// (Dropped); a failing collector loses that batch (no retries, so a down
// collector cannot build a backlog). Shutdown builds what is queued and
// flushes within its context.
//
// # Example
//
//	tr, err := telemetry.New(telemetry.Options{Endpoint: "http://127.0.0.1:4318/v1/traces"})
//	eng := engine.New(snap, log, tr)
//	gw := gateway.New(eng, log, logger, gateway.WithTraceIDs(telemetry.NewSampler(1).TraceIDs))
//	defer tr.Shutdown(ctx)
package telemetry
