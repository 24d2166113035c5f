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

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/gateway"
	_ "github.com/sextant-router/sextant/internal/kinds"
	"github.com/sextant-router/sextant/internal/reload"
	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/tokens"
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
	load := func() (*config.Snapshot, error) { return loadSnapshot(*configPath, getenv, client) }
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
	eng := engine.New(snap, log)
	gw := gateway.New(eng, log, logger)

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
	if err := log.Close(fctx); err != nil {
		logger.Error("flushing the decision log", "err", err)
	}
	logger.Info("decision log flushed", "written", log.Written(), "dropped", log.Dropped())
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
