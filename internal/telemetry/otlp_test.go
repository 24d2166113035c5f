package telemetry_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/telemetry"
)

// receiver is an in-process OTLP/HTTP traces endpoint: it decodes each
// protobuf export request and keeps its spans.
type receiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service string
	headers http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.headers = r.Header.Clone()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				rc.service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			rc.spans = append(rc.spans, ss.GetSpans()...)
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (rc *receiver) trace(id string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.GetTraceId()) == id {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue()
		}
	}
	return nil
}

const otlpConfig = `
executor: {max_retries: 0}
telemetry:
  service_name: sextant-otlp-test
  otlp:
    endpoint: %s
    headers: {x-tenant: acme}
    headers_env: {authorization: OTLP_AUTH}
models:
  - name: small
    provider: sim
    price: {input: 1, output: 2}
    options: {seed: 1, realtime: false, output_tokens: 6}
  - name: down
    provider: sim
    options: {seed: 3, realtime: false, error_rate: 1}
routes:
  auto:
    fallback: [down, small]
`

// TestOTLPExportThroughGateway runs the real gateway with tracing on and
// a real OTLP/HTTP exporter sending to an in-process receiver: the
// response and the decision log carry the trace id, and the receiver gets
// the request span under the client's span, with one child per policy
// node and attempts beneath them.
func TestOTLPExportThroughGateway(t *testing.T) {
	rc := &receiver{}
	collector := httptest.NewServer(rc)
	defer collector.Close()

	f, err := config.Parse([]byte(strings.Replace(otlpConfig, "%s", collector.URL, 1)))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Build(f, config.BuildOptions{Getenv: func(k string) string {
		if k == "OTLP_AUTH" {
			return "Bearer collector-token"
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Observability.OTLPEndpoint != collector.URL+"/v1/traces" {
		t.Fatalf("endpoint = %q", snap.Observability.OTLPEndpoint)
	}
	tr, err := telemetry.New(telemetry.Options{Endpoint: snap.Observability.OTLPEndpoint, Headers: snap.Observability.OTLPHeaders,
		ServiceName: snap.File.Telemetry.ServiceName, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	log := store.NewLog(db, store.LogOptions{})
	defer log.Close(context.Background())
	eng := engine.New(snap, log, tr)
	gw := gateway.New(eng, log, nil, gateway.WithTraceIDs(telemetry.NewSampler(1).TraceIDs))
	srv := httptest.NewServer(gw)
	defer srv.Close()

	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(gateway.HeaderTraceID) != clientTrace {
		t.Fatalf("status %d, trace header %q", resp.StatusCode, resp.Header.Get(gateway.HeaderTraceID))
	}
	rid := resp.Header.Get("X-Request-Id")

	// Without a traceparent the trace id is the request id.
	resp2, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"small","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp2.Body)
	resp2.Body.Close()
	own := resp2.Header.Get(gateway.HeaderTraceID)
	if want := strings.ReplaceAll(resp2.Header.Get("X-Request-Id"), "-", ""); own != want {
		t.Errorf("own trace id %q, want the request id %q", own, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d, err := log.Get(ctx, rid); err != nil || d.TraceID != clientTrace {
		t.Errorf("decision log trace id = %+v, %v", d, err)
	}

	spans := rc.trace(clientTrace)
	byID := map[string]*tracepb.Span{}
	var root *tracepb.Span
	for _, s := range spans {
		byID[hex.EncodeToString(s.GetSpanId())] = s
		if s.GetName() == "chat auto" {
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no request span among %d", len(spans))
	}
	if hex.EncodeToString(root.GetParentSpanId()) != clientSpan || root.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("root parent %x kind %v", root.GetParentSpanId(), root.GetKind())
	}
	if attr(root, "gen_ai.request.model").GetStringValue() != "auto" || attr(root, "gen_ai.response.model").GetStringValue() != "small" ||
		attr(root, "gen_ai.usage.output_tokens").GetIntValue() != 6 || attr(root, "sextant.route").GetStringValue() != "auto" {
		t.Errorf("root attributes: %v", root.GetAttributes())
	}
	// Every span but the root descends from it; both attempts are there.
	var attempts []string
	for _, s := range spans {
		if s == root {
			continue
		}
		p, hops := s, 0
		for p != root && hops < 10 {
			p, hops = byID[hex.EncodeToString(p.GetParentSpanId())], hops+1
			if p == nil {
				t.Fatalf("span %q is not under the request span", s.GetName())
			}
		}
		if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT {
			attempts = append(attempts, attr(s, "sextant.model").GetStringValue()+":"+attr(s, "sextant.attempt.outcome").GetStringValue())
		}
	}
	if strings.Join(attempts, ",") != "down:error,small:ok" {
		t.Errorf("attempt spans = %v", attempts)
	}
	if len(rc.trace(own)) == 0 {
		t.Error("the second request's trace was not exported")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.service != "sextant-otlp-test" || rc.headers.Get("X-Tenant") != "acme" || rc.headers.Get("Authorization") != "Bearer collector-token" {
		t.Errorf("service %q headers %v", rc.service, rc.headers)
	}
}
