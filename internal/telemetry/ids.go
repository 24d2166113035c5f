package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Sampler decides which requests are traced and gives each its trace id.
type Sampler struct {
	// ratio in [0,1]: the share of requests without a sampled parent that
	// are traced, decided by their trace id so every replica agrees.
	ratio float64
}

// NewSampler returns a sampler tracing the given share of requests.
func NewSampler(ratio float64) Sampler { return Sampler{ratio: min(max(ratio, 0), 1)} }

// TraceIDs returns the trace id of a request and its client's span id,
// both hex, or "" when the request is not traced. A request with a valid
// W3C traceparent header joins the client's trace (and is traced when the
// client sampled it); otherwise the trace id is the request id's 128 bits
// (a UUID, dashes dropped), so X-Request-Id and the trace id name the same
// request, or random when the request id is not a UUID.
func (s Sampler) TraceIDs(h http.Header, requestID string) (traceID, parentSpanID string) {
	if tid, sid, sampled, ok := parseTraceparent(h.Get("Traceparent")); ok {
		if sampled || s.keep(tid) {
			return tid.String(), sid.String()
		}
		return "", ""
	}
	tid, ok := fromUUID(requestID)
	if !ok {
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
	}
	if !s.keep(tid) {
		return "", ""
	}
	return tid.String(), ""
}

// keep applies the ratio to the trace id's low 63 bits (random in a UUIDv7
// and in W3C trace ids), as OpenTelemetry's TraceIDRatioBased does.
func (s Sampler) keep(tid trace.TraceID) bool {
	switch {
	case s.ratio >= 1:
		return true
	case s.ratio <= 0:
		return false
	}
	x := binary.BigEndian.Uint64(tid[8:16]) >> 1
	return x < uint64(s.ratio*(1<<63))
}

// parseTraceparent reads a version-00 W3C traceparent header.
func parseTraceparent(v string) (tid trace.TraceID, sid trace.SpanID, sampled, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || v[:2] == "ff" {
		return tid, sid, false, false
	}
	if len(v) > 55 && (v[:2] == "00" || v[55] != '-') {
		return tid, sid, false, false // version 00 has no extra fields
	}
	var ver, flags [1]byte
	if _, err := hex.Decode(ver[:], []byte(v[:2])); err != nil {
		return tid, sid, false, false
	}
	if _, err := hex.Decode(tid[:], []byte(v[3:35])); err != nil || !tid.IsValid() || isUpper(v[3:35]) {
		return tid, sid, false, false
	}
	if _, err := hex.Decode(sid[:], []byte(v[36:52])); err != nil || !sid.IsValid() || isUpper(v[36:52]) {
		return tid, sid, false, false
	}
	if _, err := hex.Decode(flags[:], []byte(v[53:55])); err != nil {
		return tid, sid, false, false
	}
	return tid, sid, flags[0]&1 == 1, true
}

func isUpper(s string) bool { return strings.ToLower(s) != s }

// fromUUID reads a UUID's 128 bits.
func fromUUID(id string) (trace.TraceID, bool) {
	var tid trace.TraceID
	h := strings.ReplaceAll(id, "-", "")
	if len(h) != 32 {
		return tid, false
	}
	if _, err := hex.Decode(tid[:], []byte(h)); err != nil || !tid.IsValid() {
		return tid, false
	}
	return tid, true
}

// idGenerator gives a request's root span the trace id chosen when the
// request arrived (carried in the context) and random span ids.
type idGenerator struct{}

type wantTraceID struct{}

func withTraceID(ctx context.Context, tid trace.TraceID) context.Context {
	return context.WithValue(ctx, wantTraceID{}, tid)
}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := ctx.Value(wantTraceID{}).(trace.TraceID)
	if !ok {
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
