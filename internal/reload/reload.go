// Package reload keeps a running engine on the latest valid config: on
// SIGHUP and whenever the config file changes it builds and validates a
// whole new snapshot and swaps it in atomically. Requests in flight finish
// on the snapshot they started with; an invalid config is rejected with its
// exact errors and the old snapshot keeps serving.
package reload

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/sextant-router/sextant/internal/config"
)

// Swapper is what the reloader updates; *engine.Engine implements it.
type Swapper interface {
	Swap(*config.Snapshot) *config.Snapshot
}

// Loader builds a new snapshot from the current config source.
type Loader func() (*config.Snapshot, error)

// Result is the outcome of one reload attempt, for logs and tests.
type Result struct {
	Trigger string // "sighup", "file" or "manual"
	Err     error  // nil when the new snapshot was swapped in
}

// Reloader reloads on demand, on SIGHUP and on file changes.
type Reloader struct {
	load   Loader
	target Swapper
	logger *slog.Logger
	// Debounce groups bursts of file events (editors write in several
	// steps) into one reload. Default 250ms.
	Debounce time.Duration
	// OnResult, if set, is called after every attempt.
	OnResult func(Result)

	mu sync.Mutex // one reload at a time
}

// New returns a reloader that builds snapshots with load and installs them
// in target.
func New(load Loader, target Swapper, logger *slog.Logger) *Reloader {
	if logger == nil {
		logger = slog.Default()
	}
	return &Reloader{load: load, target: target, logger: logger, Debounce: 250 * time.Millisecond}
}

// Reload builds a new snapshot and swaps it in, or keeps the current one
// and returns the errors that rejected the new config.
func (r *Reloader) Reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	snap, err := r.load()
	if err != nil {
		r.logger.Error("config rejected; still serving the previous config", "trigger", trigger, "err", err)
	} else {
		r.target.Swap(snap)
		r.logger.Info("config reloaded", "trigger", trigger, "models", len(snap.Models), "routes", len(snap.Routes))
	}
	if r.OnResult != nil {
		r.OnResult(Result{Trigger: trigger, Err: err})
	}
	return err
}

// Run reloads on SIGHUP and, when path is not empty, on changes to the file
// at path, until ctx ends. It watches the file's directory so that editors
// that replace the file by renaming are seen too.
func (r *Reloader) Run(ctx context.Context, path string) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var events <-chan fsnotify.Event
	var errs <-chan error
	if path != "" {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return err
		}
		defer w.Close()
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if err := w.Add(filepath.Dir(abs)); err != nil {
			return err
		}
		path = abs
		events, errs = w.Events, w.Errors
	}
	var debounce *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if debounce != nil {
				debounce.Stop()
			}
			return nil
		case <-hup:
			r.Reload("sighup")
		case ev, ok := <-events:
			if !ok {
				return errors.New("reload: file watcher closed")
			}
			if filepath.Clean(ev.Name) != path || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			if debounce == nil {
				debounce = time.NewTimer(r.Debounce)
			} else {
				debounce.Reset(r.Debounce)
			}
			fire = debounce.C
		case <-fire:
			fire = nil
			if _, err := os.Stat(path); err != nil {
				r.logger.Warn("config file is gone; still serving the previous config", "path", path)
				continue
			}
			r.Reload("file")
		case err, ok := <-errs:
			if ok {
				r.logger.Warn("config watcher", "err", err)
			}
		}
	}
}
