package eval

import (
	"math"
	"sort"
)

// The metrics follow RouteLLM (arXiv 2406.18665, routellm/evals/evaluate.py)
// and ../shared/data/README.md:
//
//	PGR(q)   = (q - q_weak) / (q_strong - q_weak)
//	APGR     = the trapezoid area under PGR against the strong-call share
//	           over the curve's points sorted by share, divided by the span
//	           of shares covered (RouteLLM normalises by the strong-only and
//	           weak-only areas over the same span, which is the same thing);
//	           over a curve from 0% to 100% it is the plain area
//	CPT(x)   = the smallest strong-call share at which the curve, walked by
//	           share and linearly interpolated between points, first reaches
//	           PGR = x
//
// The same functions give APGR and CPT against cost share.

// PGR returns the performance gap recovered by quality q, and false when
// the strong and weak qualities are equal.
func PGR(q, qWeak, qStrong float64) (float64, bool) {
	gap := qStrong - qWeak
	if gap == 0 || math.IsNaN(gap) {
		return 0, false
	}
	return (q - qWeak) / gap, true
}

// XY is one point of a curve: X a share in [0,1], Y a PGR.
type XY struct{ X, Y float64 }

// sortXY returns a copy of pts sorted by X, ties by Y.
func sortXY(pts []XY) []XY {
	s := append([]XY(nil), pts...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].X != s[j].X {
			return s[i].X < s[j].X
		}
		return s[i].Y < s[j].Y
	})
	return s
}

// APGR returns the average PGR of the curve through pts (see the package
// metrics note), and false when the points span no width.
func APGR(pts []XY) (float64, bool) {
	s := sortXY(pts)
	if len(s) < 2 || s[len(s)-1].X <= s[0].X {
		return 0, false
	}
	return trapezoid(s) / (s[len(s)-1].X - s[0].X), true
}

func trapezoid(s []XY) float64 {
	area := 0.0
	for i := 1; i < len(s); i++ {
		area += (s[i].X - s[i-1].X) * (s[i].Y + s[i-1].Y) / 2
	}
	return area
}

// CPT returns the smallest share at which the curve through pts reaches
// PGR target, and false when it never does.
func CPT(pts []XY, target float64) (float64, bool) {
	s := sortXY(pts)
	for i, p := range s {
		if p.Y < target {
			continue
		}
		if i == 0 {
			return p.X, true
		}
		q := s[i-1]
		return q.X + (target-q.Y)*(p.X-q.X)/(p.Y-q.Y), true
	}
	return 0, false
}

// Pareto returns the indexes of the points (cost, quality) that no other
// point dominates — none is as cheap and as good and strictly better in
// one — in order of cost. Of identical points the first is kept.
func Pareto(cost, quality []float64) []int {
	idx := make([]int, len(cost))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		i, j := idx[a], idx[b]
		if cost[i] != cost[j] {
			return cost[i] < cost[j]
		}
		return quality[i] > quality[j]
	})
	var out []int
	best := math.Inf(-1)
	for _, i := range idx {
		if quality[i] > best {
			out = append(out, i)
			best = quality[i]
		}
	}
	return out
}

// Percentile returns the p-th percentile (p in [0,100]) of sorted values,
// interpolating linearly between the closest ranks (numpy's default), or
// 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := p / 100 * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// randomLine is the random router between a weak and a strong model: it
// sends a request to the strong model with probability s, so in
// expectation its quality is qWeak + s*(qStrong-qWeak) and its cost share
// s + (1-s)*r, r being the weak model's cost relative to the strong one.
type randomLine struct {
	qWeak, qStrong float64
	r              float64
}

// atShare returns the random router's quality at strong-call share s.
func (l randomLine) atShare(s float64) float64 { return l.qWeak + s*(l.qStrong-l.qWeak) }

// shareAtCost returns the strong-call share at which the random router's
// cost share is c, clamped to [0,1].
func (l randomLine) shareAtCost(c float64) float64 {
	if l.r >= 1 {
		return 1
	}
	return min(1, max(0, (c-l.r)/(1-l.r)))
}
