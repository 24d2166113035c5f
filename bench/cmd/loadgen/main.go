// Command loadgen runs Sextant's overhead benchmark: it starts the mock
// upstream, an httputil.ReverseProxy in front of it and `sextant serve` in
// front of it, then measures in one run, on loopback, requests sent
// directly to the upstream, through the reverse proxy, and through Sextant
// by a "model" route and a "rules" route:
//
//   - latency percentiles at fixed request rates (open loop, measured from
//     each request's scheduled time), non-streamed and streamed;
//   - maximum throughput (closed loop, a fixed number of workers);
//   - whether streamed chunks are flushed as they arrive (paced streams,
//     inter-chunk gaps at the client).
//
// It writes results.md and results.json to -out and prints the Markdown.
// bench/run.sh builds the binaries and runs it; see bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sextant-router/sextant/bench/load"
	"github.com/sextant-router/sextant/bench/mock"
)

// The targets, in the order the tables list them.
const (
	tUpstream = "upstream"
	tProxy    = "reverseproxy"
	tModel    = "sextant-model"
	tRules    = "sextant-rules"
)

// settings are the run's parameters, as flags set them.
type settings struct {
	Rates         []int         `json:"rates"`
	Modes         []load.Mode   `json:"modes"`
	Duration      time.Duration `json:"duration_ns"`
	Warmup        time.Duration `json:"warmup_ns"`
	Rounds        int           `json:"rounds"`
	MaxDuration   time.Duration `json:"max_duration_ns"`
	Workers       int           `json:"workers"`
	Conns         int           `json:"conns"`
	FlushRate     int           `json:"flush_rate"`
	FlushDuration time.Duration `json:"flush_duration_ns"`
	Pace          time.Duration `json:"pace_ns"`
	Latency       time.Duration `json:"upstream_latency_ns"`
	ProxyIdle     int           `json:"proxy_idle_per_host"`
	// Profile is how long each profiled point runs; zero takes no
	// profiles.
	Profile time.Duration `json:"profile_ns,omitempty"`
}

func main() {
	var (
		sextantBin  = flag.String("sextant", "", "the sextant binary (required)")
		upstreamBin = flag.String("upstream", "", "the bench/cmd/upstream binary (required)")
		proxyBin    = flag.String("proxy", "", "the bench/cmd/proxy binary (required)")
		configPath  = flag.String("config", "bench/sextant.yaml", "Sextant's config; 127.0.0.1:18090 in it is replaced by the mock's address")
		outDir      = flag.String("out", "", "directory for results and logs (default: a new temporary directory)")
		rates       = flag.String("rates", "500,1000,2000", "fixed request rates, per second")
		modes       = flag.String("modes", "chat,stream", "request modes: chat, stream")
		quick       = flag.Bool("quick", false, "a smoke run: short points (overrides the durations)")
		s           settings
	)
	flag.DurationVar(&s.Duration, "duration", 10*time.Second, "measured time of each fixed-rate point")
	flag.DurationVar(&s.Warmup, "warmup", 2*time.Second, "unmeasured lead-in of each point")
	flag.IntVar(&s.Rounds, "rounds", 1, "repeat the fixed-rate matrix this often, rotating target order; samples are pooled")
	flag.DurationVar(&s.MaxDuration, "max-duration", 10*time.Second, "measured time of each max-throughput point")
	flag.IntVar(&s.Workers, "workers", 32, "closed-loop workers for max throughput")
	flag.IntVar(&s.Conns, "conns", 512, "most connections the client opens to a target")
	flag.IntVar(&s.FlushRate, "flush-rate", 50, "rate of the paced-stream flush check, per second")
	flag.DurationVar(&s.FlushDuration, "flush-duration", 3*time.Second, "measured time of the flush check per target")
	flag.DurationVar(&s.Pace, "pace", mock.DefaultPace, "the mock's wait between paced stream events")
	flag.DurationVar(&s.Latency, "upstream-latency", 0, "the mock's fixed wait before each answer")
	flag.IntVar(&s.ProxyIdle, "proxy-idle", 256, "idle upstream connections the reverse proxy keeps")
	flag.DurationVar(&s.Profile, "profile", 0, "after measuring, profile sextant under closed-loop load this long per route and mode (needs a sextant built by run.sh -profile)")
	flag.Parse()
	if *sextantBin == "" || *upstreamBin == "" || *proxyBin == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -sextant, -upstream and -proxy are required (bench/run.sh sets them)")
		os.Exit(2)
	}
	var err error
	if s.Rates, err = parseInts(*rates); err != nil {
		fail(err)
	}
	for m := range strings.SplitSeq(*modes, ",") {
		switch load.Mode(m) {
		case load.Chat, load.Stream:
			s.Modes = append(s.Modes, load.Mode(m))
		default:
			fail(fmt.Errorf("unknown mode %q", m))
		}
	}
	if *quick {
		s.Duration, s.Warmup, s.MaxDuration, s.FlushDuration, s.Rounds = 2*time.Second, 500*time.Millisecond, 2*time.Second, time.Second, 1
	}
	if *outDir == "" {
		if *outDir, err = os.MkdirTemp("", "sextant-bench-"); err != nil {
			fail(err)
		}
	} else if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, s, *sextantBin, *upstreamBin, *proxyBin, *configPath, *outDir)
	if err != nil {
		fail(err)
	}
	md := res.markdown()
	js, _ := json.MarshalIndent(res, "", "  ")
	if err := errors.Join(
		os.WriteFile(filepath.Join(*outDir, "results.md"), []byte(md), 0o644),
		os.WriteFile(filepath.Join(*outDir, "results.json"), append(js, '\n'), 0o644),
	); err != nil {
		fail(err)
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "loadgen: results in %s\n", *outDir)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad rate %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// env holds the running servers.
type env struct {
	upstream, proxy, sextant *proc
	targets                  map[string]load.Target
	client                   *http.Client
}

// gateway returns the process a target's requests pass through, if any.
func (e *env) gateway(target string) *proc {
	switch target {
	case tProxy:
		return e.proxy
	case tModel, tRules:
		return e.sextant
	}
	return nil
}

func run(ctx context.Context, s settings, sextantBin, upstreamBin, proxyBin, configPath, dir string) (*results, error) {
	res := &results{Settings: s, Started: time.Now(), GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), LoadStart: loadavg()}
	e := &env{client: load.NewClient(s.Conns)}
	defer func() { e.proxy.stop(); e.sextant.stop(); e.upstream.stop() }()
	var err error
	e.upstream, err = startListening("upstream", upstreamBin, dir, "-addr", "127.0.0.1:0",
		"-pace", s.Pace.String(), "-latency", s.Latency.String())
	if err != nil {
		return nil, err
	}
	e.proxy, err = startListening("proxy", proxyBin, dir, "-addr", "127.0.0.1:0",
		"-upstream", "http://"+e.upstream.addr, "-idle-per-host", strconv.Itoa(s.ProxyIdle))
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	cfgOut := filepath.Join(dir, "sextant.yaml")
	if err := os.WriteFile(cfgOut, []byte(strings.ReplaceAll(string(cfg), "127.0.0.1:18090", e.upstream.addr)), 0o644); err != nil {
		return nil, err
	}
	pprofAddr := ""
	if s.Profile > 0 {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if e.sextant, err = startSextant(sextantBin, cfgOut, dir, pprofAddr); err != nil {
		return nil, err
	}
	e.targets = map[string]load.Target{
		tUpstream: {Name: tUpstream, URL: "http://" + e.upstream.addr + "/v1/chat/completions", Model: "mock"},
		tProxy:    {Name: tProxy, URL: "http://" + e.proxy.addr + "/v1/chat/completions", Model: "mock"},
		tModel:    {Name: tModel, URL: "http://" + e.sextant.addr + "/v1/chat/completions", Model: "direct"},
		tRules:    {Name: tRules, URL: "http://" + e.sextant.addr + "/v1/chat/completions", Model: "rules"},
	}
	order := []string{tUpstream, tProxy, tModel, tRules}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}

	// Every target answers both modes before anything is measured.
	for _, name := range order {
		for _, m := range []load.Mode{load.Chat, load.Stream} {
			d := &load.Doer{Client: e.client, Target: e.targets[name], Mode: m}
			if x := d.Do(ctx, time.Now()); x.Err != nil {
				return nil, fmt.Errorf("smoke request to %s (%s): %w", name, m, x.Err)
			}
		}
	}

	// Flush check: paced streams, the model named "paced" everywhere.
	for _, name := range []string{tUpstream, tProxy, tModel} {
		t := e.targets[name]
		t.Model = mock.PacedModel
		progress("flush check %s", name)
		d := &load.Doer{Client: e.client, Target: t, Mode: load.Stream, KeepGaps: true}
		samples, measured := load.Open(ctx, d, s.FlushRate, s.Warmup/2, s.FlushDuration)
		f := load.SummarizeFlush(samples, s.Pace)
		res.Points = append(res.Points, point{Kind: kindFlush, Target: name, Mode: load.Stream, Rate: s.FlushRate,
			Summary: load.Summarize(samples, measured), Flush: &f})
	}

	// Fixed rates: for each mode and rate, every target in turn, so that
	// they share the machine's conditions; rounds rotate the order.
	type acc struct {
		samples  []load.Sample
		measured time.Duration
		cpu      time.Duration
		conns    int64
	}
	pooled := map[string]*acc{}
	key := func(target string, m load.Mode, rate int) string { return fmt.Sprint(target, "/", m, "/", rate) }
	for round := range s.Rounds {
		for _, m := range s.Modes {
			for _, rate := range s.Rates {
				for i := range order {
					name := order[(i+round)%len(order)]
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					progress("round %d  %-13s %-6s %5d rps", round+1, name, m, rate)
					settle()
					gw := e.gateway(name)
					cpu0, conns0 := gw.cpu(), upstreamConns(ctx, e.upstream.addr)
					d := &load.Doer{Client: e.client, Target: e.targets[name], Mode: m}
					samples, measured := load.Open(ctx, d, rate, s.Warmup, s.Duration)
					k := key(name, m, rate)
					if pooled[k] == nil {
						pooled[k] = &acc{}
					}
					a := pooled[k]
					a.samples = append(a.samples, samples...)
					a.measured += measured
					// CPU and connections cover the warmup too; per
					// request they are divided by every request sent.
					a.cpu += gw.cpu() - cpu0
					a.conns += upstreamConns(ctx, e.upstream.addr) - conns0
				}
			}
		}
	}
	for _, m := range s.Modes {
		for _, rate := range s.Rates {
			for _, name := range order {
				a := pooled[key(name, m, rate)]
				p := point{Kind: kindFixed, Target: name, Mode: m, Rate: rate, Summary: load.Summarize(a.samples, a.measured), UpstreamConns: a.conns}
				if e.gateway(name) != nil {
					sent := float64(rate) * (s.Warmup + s.Duration).Seconds() * float64(s.Rounds)
					p.GatewayCPUPerReq = float64(a.cpu.Microseconds()) / sent
				}
				res.Points = append(res.Points, p)
			}
		}
	}

	// Max throughput: closed loop.
	for _, m := range s.Modes {
		for _, name := range order {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			progress("max throughput %-13s %-6s %d workers", name, m, s.Workers)
			settle()
			gw := e.gateway(name)
			cpu0, conns0 := gw.cpu(), upstreamConns(ctx, e.upstream.addr)
			d := &load.Doer{Client: e.client, Target: e.targets[name], Mode: m}
			samples, measured := load.Closed(ctx, d, s.Workers, s.Warmup, s.MaxDuration)
			p := point{Kind: kindMax, Target: name, Mode: m, Summary: load.Summarize(samples, measured),
				UpstreamConns: upstreamConns(ctx, e.upstream.addr) - conns0}
			if gw != nil && p.OK > 0 {
				// Includes the warmup's requests, which are not counted.
				p.GatewayCPUPerReq = float64((gw.cpu() - cpu0).Microseconds()) / (p.RPS * (s.Warmup + s.MaxDuration).Seconds())
			}
			res.Points = append(res.Points, p)
		}
	}
	res.LoadEnd = loadavg()
	res.Finished = time.Now()

	// Profiles, outside the measurements: pprof's sampling costs a little
	// CPU.
	if s.Profile > 0 {
		for _, m := range s.Modes {
			for _, name := range []string{tModel, tRules} {
				progress("profile %-13s %-6s %s", name, m, s.Profile)
				settle()
				d := &load.Doer{Client: e.client, Target: e.targets[name], Mode: m}
				file := filepath.Join(dir, fmt.Sprintf("cpu-%s-%s.pprof", name, m))
				if err := profile(ctx, d, s, pprofAddr, file); err != nil {
					return nil, err
				}
				res.Profiles = append(res.Profiles, filepath.Base(file))
			}
		}
		file := filepath.Join(dir, "allocs.pprof")
		if err := fetch(ctx, "http://"+pprofAddr+"/debug/pprof/allocs", file); err != nil {
			return nil, err
		}
		res.Profiles = append(res.Profiles, filepath.Base(file))
	}
	res.derive()
	return res, nil
}

// profile runs d closed loop for s.Profile while taking a CPU profile of
// sextant, written to file.
func profile(ctx context.Context, d *load.Doer, s settings, pprofAddr, file string) error {
	errc := make(chan error, 1)
	go func() {
		// Start sampling once the load is under way.
		time.Sleep(time.Second)
		secs := max(1, int((s.Profile-2*time.Second)/time.Second))
		errc <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), file)
	}()
	load.Closed(ctx, d, s.Workers, 0, s.Profile)
	return <-errc
}

// fetch GETs url into file.
func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w (was sextant built by run.sh -profile?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// settle lets the previous point's connections and garbage go before the
// next starts.
func settle() {
	runtime.GC()
	time.Sleep(300 * time.Millisecond)
}

// loadavg returns /proc/loadavg's first three fields, or "".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
