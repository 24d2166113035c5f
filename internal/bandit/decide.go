package bandit

import (
	"fmt"
	"math"
	"sync"
)

// Algorithm is how arms are scored.
type Algorithm string

// Algorithms.
const (
	// Thompson scores each arm with a draw of xᵀθ from its posterior.
	Thompson Algorithm = "thompson"
	// LinUCB scores each arm with xᵀθ̂ + α·sqrt(xᵀA⁻¹x).
	LinUCB Algorithm = "linucb"
)

// Estimate is one arm's assessment at one context.
type Estimate struct {
	Mean float64 // xᵀθ̂
	// SD is the standard deviation of xᵀθ: v·sqrt(xᵀA⁻¹x) for Thompson,
	// sqrt(xᵀA⁻¹x) for LinUCB (whose bonus is α·SD).
	SD float64
	// Score is what the arms are compared on: the Thompson draw, or the
	// upper confidence bound.
	Score float64
	// Pulls is the number of observations behind the estimate.
	Pulls float64
}

// Score assesses arm p at x. normal draws from N(0,1) (Thompson only);
// alpha is LinUCB's exploration weight.
func Score(alg Algorithm, p *Posterior, x []float64, alpha float64, normal func() float64) Estimate {
	e := Estimate{Mean: p.Mean(x), Pulls: p.N}
	spread := p.Spread(x)
	switch alg {
	case LinUCB:
		e.SD = math.Sqrt(spread)
		e.Score = e.Mean + alpha*e.SD
	default:
		e.SD = math.Sqrt(p.Noise * spread)
		e.Score = e.Mean + e.SD*normal()
	}
	return e
}

// Pick returns the arm with the highest score and the greedy arm, the one
// with the highest mean; ties go to the lower index.
func Pick(est []Estimate) (best, greedy int) {
	for i := 1; i < len(est); i++ {
		if est[i].Score > est[best].Score {
			best = i
		}
		if est[i].Mean > est[greedy].Mean {
			greedy = i
		}
	}
	return best, greedy
}

// Limiter bounds exploration: of the last Window decisions, at most
// MaxShare·Window may explore (serve an arm other than the greedy one).
// It is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	max      int // explorations allowed in the window
	ring     []bool
	next     int
	explored int
}

// NewLimiter returns a limiter allowing a maxShare in [0,1] of the last
// window decisions to explore. maxShare ≥ 1 never limits.
func NewLimiter(maxShare float64, window int) (*Limiter, error) {
	if !(maxShare >= 0 && maxShare <= 1) || window <= 0 {
		return nil, fmt.Errorf("bandit: limiter share %v window %d", maxShare, window)
	}
	return &Limiter{max: int(math.Floor(maxShare*float64(window) + 1e-9)), ring: make([]bool, window)}, nil
}

// Admit records a decision and reports whether it may explore: a decision
// that wants to explore (explore true) is admitted when the window's
// explorations, this one included, stay within the cap; otherwise it is
// recorded as not exploring and the caller serves the greedy arm.
func (l *Limiter) Admit(explore bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.ring[l.next]
	if out {
		l.explored--
	}
	ok := explore && l.explored+1 <= l.max
	l.ring[l.next] = ok
	if ok {
		l.explored++
	}
	l.next = (l.next + 1) % len(l.ring)
	return ok
}

// Share returns the share of the window's decisions that explored.
func (l *Limiter) Share() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(l.explored) / float64(len(l.ring))
}
