package race

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/executor"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/policy/model"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/provider/sim"
	"github.com/sextant-router/sextant/internal/signals"
	"github.com/sextant-router/sextant/internal/trace"
)

// simFleet is examples/parallel.yaml's fleet scaled down 10x in time:
// sim-tail is quick at the median with a heavy tail (p99 20x p50),
// sim-fast is steady.
var simFleet = map[string]string{
	"sim-tail": `{"seed": 31, "ttft": {"p50": "10ms", "p99": "200ms"}, "tokens_per_second": 100000, "output_tokens": {"min": 20, "max": 60}}`,
	"sim-fast": `{"seed": 32, "ttft": {"p50": "15ms", "p99": "30ms"}, "tokens_per_second": 100000, "output_tokens": {"min": 20, "max": 60}}`,
}

// simEnv is the sim fleet behind the real executor, with its own
// signals, counting the upstream calls.
type simEnv struct {
	cat     map[string]*catalog.Model
	exec    *executor.Executor
	signals *signals.Registry
	calls   atomic.Int64
}

type countingProvider struct {
	provider.Provider
	n *atomic.Int64
}

func (p countingProvider) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	p.n.Add(1)
	return p.Provider.Chat(ctx, req)
}

func newSimEnv(b *testing.B) *simEnv {
	e := &simEnv{cat: map[string]*catalog.Model{}, signals: signals.New(signals.Options{})}
	targets := map[string]executor.Target{}
	for name, opts := range simFleet {
		p, err := sim.New(provider.Config{Model: name, Upstream: name, Options: json.RawMessage(opts), OptionsPath: name})
		if err != nil {
			b.Fatal(err)
		}
		m := &catalog.Model{Name: name, Provider: "sim", Upstream: name,
			Price: catalog.Price{Input: catalog.RateFromUSD(0.25), Output: catalog.RateFromUSD(1)}}
		e.cat[name] = m
		targets[name] = executor.Target{Model: m, Provider: countingProvider{p, &e.calls}}
	}
	e.exec = executor.New(targets, executor.Options{MaxRetries: -1, Signals: e.signals})
	return e
}

func (e *simEnv) HasModel(name string) bool                { _, ok := e.cat[name]; return ok }
func (e *simEnv) Model(name string) (*catalog.Model, bool) { m, ok := e.cat[name]; return m, ok }
func (e *simEnv) Path(p string) string                     { return p }
func (e *simEnv) Build(path string, raw json.RawMessage) (policy.Node, error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		if inner, ok := m["race"]; ok {
			n, err := New(e, conf.Join(path, "race"), inner)
			if err == nil && n.(*Node).hedge != nil {
				n.(*Node).hedge.signals = e.signals
			}
			return n, err
		}
	}
	return model.New(e, path, raw)
}

// serveMany serves requests distinct requests, concurrency at a time, and
// returns their latencies sorted.
func serveMany(b *testing.B, e *simEnv, n policy.Node, requests, concurrency int, offset int) []time.Duration {
	lat := make([]time.Duration, requests)
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i := range requests {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := &policy.Call{Request: &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser,
				Content: fmt.Sprintf("question %d", offset+i)}}}, Exec: e.exec, Trace: trace.New(time.Now())}
			start := time.Now()
			if _, err := n.Serve(b.Context(), c); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

func pct(lat []time.Duration, p float64) float64 {
	return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
}

// BenchmarkParallelLatency measures, on the sim fleet, a race of sim-tail
// and sim-fast against each alone, and sim-tail hedged by sim-fast (delay:
// its live p95, max 1, budget 0.1) against sim-tail unhedged. Each
// iteration serves 400 requests, 50 at a time; it reports the latency's
// p50 and p99 and the upstream calls per request. Run with -benchtime=1x.
func BenchmarkParallelLatency(b *testing.B) {
	routes := []struct{ name, cfg string }{
		{"single-sim-fast", `"sim-fast"`},
		{"single-sim-tail", `"sim-tail"`},
		{"race", `{"race": {"candidates": ["sim-tail", "sim-fast"]}}`},
		{"hedged-p95", `{"race": {"candidates": ["sim-tail", "sim-fast"], "hedge": {"delay": "p95", "default_delay": "30ms", "max": 1, "budget": 0.1}}}`},
	}
	const requests, concurrency = 400, 50
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			e := newSimEnv(b)
			n, err := e.Build("routes.r", json.RawMessage(r.cfg))
			if err != nil {
				b.Fatal(err)
			}
			// Warm the signals so the hedge delay is the live p95.
			serveMany(b, e, n, 100, concurrency, -1000)
			e.calls.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			var all []time.Duration
			for i := 0; b.Loop(); i++ {
				all = append(all, serveMany(b, e, n, requests, concurrency, i*requests)...)
			}
			b.StopTimer()
			slices.Sort(all)
			b.ReportMetric(pct(all, 0.5), "p50_ms")
			b.ReportMetric(pct(all, 0.99), "p99_ms")
			b.ReportMetric(float64(e.calls.Load())/float64(len(all)), "calls/req")
		})
	}
}
