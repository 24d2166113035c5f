package ui

import (
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/engine"
	"github.com/sextant-router/sextant/internal/metrics"
	"github.com/sextant-router/sextant/internal/store"
)

// Bucket geometry of the live time series.
const (
	BucketSeconds = 5
	Buckets       = 360 // 30 minutes
)

// Recent keeps what the dashboard shows, in memory: the last N finished
// requests (for tables, percentiles and the trace view) and per-5-second
// buckets over the last 30 minutes (for the time series and shares). It
// implements engine.Observer; Observe is safe for concurrent use and takes
// one short lock.
type Recent struct {
	now func() time.Time

	mu      sync.Mutex
	ring    []entry
	next    int // where the next entry goes
	size    int // entries held
	buckets [Buckets]bucket
	life    totals
	started time.Time
}

// entry is one finished request.
type entry struct {
	d        *store.Decision
	kind     string
	route    string // label value
	baseline catalog.Micros
	overhead float64
}

// totals are sums over a period.
type totals struct {
	Requests int64          `json:"requests"`
	Errors   int64          `json:"errors"`
	Cost     catalog.Micros `json:"-"`
	Baseline catalog.Micros `json:"-"`
}

// bucket sums the requests that finished in one 5-second slot.
type bucket struct {
	slot     int64 // unix seconds / BucketSeconds; 0 when unused
	totals   totals
	routes   map[string]map[string]int64 // route -> model -> requests
	gates    map[string]*[3]int64        // gate -> pass, fail, skip
	cascade  [2]int64                    // accept, escalate
	cache    [2]int64                    // hit, miss
	latSumMS float64
}

// NewRecent keeps the last n requests (at least 1). now is the clock,
// time.Now when nil.
func NewRecent(n int, now func() time.Time) *Recent {
	if now == nil {
		now = time.Now
	}
	return &Recent{now: now, ring: make([]entry, max(n, 1)), started: now()}
}

// Observe implements engine.Observer.
func (r *Recent) Observe(f *engine.Finished) {
	d := f.Decision
	e := entry{d: d, kind: f.Kind, route: metrics.RouteLabel(f), baseline: metrics.BaselineCost(f), overhead: metrics.OverheadMS(f)}
	model := metrics.ModelLabel(f)
	failed := d.Status >= 500
	slot := r.now().Unix() / BucketSeconds

	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	r.size = min(r.size+1, len(r.ring))

	b := &r.buckets[slot%Buckets]
	if b.slot != slot {
		*b = bucket{slot: slot}
	}
	for _, t := range []*totals{&b.totals, &r.life} {
		t.Requests++
		if failed {
			t.Errors++
		}
		t.Cost += d.CostMicros
		t.Baseline += e.baseline
	}
	b.latSumMS += d.LatencyMS
	if b.routes == nil {
		b.routes = map[string]map[string]int64{}
	}
	rm := b.routes[e.route]
	if rm == nil {
		rm = map[string]int64{}
		b.routes[e.route] = rm
	}
	rm[model]++
	for i := range d.Trace.Decisions {
		x := &d.Trace.Decisions[i]
		if g, v, ok := metrics.GateVerdict(x); ok {
			if b.gates == nil {
				b.gates = map[string]*[3]int64{}
			}
			c := b.gates[g]
			if c == nil {
				c = &[3]int64{}
				b.gates[g] = c
			}
			c[verdictIndex(v)]++
		} else if v, ok := metrics.CascadeDecision(x); ok {
			b.cascade[boolIndex(v == "escalate")]++
		} else if v, ok := metrics.CacheResult(x); ok {
			b.cache[boolIndex(v == "miss")]++
		}
	}
}

// verdictIndex places a gate verdict in a [3]int64: pass, fail, skip.
func verdictIndex(v string) int {
	switch v {
	case "pass":
		return 0
	case "fail":
		return 1
	}
	return 2
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recentEntries returns up to limit entries that finished within window,
// newest first.
func (r *Recent) recentEntries(window time.Duration, limit int) []entry {
	cut := r.now().Add(-window)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]entry, 0, min(limit, r.size))
	for i := 1; i <= r.size && len(out) < limit; i++ {
		e := r.ring[(r.next-i+len(r.ring))%len(r.ring)]
		if window > 0 && finishedAt(e.d).Before(cut) {
			break
		}
		out = append(out, e)
	}
	return out
}

// find returns the entry of request id, if still held.
func (r *Recent) find(id string) (entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i <= r.size; i++ {
		e := r.ring[(r.next-i+len(r.ring))%len(r.ring)]
		if e.d.RequestID == id {
			return e, true
		}
	}
	return entry{}, false
}

// window returns copies of the buckets of the last n slots, oldest first,
// with empty slots filled in, and the current slot.
func (r *Recent) window(n int) ([]bucket, int64) {
	now := r.now().Unix() / BucketSeconds
	n = min(max(n, 1), Buckets)
	out := make([]bucket, n)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		slot := now - int64(n-1-i)
		b := r.buckets[slot%Buckets]
		if b.slot == slot {
			out[i] = b.copy()
		} else {
			out[i] = bucket{slot: slot}
		}
	}
	return out, now
}

// copy deep-copies b's maps (taken under the lock).
func (b bucket) copy() bucket {
	c := b
	if b.routes != nil {
		c.routes = make(map[string]map[string]int64, len(b.routes))
		for k, v := range b.routes {
			c.routes[k] = make(map[string]int64, len(v))
			for m, n := range v {
				c.routes[k][m] = n
			}
		}
	}
	if b.gates != nil {
		c.gates = make(map[string]*[3]int64, len(b.gates))
		for k, v := range b.gates {
			x := *v
			c.gates[k] = &x
		}
	}
	return c
}

func (r *Recent) lifetime() (totals, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.life, r.started
}

func finishedAt(d *store.Decision) time.Time {
	return d.Time.Add(time.Duration(d.LatencyMS * float64(time.Millisecond)))
}

var _ engine.Observer = (*Recent)(nil)
