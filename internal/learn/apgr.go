package learn

import (
	"math"
	"sort"
)

// Curve is a two-model router's quality against its strong-call share:
// the router sends a record to the strong model when its score (the
// predicted P(weak model good enough)) is below a threshold, and the
// threshold is walked from sending nothing to sending everything. Records
// with equal scores are routed together, so between two thresholds the
// curve is the expected quality of breaking the tie at random (a straight
// line).
//
// The metrics follow ../shared/data/README.md and package eval: PGR =
// (q - q_weak) / (q_strong - q_weak); APGR is the trapezoid area under
// PGR at strong-call shares 0%, 10%, ..., 100%; CPT(x) is the smallest
// share whose PGR reaches x.
type Curve struct {
	n              int
	cum            []float64 // cum[k]: total gain of routing the k lowest-scored records strong
	qWeak, qStrong float64   // mean qualities
}

// NewCurve builds the curve of scores against the records' strong and
// weak qualities (parallel slices).
func NewCurve(score, strong, weak []float64) *Curve {
	n := len(score)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	c := &Curve{n: n, cum: make([]float64, n+1)}
	for _, i := range idx {
		c.qStrong += strong[i]
		c.qWeak += weak[i]
	}
	if n > 0 {
		c.qStrong /= float64(n)
		c.qWeak /= float64(n)
	}
	for a := 0; a < n; {
		b := a
		group := 0.0
		for b < n && score[idx[b]] == score[idx[a]] {
			group += strong[idx[b]] - weak[idx[b]]
			b++
		}
		for k := a + 1; k <= b; k++ {
			c.cum[k] = c.cum[a] + group*float64(k-a)/float64(b-a)
		}
		a = b
	}
	return c
}

// PGRAt returns the PGR at strong-call share x in [0,1].
func (c *Curve) PGRAt(x float64) float64 {
	gap := c.qStrong - c.qWeak
	if c.n == 0 || gap == 0 {
		return math.NaN()
	}
	k := x * float64(c.n)
	lo := min(c.n, int(math.Floor(k)))
	hi := min(c.n, lo+1)
	g := c.cum[lo] + (c.cum[hi]-c.cum[lo])*(k-float64(lo))
	return g / float64(c.n) / gap
}

// APGR is the trapezoid area under PGR at shares 0, 0.1, ..., 1.
func (c *Curve) APGR() float64 {
	area := 0.0
	for i := 1; i <= 10; i++ {
		area += 0.1 * (c.PGRAt(float64(i-1)/10) + c.PGRAt(float64(i)/10)) / 2
	}
	return area
}

// CPT returns the smallest strong-call share at which PGR reaches target,
// walking the records one at a time, and 1 if it never does.
func (c *Curve) CPT(target float64) float64 {
	prev := c.PGRAt(0)
	if prev >= target {
		return 0
	}
	for k := 1; k <= c.n; k++ {
		p := c.PGRAt(float64(k) / float64(c.n))
		if p >= target {
			return (float64(k-1) + (target-prev)/(p-prev)) / float64(c.n)
		}
		prev = p
	}
	return 1
}
