package bandit

// Layout is the layout of one arm's statistics in a flat vector of sums
// over d features:
//
//	[0, d²)        A_data = Σ x xᵀ, row-major
//	[d², d²+d)     b_data = Σ r x
//	d²+d           n, the number of observations
//	d²+d+1         Σ r
//	d²+d+2         Σ r²
//
// The ridge and the prior are not in it: they are configuration, added
// when a Posterior is computed, so a changed prior applies at once and is
// never counted twice by replicas that share the sums.
type Layout struct{ D int }

// Len is the vector's length, d² + d + 3.
func (l Layout) Len() int { return l.D*l.D + l.D + 3 }

func (l Layout) n() int { return l.D*l.D + l.D }

// Count returns n, the number of observations in stats.
func (l Layout) Count(stats []float64) float64 {
	if len(stats) < l.Len() {
		return 0
	}
	return stats[l.n()]
}

// SumReward returns Σ r.
func (l Layout) SumReward(stats []float64) float64 {
	if len(stats) < l.Len() {
		return 0
	}
	return stats[l.n()+1]
}

// Observe returns, in dst (grown as needed), the delta that adds one
// observation of reward r at context x (len(x) must be D).
func (l Layout) Observe(dst, x []float64, r float64) []float64 {
	dst = l.zero(dst)
	d := l.D
	for i := range d {
		row := dst[i*d : i*d+d]
		xi := x[i]
		for j := range d {
			row[j] = xi * x[j]
		}
		dst[d*d+i] = r * xi
	}
	dst[l.n()] = 1
	dst[l.n()+1] = r
	dst[l.n()+2] = r * r
	return dst
}

// Replace returns, in dst, the delta that changes the reward of an
// observation already counted at context x from old to r: b moves by
// x·(r − old), A and n do not change.
func (l Layout) Replace(dst, x []float64, old, r float64) []float64 {
	dst = l.zero(dst)
	d := l.D
	for i := range d {
		dst[d*d+i] = (r - old) * x[i]
	}
	dst[l.n()+1] = r - old
	dst[l.n()+2] = r*r - old*old
	return dst
}

func (l Layout) zero(dst []float64) []float64 {
	if cap(dst) < l.Len() {
		dst = make([]float64, l.Len())
	}
	dst = dst[:l.Len()]
	clear(dst)
	return dst
}
