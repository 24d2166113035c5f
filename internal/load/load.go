// Package load measures how busy this process is: a Gauge counts requests
// in flight. The engine counts every request it serves in Default, from
// Chat until Finish, so that anything that adapts to load (a gate's peak
// threshold) reads one number without reaching into the engine.
//
// The level is per process: behind a load balancer each replica sees its
// own share of the traffic, which is what a replica's capacity is about.
package load

import "sync/atomic"

// Gauge counts units of work in flight. The zero value is ready to use and
// a Gauge is safe for concurrent use. Every Inc must be matched by one Dec.
type Gauge struct{ n atomic.Int64 }

// Inc records one more unit in flight.
func (g *Gauge) Inc() { g.n.Add(1) }

// Dec records one unit done.
func (g *Gauge) Dec() { g.n.Add(-1) }

// Level returns the units in flight now, never below 0.
func (g *Gauge) Level() int64 { return max(g.n.Load(), 0) }

// Default counts the chat requests in flight in this process (the engine's
// exchanges between Chat and Finish).
var Default = &Gauge{}
