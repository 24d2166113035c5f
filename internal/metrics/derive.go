package metrics

import (
	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/trace"
)

// Label values for requests without a configured route or model; the
// leading underscore sets them apart from config names.
const (
	// UnknownRoute labels requests whose "model" named neither a route nor
	// a model: the raw name is never a label value.
	UnknownRoute = "_unknown"
	// NoModel labels requests that no model answered.
	NoModel = "_none"
)

// Outcomes of a request, from the HTTP status the client saw.
const (
	OutcomeOK            = "ok"
	OutcomeClientError   = "client_error"   // 4xx other than 429 and 499
	OutcomeRateLimited   = "rate_limited"   // 429
	OutcomeCanceled      = "canceled"       // 499: the client went away
	OutcomeTimeout       = "timeout"        // 504
	OutcomeUpstreamError = "upstream_error" // 502, 503
	OutcomeServerError   = "server_error"   // other 5xx
)

// Outcome maps an HTTP status to a request outcome.
func Outcome(status int) string {
	switch {
	case status >= 200 && status < 400:
		return OutcomeOK
	case status == 499:
		return OutcomeCanceled
	case status == 429:
		return OutcomeRateLimited
	case status == 504:
		return OutcomeTimeout
	case status == 502 || status == 503:
		return OutcomeUpstreamError
	case status >= 400 && status < 500:
		return OutcomeClientError
	default:
		return OutcomeServerError
	}
}

// RouteLabel is the route label of f: the configured route or model the
// client named, or UnknownRoute.
func RouteLabel(f *engine.Finished) string {
	if f.Kind == "" || f.Decision.Route == "" {
		return UnknownRoute
	}
	return f.Decision.Route
}

// ModelLabel is the model label of f: the catalog model that answered, or
// NoModel.
func ModelLabel(f *engine.Finished) string {
	if f.Decision.Model == "" {
		return NoModel
	}
	return f.Decision.Model
}

// UpstreamMS returns how long the request waited on upstreams: the length
// of the union of its attempts' intervals, in milliseconds. Concurrent
// attempts (races, hedges) count once.
func UpstreamMS(attempts []trace.Attempt) float64 {
	switch len(attempts) {
	case 0:
		return 0
	case 1:
		return max(attempts[0].LatencyMS, 0)
	}
	// Few attempts: sort their intervals by start on the stack.
	var buf [8][2]float64
	iv := buf[:0]
	for _, a := range attempts {
		iv = append(iv, [2]float64{a.StartMS, a.StartMS + max(a.LatencyMS, 0)})
	}
	for i := 1; i < len(iv); i++ {
		for j := i; j > 0 && iv[j][0] < iv[j-1][0]; j-- {
			iv[j], iv[j-1] = iv[j-1], iv[j]
		}
	}
	total, start, end := 0.0, iv[0][0], iv[0][1]
	for _, x := range iv[1:] {
		if x[0] > end {
			total += end - start
			start, end = x[0], x[1]
			continue
		}
		end = max(end, x[1])
	}
	return total + end - start
}

// OverheadMS returns Sextant's own time in a request: its total latency
// less the time spent waiting on upstreams (UpstreamMS). It includes
// decoding, routing, gates that call no model, encoding, and backoff
// waits between retries.
func OverheadMS(f *engine.Finished) float64 {
	return max(f.Decision.LatencyMS-UpstreamMS(f.Decision.Trace.Attempts), 0)
}

// Answer returns the attempt whose answer the client got: the last
// attempt on the answering model; nil when no model answered.
func Answer(f *engine.Finished) *trace.Attempt {
	d := f.Decision
	if d.Model == "" {
		return nil
	}
	for i := len(d.Trace.Attempts) - 1; i >= 0; i-- {
		if d.Trace.Attempts[i].Model == d.Model {
			return &d.Trace.Attempts[i]
		}
	}
	return nil
}

// BaselineCost returns what the answer would have cost on the snapshot's
// baseline model: the answer's tokens at the baseline's prices. It is 0
// when no model answered or no baseline is configured. The request's
// actual cost (Decision.CostMicros) includes failed and escalated
// attempts, so savings (baseline less actual) can be negative.
func BaselineCost(f *engine.Finished) catalog.Micros {
	if f.Snapshot == nil {
		return 0
	}
	b, ok := f.Snapshot.Models[f.Snapshot.Observability.Baseline]
	if !ok {
		return 0
	}
	a := Answer(f)
	if a == nil {
		return 0
	}
	return b.Price.Cost(a.Usage)
}

// Gate verdicts and cascade decisions as the kinds record them in the
// trace: a gate records Kind "gate", Decision "pass", "fail" or "skip" and
// Data["gate"] its name; a cascade records Kind "cascade", Decision
// "accept" or "escalate". A response cache is to record Kind "cache",
// Decision "hit" or "miss", and for a hit Data["cache"] "exact" or
// "semantic".
const (
	KindGate    = "gate"
	KindCascade = "cascade"
	KindCache   = "cache"
)

// maxLabel bounds a label value taken from a trace; longer values are
// not config names and are counted as "_other".
const maxLabel = 64

// GateVerdict returns the gate name and verdict of a gate decision; ok is
// false for other decisions and for verdicts outside pass, fail and skip.
func GateVerdict(d *trace.Decision) (gate, verdict string, ok bool) {
	if d.Kind != KindGate {
		return "", "", false
	}
	switch d.Decision {
	case "pass", "fail", "skip":
	default:
		return "", "", false
	}
	gate, _ = d.Data["gate"].(string)
	return safeLabel(gate), d.Decision, true
}

// CascadeDecision returns "accept" or "escalate" for a cascade decision.
func CascadeDecision(d *trace.Decision) (string, bool) {
	if d.Kind != KindCascade || (d.Decision != "accept" && d.Decision != "escalate") {
		return "", false
	}
	return d.Decision, true
}

// CacheResult returns "hit" or "miss" for a cache decision.
func CacheResult(d *trace.Decision) (string, bool) {
	if d.Kind != KindCache || (d.Decision != "hit" && d.Decision != "miss") {
		return "", false
	}
	return d.Decision, true
}

// CacheSource returns which cache answered a cache hit: "exact" or
// "semantic" as the decision's Data["cache"] says, "exact" when it says
// nothing else; "" for a miss or another decision.
func CacheSource(d *trace.Decision) string {
	if d.Kind != KindCache || d.Decision != "hit" {
		return ""
	}
	if s, _ := d.Data["cache"].(string); s == "semantic" {
		return s
	}
	return "exact"
}

// ChargesHealth reports whether a failed attempt counts against its
// model's health: failures of class caller (the request's fault),
// unsupported (the model cannot serve this request, such as a replayed
// model without the answer) and canceled (the client left) do not.
func ChargesHealth(a *trace.Attempt) bool {
	if a.Outcome != trace.OutcomeError {
		return false
	}
	switch a.ErrorClass {
	case "caller", "unsupported", "canceled":
		return false
	}
	return true
}

// KindLabel is a policy kind as a label value.
func KindLabel(kind string) string { return safeLabel(kind) }

func safeLabel(s string) string {
	switch {
	case s == "":
		return "_unnamed"
	case len(s) > maxLabel:
		return "_other"
	}
	return s
}
