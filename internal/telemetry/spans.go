package telemetry

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sextant-router/sextant/internal/engine"
	sxtrace "github.com/sextant-router/sextant/internal/trace"
)

type attributeKV = attribute.KeyValue

// Sextant's own span attributes, beside the GenAI semantic conventions.
const (
	AttrRoute     = attribute.Key("sextant.route")      // the route or model the client named
	AttrRouteKind = attribute.Key("sextant.route.kind") // "route", "model" or "" (unknown)
	AttrRequestID = attribute.Key("sextant.request_id") // X-Request-Id
	AttrModel     = attribute.Key("sextant.model")      // catalog model name
	AttrDecision  = attribute.Key("sextant.decision")   // what a node decided
	AttrReason    = attribute.Key("sextant.reason")     // why
	AttrNode      = attribute.Key("sextant.node")       // the node's config path
	AttrKind      = attribute.Key("sextant.policy.kind")
	AttrData      = attribute.Key("sextant.data") // a decision's data, JSON
	AttrCostUSD   = attribute.Key("sextant.cost_usd")
	AttrTry       = attribute.Key("sextant.attempt.try")
	AttrOutcome   = attribute.Key("sextant.attempt.outcome")
	AttrTTFT      = attribute.Key("sextant.ttft_ms")
	AttrStream    = attribute.Key("sextant.stream")
	// AttrSystem is gen_ai.system, the attribute gen_ai.provider.name
	// replaced; still read by many GenAI tools, so both are set.
	AttrSystem = attribute.Key("gen_ai.system")
)

// maxValue bounds a string attribute taken from the client (the model
// name it sent for an unknown route).
const maxValue = 256

// export builds and ends the span tree of one finished request and
// returns how many spans it made:
//
//	chat <route>                       the request (server span)
//	├── policy <kind> <node path>      one per policy node that decided,
//	│   │                              nested by config path
//	│   └── chat <model>               one per upstream attempt (client span)
//	└── ...
//
// Node spans carry each decision as an event; attempt spans hang under the
// node that chose their model, or under the request.
func export(tr trace.Tracer, f *engine.Finished) int {
	d := f.Decision
	tid, err := trace.TraceIDFromHex(d.TraceID)
	if err != nil {
		return 0
	}
	start := d.Time
	at := func(ms float64) time.Time { return start.Add(time.Duration(ms * float64(time.Millisecond))) }
	end := at(d.LatencyMS)

	ctx := withTraceID(context.Background(), tid)
	if sid, err := trace.SpanIDFromHex(f.ParentSpanID); err == nil {
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	}

	route := clip(d.Route)
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIRequestModel(route),
		AttrRoute.String(route),
		AttrRouteKind.String(f.Kind),
		AttrRequestID.String(d.RequestID),
		AttrStream.Bool(d.Stream),
		semconv.HTTPResponseStatusCode(d.Status),
		semconv.GenAIUsageInputTokens(d.Usage.PromptTokens),
		semconv.GenAIUsageOutputTokens(d.Usage.CompletionTokens),
		AttrCostUSD.Float64(d.CostMicros.USD()),
	}
	if d.Usage.CachedTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens(d.Usage.CachedTokens))
	}
	if d.Model != "" {
		attrs = append(attrs, AttrModel.String(d.Model))
		if f.Snapshot != nil {
			if m, ok := f.Snapshot.Models[d.Model]; ok {
				attrs = append(attrs, semconv.GenAIResponseModel(m.Upstream), provider(m.Provider), AttrSystem.String(providerName(m.Provider)))
			}
		}
	}
	if a := answer(d.Model, d.Trace.Attempts); a != nil && a.Finish != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(a.Finish))
	}
	if d.TTFTMS > 0 {
		attrs = append(attrs, AttrTTFT.Float64(d.TTFTMS))
	}
	if len(d.Trace.Decisions) > 0 {
		attrs = append(attrs, AttrDecision.String(summary(d.Trace.Decisions)))
	}
	if d.ErrorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(d.ErrorType))
	}
	ctx, root := tr.Start(ctx, "chat "+route, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attrs...))
	if d.Status >= 500 {
		root.SetStatus(codes.Error, d.ErrorMessage)
	}
	n := 1

	// Policy nodes: one span per config path, in order of first decision.
	type node struct {
		path    string
		parent  int // index into nodes, -1 for the request
		decs    []*sxtrace.Decision
		from    float64
		to      float64
		ctx     context.Context
		span    trace.Span
		started bool
	}
	var nodes []*node
	byPath := map[string]int{}
	for i := range d.Trace.Decisions {
		x := &d.Trace.Decisions[i]
		j, ok := byPath[x.Node]
		if !ok {
			j = len(nodes)
			byPath[x.Node] = j
			nodes = append(nodes, &node{path: x.Node, parent: -1, from: x.AtMS, to: x.AtMS})
		}
		nd := nodes[j]
		nd.decs = append(nd.decs, x)
		nd.from, nd.to = min(nd.from, x.AtMS), max(nd.to, x.AtMS)
	}
	for _, nd := range nodes {
		best := -1
		for j, other := range nodes {
			if other != nd && under(nd.path, other.path) && (best < 0 || len(other.path) > len(nodes[best].path)) {
				best = j
			}
		}
		nd.parent = best
	}
	// Attempts hang under the latest node that chose their model before
	// they began.
	owner := make([]int, len(d.Trace.Attempts))
	for i, a := range d.Trace.Attempts {
		owner[i] = -1
		bestAt := -1.0
		for j, nd := range nodes {
			for _, x := range nd.decs {
				if x.Kind == "model" && x.Decision == a.Model && x.AtMS <= a.StartMS+0.001 && x.AtMS >= bestAt {
					owner[i], bestAt = j, x.AtMS
				}
			}
		}
	}
	// Widen each node to cover its attempts and descendants.
	for i, a := range d.Trace.Attempts {
		for j := owner[i]; j >= 0; j = nodes[j].parent {
			nodes[j].from = min(nodes[j].from, a.StartMS)
			nodes[j].to = max(nodes[j].to, a.StartMS+max(a.LatencyMS, 0))
		}
	}
	for _, nd := range nodes {
		for p := nd.parent; p >= 0; p = nodes[p].parent {
			nodes[p].from, nodes[p].to = min(nodes[p].from, nd.from), max(nodes[p].to, nd.to)
		}
	}
	var open func(j int) context.Context
	open = func(j int) context.Context {
		nd := nodes[j]
		if nd.started {
			return nd.ctx
		}
		pctx := ctx
		if nd.parent >= 0 {
			pctx = open(nd.parent)
		}
		first := nd.decs[0]
		a := []attribute.KeyValue{AttrNode.String(nd.path), AttrKind.String(first.Kind), AttrDecision.String(first.Decision)}
		if first.Reason != "" {
			a = append(a, AttrReason.String(first.Reason))
		}
		nd.ctx, nd.span = tr.Start(pctx, "policy "+first.Kind, trace.WithTimestamp(at(nd.from)), trace.WithAttributes(a...))
		for _, x := range nd.decs {
			ea := []attribute.KeyValue{AttrKind.String(x.Kind), AttrDecision.String(x.Decision)}
			if x.Reason != "" {
				ea = append(ea, AttrReason.String(x.Reason))
			}
			if len(x.Data) > 0 {
				if b, err := json.Marshal(x.Data); err == nil {
					ea = append(ea, AttrData.String(string(b)))
				}
			}
			nd.span.AddEvent("decision", trace.WithTimestamp(at(x.AtMS)), trace.WithAttributes(ea...))
		}
		nd.started = true
		n++
		return nd.ctx
	}
	for j := range nodes {
		open(j)
	}
	for i := range d.Trace.Attempts {
		a := &d.Trace.Attempts[i]
		pctx := ctx
		if owner[i] >= 0 {
			pctx = nodes[owner[i]].ctx
		}
		attemptSpan(tr, pctx, f, a, at)
		n++
	}
	for j := len(nodes) - 1; j >= 0; j-- {
		nodes[j].span.End(trace.WithTimestamp(at(nodes[j].to)))
	}
	root.End(trace.WithTimestamp(end))
	return n
}

func attemptSpan(tr trace.Tracer, ctx context.Context, f *engine.Finished, a *sxtrace.Attempt, at func(float64) time.Time) {
	upstream, prov := a.Model, a.Provider
	if f.Snapshot != nil {
		if m, ok := f.Snapshot.Models[a.Model]; ok {
			upstream = m.Upstream
		}
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		provider(prov),
		AttrSystem.String(providerName(prov)),
		semconv.GenAIRequestModel(upstream),
		AttrModel.String(a.Model),
		AttrTry.Int(a.Try),
		AttrOutcome.String(a.Outcome),
		AttrStream.Bool(a.Stream),
		semconv.GenAIUsageInputTokens(a.Usage.PromptTokens),
		semconv.GenAIUsageOutputTokens(a.Usage.CompletionTokens),
		AttrCostUSD.Float64(a.CostMicros.USD()),
	}
	if a.Status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.Status))
	}
	if a.Outcome == sxtrace.OutcomeOK {
		attrs = append(attrs, semconv.GenAIResponseModel(upstream))
	}
	if a.Finish != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(a.Finish))
	}
	if a.Usage.CachedTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens(a.Usage.CachedTokens))
	}
	if a.ErrorClass != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(a.ErrorClass))
	}
	_, sp := tr.Start(ctx, "chat "+upstream, trace.WithTimestamp(at(a.StartMS)), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...))
	if a.TTFTMS > 0 && a.Stream {
		sp.AddEvent("first_token", trace.WithTimestamp(at(a.StartMS+a.TTFTMS)), trace.WithAttributes(AttrTTFT.Float64(a.TTFTMS)))
	}
	if a.Outcome == sxtrace.OutcomeError {
		sp.SetStatus(codes.Error, a.Error)
	}
	sp.End(trace.WithTimestamp(at(a.StartMS + max(a.LatencyMS, 0))))
}

// under reports whether path is inside parent's subtree: parent is a
// proper prefix ending at a path boundary.
func under(path, parent string) bool {
	if len(path) <= len(parent) || !strings.HasPrefix(path, parent) {
		return false
	}
	c := path[len(parent)]
	return c == '.' || c == '['
}

// answer returns the last attempt on model.
func answer(model string, as []sxtrace.Attempt) *sxtrace.Attempt {
	if model == "" {
		return nil
	}
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Model == model {
			return &as[i]
		}
	}
	return nil
}

// summary is the routing decision in one line: each decision's kind and
// choice in order, "rules: hard -> fallback; model: gpt-4".
func summary(ds []sxtrace.Decision) string {
	var b strings.Builder
	for i, x := range ds {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.Kind)
		b.WriteString(": ")
		b.WriteString(x.Decision)
		if b.Len() > maxValue*4 {
			break
		}
	}
	return b.String()
}

// provider is gen_ai.provider.name for an adapter kind.
func provider(kind string) attribute.KeyValue {
	return semconv.GenAIProviderNameKey.String(providerName(kind))
}

func providerName(kind string) string {
	switch kind {
	case "gemini":
		return "gcp.gemini"
	case "":
		return "_unknown"
	}
	return kind
}

func clip(s string) string {
	if len(s) <= maxValue {
		return s
	}
	return s[:maxValue]
}
