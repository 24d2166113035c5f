package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/store"
	sxtrace "github.com/sextant-router/sextant/internal/trace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// finishedRequest: route auto, rules picked a fallback whose first model
// failed and whose second answered as a stream.
func finishedRequest(parent string) *engine.Finished {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	d := &store.Decision{
		RequestID: "01936f3e-8a2b-7c4d-9e5f-0a1b2c3d4e5f", TraceID: "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f",
		Time: start, Route: "auto", Model: "small", Status: 200, Stream: true, LatencyMS: 500, TTFTMS: 150,
		Usage: llm.Usage{PromptTokens: 20, CompletionTokens: 40, TotalTokens: 60}, CostMicros: 12,
		Trace: sxtrace.View{
			Decisions: []sxtrace.Decision{
				{Node: "routes.auto.rules", Kind: "rules", Decision: "hard -> fallback", Reason: "request.has_code", AtMS: 1},
				{Node: "routes.auto.rules.rules[0].route.fallback[0]", Kind: "model", Decision: "big", AtMS: 2},
				{Node: "routes.auto.rules.rules[0].route.fallback[0]", Kind: "fallback", Decision: "fail over", Reason: "big failed (transient)", AtMS: 60},
				{Node: "routes.auto.rules.rules[0].route.fallback[1]", Kind: "model", Decision: "small", AtMS: 61},
				{Node: "routes.auto.rules.rules[0].route.fallback[1]", Kind: "fallback", Decision: "accept", Data: map[string]any{"n": 1}, AtMS: 200},
			},
			Attempts: []sxtrace.Attempt{
				{Model: "big", Provider: "openai", Try: 1, Outcome: sxtrace.OutcomeError, Status: 503, ErrorClass: "transient", Error: "overloaded", StartMS: 3, LatencyMS: 50},
				{Model: "small", Provider: "gemini", Try: 1, Stream: true, Outcome: sxtrace.OutcomeOK, Status: 200, StartMS: 62, TTFTMS: 88, LatencyMS: 430,
					Usage: llm.Usage{PromptTokens: 20, CompletionTokens: 40, TotalTokens: 60}, CostMicros: 12, Finish: "stop"},
			},
		},
	}
	snap := &config.Snapshot{Models: map[string]*catalog.Model{
		"big":   {Name: "big", Provider: "openai", Upstream: "gpt-big"},
		"small": {Name: "small", Provider: "gemini", Upstream: "gemini-small"},
	}}
	return &engine.Finished{Decision: d, Kind: "route", Snapshot: snap, ParentSpanID: parent}
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpanTree(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(Options{Exporter: exp, ServiceName: "sextant-test"})
	if err != nil {
		t.Fatal(err)
	}
	tr.Observe(finishedRequest("00f067aa0ba902b7"))
	tr.Observe(&engine.Finished{Decision: &store.Decision{RequestID: "untraced"}}) // no trace id: skipped
	defer tr.Shutdown(context.Background())
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans().Snapshots()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
	}
	// request, rules, two fallback candidates, two attempts.
	if len(spans) != 6 {
		for _, s := range spans {
			t.Logf("%s parent=%s", s.Name(), s.Parent().SpanID())
		}
		t.Fatalf("%d spans, want 6", len(spans))
	}
	root := byName["chat auto"]
	if root == nil {
		t.Fatal("no request span")
	}
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if root.SpanContext().TraceID().String() != "01936f3e8a2b7c4d9e5f0a1b2c3d4e5f" || root.Parent().SpanID().String() != "00f067aa0ba902b7" || !root.Parent().IsRemote() {
		t.Errorf("root trace %s parent %s remote %v", root.SpanContext().TraceID(), root.Parent().SpanID(), root.Parent().IsRemote())
	}
	if root.SpanKind() != trace.SpanKindServer || !root.StartTime().Equal(start) || !root.EndTime().Equal(start.Add(500*time.Millisecond)) {
		t.Errorf("root kind %v, %v..%v", root.SpanKind(), root.StartTime(), root.EndTime())
	}
	ra := attrs(root)
	for k, want := range map[attribute.Key]any{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "auto", "gen_ai.response.model": "gemini-small",
		"gen_ai.provider.name": "gcp.gemini", "gen_ai.system": "gcp.gemini", "gen_ai.usage.input_tokens": int64(20),
		"gen_ai.usage.output_tokens": int64(40), "sextant.route": "auto", "sextant.model": "small",
		"sextant.request_id": "01936f3e-8a2b-7c4d-9e5f-0a1b2c3d4e5f", "http.response.status_code": int64(200),
		"sextant.decision": "rules: hard -> fallback; model: big; fallback: fail over; model: small; fallback: accept",
	} {
		if got := ra[k].AsInterface(); got != want {
			t.Errorf("root %s = %v, want %v", k, got, want)
		}
	}
	if fr := ra["gen_ai.response.finish_reasons"].AsStringSlice(); len(fr) != 1 || fr[0] != "stop" {
		t.Errorf("finish reasons = %v", fr)
	}
	if root.Resource().Set().Len() == 0 {
		t.Error("no resource")
	} else if v, _ := root.Resource().Set().Value("service.name"); v.AsString() != "sextant-test" {
		t.Errorf("service.name = %v", v.AsString())
	}

	// Node spans nest by config path; attempts hang under the candidate
	// that chose their model.
	var rules, cand0, cand1 sdktrace.ReadOnlySpan
	for _, s := range spans {
		switch attrs(s)["sextant.node"].AsString() {
		case "routes.auto.rules":
			rules = s
		case "routes.auto.rules.rules[0].route.fallback[0]":
			cand0 = s
		case "routes.auto.rules.rules[0].route.fallback[1]":
			cand1 = s
		}
	}
	if rules == nil || cand0 == nil || cand1 == nil {
		t.Fatal("missing node spans")
	}
	if rules.Parent().SpanID() != root.SpanContext().SpanID() || cand0.Parent().SpanID() != rules.SpanContext().SpanID() ||
		cand1.Parent().SpanID() != rules.SpanContext().SpanID() {
		t.Error("node spans are not nested by path")
	}
	if rules.Name() != "policy rules" || cand0.Name() != "policy model" || len(cand0.Events()) != 2 {
		t.Errorf("rules %q cand0 %q with %d events", rules.Name(), cand0.Name(), len(cand0.Events()))
	}
	big, small := byName["chat gpt-big"], byName["chat gemini-small"]
	if big == nil || small == nil {
		t.Fatal("missing attempt spans")
	}
	if big.Parent().SpanID() != cand0.SpanContext().SpanID() || small.Parent().SpanID() != cand1.SpanContext().SpanID() {
		t.Error("attempts not under their candidates")
	}
	if big.Status().Code != codes.Error || big.SpanKind() != trace.SpanKindClient || attrs(big)["error.type"].AsString() != "transient" {
		t.Errorf("failed attempt: status %v kind %v attrs %v", big.Status(), big.SpanKind(), attrs(big))
	}
	if !small.StartTime().Equal(start.Add(62*time.Millisecond)) || !small.EndTime().Equal(start.Add(492*time.Millisecond)) {
		t.Errorf("small attempt %v..%v", small.StartTime(), small.EndTime())
	}
	if ev := small.Events(); len(ev) != 1 || ev[0].Name != "first_token" || !ev[0].Time.Equal(start.Add(150*time.Millisecond)) {
		t.Errorf("first token event = %+v", ev)
	}
	// A node span covers its attempts.
	if cand1.StartTime().After(small.StartTime()) || cand1.EndTime().Before(small.EndTime()) {
		t.Errorf("candidate %v..%v does not cover its attempt %v..%v", cand1.StartTime(), cand1.EndTime(), small.StartTime(), small.EndTime())
	}
	if tr.Spans() != 6 || tr.Dropped() != 0 {
		t.Errorf("spans %d dropped %d", tr.Spans(), tr.Dropped())
	}
}

// Without a client span the request span is a root with the request's
// own trace id.
func TestRootSpanWithoutParent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	f := finishedRequest("")
	f.Decision.Trace = sxtrace.View{}
	f.Decision.Model, f.Decision.Status, f.Decision.ErrorType, f.Decision.ErrorMessage = "", 502, "upstream_error", "all failed"
	tr.Observe(f)
	defer tr.Shutdown(context.Background())
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans().Snapshots()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Parent().IsValid() || s.SpanContext().TraceID().String() != f.Decision.TraceID || s.Status().Code != codes.Error {
		t.Errorf("parent %v trace %s status %v", s.Parent(), s.SpanContext().TraceID(), s.Status())
	}
}

func TestObserveAfterShutdownIsIgnored(t *testing.T) {
	tr, err := New(Options{Exporter: tracetest.NewInMemoryExporter(), Queue: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.Observe(finishedRequest("")) // must not panic on the closed queue
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Logf("second shutdown: %v", err)
	}
}

func BenchmarkObserve(b *testing.B) {
	tr, err := New(Options{Exporter: tracetest.NewNoopExporter(), Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	f := finishedRequest("")
	b.ReportAllocs()
	for b.Loop() {
		tr.Observe(f)
	}
}
