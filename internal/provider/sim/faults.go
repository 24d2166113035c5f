package sim

import (
	"hash/fnv"
	"sync"

	"github.com/sextant-router/sextant/internal/conf"
)

// outcome is what a call does.
type outcome int

const (
	outcomeOK        outcome = iota
	outcomeRateLimit         // 429 with Retry-After
	outcomeError             // 500 or 503
	outcomeHang              // never answers; ends with ctx
	outcomeBreak             // a stream ends early; a Chat succeeds
)

// rates are the outcome probabilities; they sum to at most 1 and the rest
// is outcomeOK.
type rates struct {
	rateLimit, err, hang, streamBreak float64
}

func newRates(path string, o Options) (rates, error) {
	r := rates{rateLimit: o.RateLimitRate, err: o.ErrorRate, hang: o.HangRate, streamBreak: o.StreamBreakRate}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rate_limit_rate", r.rateLimit}, {"error_rate", r.err}, {"hang_rate", r.hang}, {"stream_break_rate", r.streamBreak}} {
		if !(f.v >= 0 && f.v <= 1) {
			return r, conf.Errorf(conf.Join(path, f.name), "must be between 0 and 1, got %v", f.v)
		}
	}
	if sum := r.rateLimit + r.err + r.hang + r.streamBreak; sum > 1+1e-9 {
		return r, conf.Errorf(path, "rate_limit_rate + error_rate + hang_rate + stream_break_rate must not exceed 1, got %v", sum)
	}
	return r, nil
}

// pick maps a uniform draw u in [0, 1) to an outcome.
func (r rates) pick(u float64) outcome {
	acc := 0.0
	for _, c := range []struct {
		p float64
		o outcome
	}{{r.rateLimit, outcomeRateLimit}, {r.err, outcomeError}, {r.hang, outcomeHang}, {r.streamBreak, outcomeBreak}} {
		acc += c.p
		if u < acc {
			return c.o
		}
	}
	return outcomeOK
}

// counter counts earlier calls per request content, so that repeating a
// request (a retry) draws a fresh outcome while a fixed sequence of
// requests replays exactly. It forgets everything once it holds
// maxCounted contents, which bounds its memory under load tests.
type counter struct {
	mu sync.Mutex
	n  map[uint64]uint64
}

const maxCounted = 1 << 16

// next returns how many calls with key came before this one.
func (c *counter) next(key uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil || len(c.n) >= maxCounted {
		c.n = make(map[uint64]uint64)
	}
	n := c.n[key]
	c.n[key] = n + 1
	return n
}

// mix combines two 64-bit values into a well-spread one (splitmix64's
// finalizer over their sum with an odd multiplier).
func mix(a, b uint64) uint64 {
	z := a + 0x9e3779b97f4a7c15*(b+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
