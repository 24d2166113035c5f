package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	"github.com/sextant-router/sextant/internal/health"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/learning"
	"github.com/sextant-router/sextant/internal/metrics"
	"github.com/sextant-router/sextant/internal/reload"
	"github.com/sextant-router/sextant/internal/state"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tally"
	"github.com/sextant-router/sextant/internal/telemetry"
	"github.com/sextant-router/sextant/internal/tokens"
	"github.com/sextant-router/sextant/internal/ui"
)

func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (default: the embedded demo config)")
	addr := fs.String("addr", "", "listen address host:port (default 127.0.0.1:8080, or SEXTANT_ADDR)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	// One HTTP client for every snapshot, so reloads keep upstream
	// connections warm.
	client := &http.Client{Transport: config.UpstreamTransport()}
	load := func() (*config.Snapshot, error) {
		s, err := loadSnapshot(*configPath, getenv, client)
		shareTally() // loading applies the state block; follow its Redis
		return s, err
	}
	snap, err := load()
	if err != nil {
		return err
	}
	listen := firstNonEmpty(*addr, getenv("SEXTANT_ADDR"), snap.File.Server.Addr, "127.0.0.1:8080")

	db, err := snap.File.Store.Open()
	if err != nil {
		return fmt.Errorf("open decision log %s: %w", snap.File.Store.Path, err)
	}
	log := store.NewLog(db, snap.File.Store.LogOptions(logger))
	// Learners' statistics persist in the decision store and, with
	// state.redis, are shared; Run syncs them until shutdown.
	tally.Default.SetLogger(logger)
	tally.Default.UseStore(log)
	tallyCtx, stopTally := context.WithCancel(context.Background())
	tallyDone := make(chan struct{})
	go func() { defer close(tallyDone); tally.Default.Run(tallyCtx, tallyEvery(snap)) }()
	defer func() { stopTally(); <-tallyDone }()
	obs, err := observability(snap, log, logger)
	if err != nil {
		return err
	}
	eng := engine.New(snap, log, obs.observers...)
	gw := gateway.New(eng, log, logger, obs.gatewayOptions(eng, log)...)

	// Reload on SIGHUP and config file changes; the store and the listen
	// address are fixed for the process's life.
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	reloader := reload.New(load, eng, logger)
	go func() {
		if err := reloader.Run(rctx, *configPath); err != nil {
			logger.Error("config reloading stopped", "err", err)
		}
	}()

	tokens.Tokenizer() // build the tokenizer now, not inside the first request's deadline

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// Handlers run under baseCtx, canceled when the shutdown grace period
	// is over, so cut-off requests still finish their bookkeeping; inflight
	// lets shutdown wait for that before the decision log closes.
	baseCtx, cancelBase := context.WithCancelCause(context.Background())
	cutOff := func() { cancelBase(gateway.ErrShuttingDown) }
	defer cutOff()
	var inflight sync.WaitGroup
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Done()
		gw.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		BaseContext: func(net.Listener) context.Context { return baseCtx },
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("sextant listening", "addr", "http://"+ln.Addr().String(), "models", len(snap.Models), "routes", len(snap.Routes))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, let open requests and streams
	// finish within the grace period, then flush the decision log.
	grace := snap.File.Server.ShutdownGrace.D()
	logger.Info("shutting down", "grace", grace)
	gw.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("grace period over; cutting off open requests", "err", err)
		cutOff()
		waitBounded(&inflight, 5*time.Second)
		srv.Close()
	}
	waitBounded(&inflight, 5*time.Second)
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	stopTally() // Run flushes the learners' statistics before the store closes
	<-tallyDone
	if err := log.Close(fctx); err != nil {
		logger.Error("flushing the decision log", "err", err)
	}
	logger.Info("decision log flushed", "written", log.Written(), "dropped", log.Dropped())
	if obs.tracer != nil {
		if err := obs.tracer.Shutdown(fctx); err != nil {
			logger.Error("flushing traces", "err", err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shareTally points tally.Default at the shared Redis of the state block
// in use (none: memory and the store only).
func shareTally() {
	if r := state.Current(); r != nil {
		tally.Default.UseRedis(r.Client(), r.Prefix()+"tally:")
	} else {
		tally.Default.UseRedis(nil, "")
	}
}

// tallyEvery is how often the learners' statistics sync: the state sync
// interval when one is set, else tally.DefaultEvery.
func tallyEvery(snap *config.Snapshot) time.Duration {
	if r := snap.File.State.Redis; r != nil && r.Sync > 0 {
		return r.Sync.D()
	}
	return tally.DefaultEvery
}

// obsParts are the observers and handlers behind /metrics, /ui and
// tracing. Which of them exist is fixed for the process's life, like the
// store; what they read (admin key, baseline, reports) follows reloads.
type obsParts struct {
	registry  *prometheus.Registry
	metrics   *metrics.Metrics
	recent    *ui.Recent
	tracer    *telemetry.Tracer
	sampler   telemetry.Sampler
	observers []engine.Observer
	snap      *config.Snapshot
}

func observability(snap *config.Snapshot, log *store.Log, logger *slog.Logger) (*obsParts, error) {
	o := &obsParts{registry: prometheus.NewRegistry(), snap: snap}
	o.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(o.registry, metrics.Options{Log: log, Circuits: health.Default})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	o.metrics = m
	o.recent = ui.NewRecent(snap.File.UI.Recent, nil)
	o.observers = []engine.Observer{m, o.recent, learners{}}
	if ep := snap.Observability.OTLPEndpoint; ep != "" {
		t, err := telemetry.New(telemetry.Options{Endpoint: ep, Headers: snap.Observability.OTLPHeaders,
			Timeout: snap.File.Telemetry.OTLP.Timeout.D(), ServiceName: snap.File.Telemetry.ServiceName, Logger: logger})
		if err != nil {
			return nil, err
		}
		ratio := 1.0
		if r := snap.File.Telemetry.SampleRatio; r != nil {
			ratio = *r
		}
		o.tracer, o.sampler = t, telemetry.NewSampler(ratio)
		o.observers = append(o.observers, t)
		logger.Info("tracing on", "otlp", ep, "sample_ratio", ratio)
	}
	return o, nil
}

// learners hands every finished request to the learning policy nodes
// (bandit, split) named in its trace.
type learners struct{}

func (learners) Observe(f *engine.Finished) { learning.Default.Finished(f.Decision) }

func (o *obsParts) gatewayOptions(eng *engine.Engine, log *store.Log) []gateway.Option {
	opts := []gateway.Option{gateway.WithHTTPObserver(o.metrics.ObserveHTTP)}
	if o.tracer != nil {
		opts = append(opts, gateway.WithTraceIDs(o.sampler.TraceIDs))
	}
	if config.On(o.snap.File.Metrics.Enabled, true) {
		h := ui.Protect(eng.Snapshot, func(s *config.Snapshot) bool { return s.File.Metrics.RequireAdmin }, metrics.Handler(o.registry))
		opts = append(opts, gateway.WithHandler("/metrics", h))
	}
	if config.On(o.snap.File.UI.Enabled, true) {
		h := ui.Handler(ui.Options{Snapshot: eng.Snapshot, Recent: o.recent, Log: log, LogStats: log})
		opts = append(opts, gateway.WithHandler("/ui/", h), gateway.WithHandler("/ui", h))
	}
	return opts
}

func loadSnapshot(path string, getenv func(string) string, client *http.Client) (*config.Snapshot, error) {
	opts := config.BuildOptions{Getenv: getenv, HTTPClient: client}
	if path != "" {
		return config.Load(path, opts)
	}
	f, err := config.Default(getenv)
	if err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	return config.Build(f, opts)
}

// waitBounded waits for wg, at most d.
func waitBounded(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
