package store

import (
	"fmt"
	"log/slog"

	"github.com/sextant-router/sextant/internal/conf"
)

// Drivers.
const (
	DriverSQLite = "sqlite"
)

// Config is the store: block of the config file.
//
//	store: {driver: sqlite, path: sextant.db, queue: 4096, batch: 256, flush_every: 200ms, log_requests: false}
type Config struct {
	// Driver is "sqlite" (the default). PostgreSQL is planned.
	Driver string `json:"driver,omitempty"`
	// Path is the SQLite database file; default "sextant.db". ":memory:"
	// keeps the log in memory until exit.
	Path string `json:"path,omitempty"`
	// Queue, Batch, FlushEvery and Attempts tune the Log; zero takes the
	// LogOptions defaults.
	Queue      int           `json:"queue,omitempty"`
	Batch      int           `json:"batch,omitempty"`
	FlushEvery conf.Duration `json:"flush_every,omitempty"`
	Attempts   int           `json:"attempts,omitempty"`
	// LogRequests stores each request as served (Decision.Request) with
	// its decision, so that `sextant eval --from-log` can re-run logged
	// traffic through another route. Default false: the log then holds no
	// prompts, which may carry personal data.
	LogRequests bool `json:"log_requests"`
}

// DefaultPath is the SQLite file used when Config.Path is empty.
const DefaultPath = "sextant.db"

// Validate fills defaults and checks c. Errors are *conf.Error values at
// path (e.g. "store").
func (c *Config) Validate(path string) error {
	if c.Driver == "" {
		c.Driver = DriverSQLite
	}
	if c.Driver != DriverSQLite {
		return conf.Errorf(conf.Join(path, "driver"), "unknown driver %q (supported: %s)", c.Driver, DriverSQLite)
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"queue", c.Queue}, {"batch", c.Batch}, {"attempts", c.Attempts}} {
		if f.v < 0 {
			return conf.Errorf(conf.Join(path, f.name), "must not be negative")
		}
	}
	if c.Queue > 0 && c.Batch > c.Queue {
		return conf.Errorf(conf.Join(path, "batch"), "must not exceed queue (%d)", c.Queue)
	}
	return nil
}

// Open opens the Store c names. Call Validate first.
func (c *Config) Open() (Store, error) {
	switch c.Driver {
	case DriverSQLite, "":
		return OpenSQLite(c.Path)
	}
	return nil, fmt.Errorf("store: unknown driver %q", c.Driver)
}

// LogOptions returns the Log options c sets, logging to logger.
func (c *Config) LogOptions(logger *slog.Logger) LogOptions {
	return LogOptions{
		Queue:      c.Queue,
		Batch:      c.Batch,
		FlushEvery: c.FlushEvery.D(),
		Attempts:   c.Attempts,
		Logger:     logger,
	}
}
