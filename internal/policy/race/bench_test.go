package race

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// simEnv is a sim fleet behind the real executor, with its own signals,
// counting the upstream calls; sims holds each model's provider, whose
// stream counts tell whether canceled candidates really stopped.
type simEnv struct {
	cat     map[string]*catalog.Model
	exec    *executor.Executor
	signals *signals.Registry
	calls   atomic.Int64
	sims    map[string]*sim.Sim
}

// streams returns the fleet's stream counts, summed over its sims.
func (e *simEnv) streams() sim.Counts {
	var c sim.Counts
	for _, s := range e.sims {
		c = c.Add(s.Streams())
	}
	return c
}

type countingProvider struct {
	provider.Provider
	n *atomic.Int64
}

func (p countingProvider) Chat(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	p.n.Add(1)
	return p.Provider.Chat(ctx, req)
}

func (p countingProvider) ChatStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	p.n.Add(1)
	return p.Provider.ChatStream(ctx, req)
}

// newSimEnv builds fleet (model name: sim options) behind the executor.
func newSimEnv(b testing.TB, fleet map[string]string) *simEnv {
	e := &simEnv{cat: map[string]*catalog.Model{}, signals: signals.New(signals.Options{}), sims: map[string]*sim.Sim{}}
	targets := map[string]executor.Target{}
	for name, opts := range fleet {
		p, err := sim.New(provider.Config{Model: name, Upstream: name, Options: json.RawMessage(opts), OptionsPath: name})
		if err != nil {
			b.Fatal(err)
		}
		e.sims[name] = p.(*sim.Sim)
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
// returns their latencies sorted: until Serve returned, which for a
// stream is its first chunk. A streamed answer is then read to its end
// and closed.
func serveMany(b *testing.B, e *simEnv, n policy.Node, requests, concurrency int, offset int, stream bool) []time.Duration {
	lat := make([]time.Duration, requests)
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i := range requests {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := &policy.Call{Request: &llm.Request{Model: "r", Messages: []llm.Message{{Role: llm.RoleUser,
				Content: fmt.Sprintf("question %d", offset+i)}}, Stream: stream}, Exec: e.exec, Trace: trace.New(time.Now())}
			start := time.Now()
			out, err := n.Serve(b.Context(), c)
			lat[i] = time.Since(start)
			if err != nil {
				b.Error(err)
				return
			}
			if out.Stream != nil {
				drain(b, out.Stream)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

func pct(lat []time.Duration, p float64) float64 {
	return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
}

// drain reads s to its end and closes it.
func drain(b testing.TB, s llm.Stream) {
	defer s.Close()
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.Error(err)
			return
		}
	}
}

// BenchmarkParallelLatency measures, on the sim fleet, a race of sim-tail
// and sim-fast against each alone, and sim-tail hedged by sim-fast (delay:
// its live p95, max 1, budget 0.1) against sim-tail unhedged; the -stream
// routes ask for streams (latency to the first chunk; each answer is then
// read to its end). Each iteration serves 400 requests, 50 at a time; it
// reports the latency's p50 and p99, the upstream calls per request, and
// the sim's own count of streams that ended canceled per request
// (canceled-streams/op: a race's losers and a hedge's canceled side).
// Once every answer has been read, no sim stream may be open. Run with
// -benchtime=1x.
func BenchmarkParallelLatency(b *testing.B) {
	routes := []struct {
		name, cfg string
		stream    bool
	}{
		{"single-sim-fast", `"sim-fast"`, false},
		{"single-sim-tail", `"sim-tail"`, false},
		{"race", `{"race": {"candidates": ["sim-tail", "sim-fast"]}}`, false},
		{"hedged-p95", `{"race": {"candidates": ["sim-tail", "sim-fast"], "hedge": {"delay": "p95", "default_delay": "30ms", "max": 1, "budget": 0.1}}}`, false},
		{"race-stream", `{"race": {"candidates": ["sim-tail", "sim-fast"]}}`, true},
		{"hedged-p95-stream", `{"race": {"candidates": ["sim-tail", "sim-fast"], "hedge": {"delay": "p95", "default_delay": "30ms", "max": 1, "budget": 0.1}}}`, true},
	}
	const requests, concurrency = 400, 50
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			e := newSimEnv(b, simFleet)
			n, err := e.Build("routes.r", json.RawMessage(r.cfg))
			if err != nil {
				b.Fatal(err)
			}
			// Warm the signals so the hedge delay is the live p95.
			serveMany(b, e, n, 100, concurrency, -1000, r.stream)
			e.calls.Store(0)
			before := e.streams()
			b.ReportAllocs()
			b.ResetTimer()
			var all []time.Duration
			for i := 0; b.Loop(); i++ {
				all = append(all, serveMany(b, e, n, requests, concurrency, i*requests, r.stream)...)
			}
			b.StopTimer()
			after := e.streams()
			if open := after.Open(); open != 0 {
				b.Errorf("%d sim streams still open after every answer was read (%+v)", open, after)
			}
			slices.Sort(all)
			b.ReportMetric(pct(all, 0.5), "p50_ms")
			b.ReportMetric(pct(all, 0.99), "p99_ms")
			b.ReportMetric(float64(e.calls.Load())/float64(len(all)), "calls/req")
			b.ReportMetric(float64(after.Canceled-before.Canceled)/float64(len(all)), "canceled-streams/op")
		})
	}
}

// TestRaceStopsLoserStreams: in a race of N streaming sim candidates the
// winner's stream is the only one open when Serve returns, exactly N-1
// sim streams ended canceled, and once the client has read the answer no
// stream is open (goleak checks the goroutines in TestMain).
func TestRaceStopsLoserStreams(t *testing.T) {
	// The sims answer at fixed, distinct times, so sim-0 always wins.
	fleet := func(n int) map[string]string {
		f := map[string]string{}
		for i := range n {
			f[fmt.Sprintf("sim-%d", i)] = fmt.Sprintf(`{"seed": %d, "ttft": "%dms", "tokens_per_second": 1000, "output_tokens": 30}`, i, 10+20*i)
		}
		return f
	}
	for _, n := range []int{2, 3, 5} {
		t.Run(fmt.Sprintf("%d candidates", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newSimEnv(t, fleet(n))
				var names []string
				for i := range n {
					names = append(names, fmt.Sprintf("%q", fmt.Sprintf("sim-%d", n-1-i))) // the winner last
				}
				node, err := e.Build("routes.r", json.RawMessage(`{"race": {"candidates": [`+strings.Join(names, ",")+`]}}`))
				if err != nil {
					t.Fatal(err)
				}
				c := &policy.Call{Request: &llm.Request{Model: "r", Stream: true, Messages: []llm.Message{{Role: llm.RoleUser,
					Content: "what is 2+2?"}}}, Exec: e.exec, Trace: trace.New(time.Now())}
				out, err := node.Serve(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				if out.Model != "sim-0" {
					t.Errorf("winner %s, want sim-0", out.Model)
				}
				got := e.streams()
				if got.Started != int64(n) || got.Canceled != int64(n-1) || got.Open() != 1 || got.Completed != 0 || got.Failed != 0 {
					t.Errorf("when Serve returned: %+v, want %d started, %d canceled, only the winner's open", got, n, n-1)
				}
				for name, s := range e.sims {
					if name != "sim-0" && s.Streams() != (sim.Counts{Started: 1, Canceled: 1}) {
						t.Errorf("loser %s: %+v, want its one stream canceled", name, s.Streams())
					}
				}
				drain(t, out.Stream)
				got = e.streams()
				if got.Open() != 0 || got.Completed != 1 || got.Canceled != int64(n-1) {
					t.Errorf("after the answer was read: %+v, want the winner's stream completed and none open", got)
				}
			})
		})
	}
}
