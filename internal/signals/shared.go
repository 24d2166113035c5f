package signals

import "math"

// Shared supplies other replicas' signals (internal/state's Redis
// publishes each replica's Local stats and caches the others'). Peers must
// not block: it reads a cache.
type Shared interface {
	Peers(model string) []Stats
}

type sharedBox struct{ s Shared }

// SetShared makes Stats merge the peers' signals from s; nil stops it.
func (r *Registry) SetShared(s Shared) {
	if s == nil {
		r.shared.Store(nil)
		return
	}
	r.shared.Store(&sharedBox{s})
}

// Local returns this process's own signals of name, without peers.
func (r *Registry) Local(name string) Stats { return r.local(name) }

// Stats returns name's signals over the window ending now: this process's
// merged with its peers' when a Shared is set. Counts, in-flight requests
// and spend add up; latencies, TTFT and decoding speed are averaged
// weighted by each replica's successful requests (a sketch's percentiles
// are not averaged exactly, but replicas see the same models).
func (r *Registry) Stats(name string) Stats {
	st := r.local(name)
	b := r.shared.Load()
	if b == nil {
		return st
	}
	for _, p := range b.s.Peers(name) {
		st = merge(st, p)
	}
	return st
}

func merge(a, b Stats) Stats {
	wa, wb := float64(a.Requests-a.Errors), float64(b.Requests-b.Errors)
	avg := func(x, y float64) float64 {
		switch {
		case x == 0:
			return y
		case y == 0:
			return x
		case wa+wb == 0:
			return (x + y) / 2
		}
		return (x*wa + y*wb) / (wa + wb)
	}
	out := a
	out.ErrorsByClass = copyMap(a.ErrorsByClass)
	out.Requests += b.Requests
	out.Errors += b.Errors
	for c, n := range b.ErrorsByClass {
		if out.ErrorsByClass == nil {
			out.ErrorsByClass = map[string]int64{}
		}
		out.ErrorsByClass[c] += n
	}
	out.InFlight += b.InFlight
	out.LatencyP50MS = avg(a.LatencyP50MS, b.LatencyP50MS)
	out.LatencyP95MS = avg(a.LatencyP95MS, b.LatencyP95MS)
	out.LatencyP99MS = math.Max(a.LatencyP99MS, b.LatencyP99MS)
	out.TTFTP50MS = avg(a.TTFTP50MS, b.TTFTP50MS)
	out.TTFTP95MS = avg(a.TTFTP95MS, b.TTFTP95MS)
	out.LatencyEWMAMS = avg(a.LatencyEWMAMS, b.LatencyEWMAMS)
	out.TokensPerSecond = avg(a.TokensPerSecond, b.TokensPerSecond)
	out.SpendUSD += b.SpendUSD
	out.SpendTotalUSD += b.SpendTotalUSD
	// Replicas usually share an API key, so the newest report is the
	// best estimate of everyone's headroom.
	if b.RateLimit != nil && (a.RateLimit == nil || b.RateLimit.At.After(a.RateLimit.At)) {
		out.RateLimit = b.RateLimit
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(out.Errors) / float64(out.Requests)
	}
	return out
}

func copyMap(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
