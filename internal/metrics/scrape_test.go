package metrics_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/metrics"
	"github.com/sextant-router/sextant/internal/store"
)

const scrapeConfig = `
executor: {max_retries: 0}
metrics: {baseline: big}
models:
  - name: small
    provider: sim
    price: {input: 1, output: 2}
    options: {seed: 1, realtime: false, output_tokens: {min: 5, max: 8}}
  - name: big
    provider: sim
    price: {input: 10, output: 30}
    options: {seed: 2, realtime: false, output_tokens: {min: 5, max: 8}}
  - name: down
    provider: sim
    options: {seed: 3, realtime: false, error_rate: 1}
routes:
  auto:
    fallback: [down, small]
`

// TestScrapeRunningServer serves the real gateway with the metrics
// observer, scrapes /metrics, sends traffic, and checks that every family
// exists and that the counters moved by what was sent.
func TestScrapeRunningServer(t *testing.T) {
	f, err := config.Parse([]byte(scrapeConfig))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Build(f, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	log := store.NewLog(db, store.LogOptions{FlushEvery: time.Millisecond})
	defer log.Close(context.Background())

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(snap, log, m)
	gw := gateway.New(eng, log, nil, gateway.WithHandler("/metrics", metrics.Handler(reg)), gateway.WithHTTPObserver(m.ObserveHTTP))
	srv := httptest.NewServer(gw)
	defer srv.Close()

	before := scrape(t, srv.URL)
	post(t, srv.URL, `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`, 200)
	post(t, srv.URL, `{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`, 200)
	post(t, srv.URL, `{"model":"big","messages":[{"role":"user","content":"hello"}]}`, 200)
	post(t, srv.URL, `{"model":"no-such-thing","messages":[{"role":"user","content":"hi"}]}`, 404)
	if err := log.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, srv.URL)

	for _, name := range []string{
		"sextant_requests_total", "sextant_request_duration_seconds", "sextant_request_ttft_seconds",
		"sextant_request_overhead_seconds", "sextant_upstream_attempts_total", "sextant_upstream_attempt_duration_seconds",
		"sextant_tokens_total", "sextant_cost_usd_total", "sextant_baseline_cost_usd_total", "sextant_savings_usd",
		"sextant_policy_decisions_total", "sextant_http_requests_total", "sextant_decisions_written_total",
		"sextant_decisions_dropped_total", "sextant_decision_write_errors_total", "sextant_decision_queue_records",
	} {
		if after[name] == nil {
			t.Errorf("family %s missing after traffic", name)
		}
	}
	moved := []struct {
		family string
		labels map[string]string
		delta  float64
	}{
		{"sextant_requests_total", map[string]string{"route": "auto", "model": "small", "outcome": "ok"}, 2},
		{"sextant_requests_total", map[string]string{"route": "big", "model": "big", "outcome": "ok"}, 1},
		{"sextant_requests_total", map[string]string{"route": "_unknown", "model": "_none", "outcome": "client_error"}, 1},
		{"sextant_upstream_attempts_total", map[string]string{"model": "down", "outcome": "error", "class": "transient"}, 2},
		{"sextant_request_ttft_seconds", map[string]string{"route": "auto", "model": "small"}, 1},
		{"sextant_request_overhead_seconds", map[string]string{"route": "auto"}, 2},
		{"sextant_policy_decisions_total", map[string]string{"route": "auto", "kind": "fallback"}, 4},
		{"sextant_http_requests_total", map[string]string{"handler": "/v1/chat/completions", "code": "200"}, 3},
		{"sextant_http_requests_total", map[string]string{"handler": "/metrics", "code": "200"}, 1},
		{"sextant_decisions_written_total", nil, 4},
	}
	for _, mv := range moved {
		got := value(after, mv.family, mv.labels) - value(before, mv.family, mv.labels)
		if got != mv.delta {
			t.Errorf("%s%v moved by %v, want %v", mv.family, mv.labels, got, mv.delta)
		}
	}
	for _, fam := range []string{"sextant_tokens_total", "sextant_cost_usd_total", "sextant_baseline_cost_usd_total"} {
		if total(after, fam) <= total(before, fam) {
			t.Errorf("%s did not grow: %v -> %v", fam, total(before, fam), total(after, fam))
		}
	}
	// big answered directly at the baseline's own price: nothing saved
	// there; small is cheaper than big, so auto saved money.
	if s := value(after, "sextant_savings_usd", map[string]string{"route": "auto", "baseline": "big"}); s <= 0 {
		t.Errorf("savings on auto = %v, want > 0", s)
	}
	if s := value(after, "sextant_savings_usd", map[string]string{"route": "big", "baseline": "big"}); s != 0 {
		t.Errorf("savings on big = %v, want 0", s)
	}
}

func post(t *testing.T, base, body string, want int) {
	t.Helper()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: status %d, want %d", body, resp.StatusCode, want)
	}
}

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bufio.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is a counter's or gauge's value, or a histogram's count, for the
// series whose labels include want; 0 when absent.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := fams[name]
	if mf == nil {
		return 0
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func total(fams map[string]*dto.MetricFamily, name string) float64 {
	var sum float64
	if mf := fams[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
