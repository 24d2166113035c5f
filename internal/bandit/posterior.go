package bandit

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Prior shapes an arm's posterior beyond its data.
type Prior struct {
	// Ridge is the weight of the identity added to A (> 0; 1 when 0): it
	// keeps A invertible and shrinks unobserved directions towards 0.
	Ridge float64
	// Weight pseudo-observations of reward Reward at context At are added
	// to the statistics (none when Weight is 0). At must have D elements;
	// nil means the bias-only context e₀ = (1, 0, …, 0).
	Weight float64
	At     []float64
	Reward float64
	// NoiseVar and NoiseWeight are the prior guess of the reward noise
	// variance and how many observations it is worth (0.25 and 4 when 0:
	// the variance of a fair coin, a guess that fits rewards in [0,1]).
	NoiseVar    float64
	NoiseWeight float64
}

// Posterior is one arm's posterior, computed once from its statistics and
// then read by any number of decisions. It is immutable.
type Posterior struct {
	D int
	// Theta is the posterior mean θ̂ = A⁻¹b.
	Theta []float64
	// Cov is A⁻¹, row-major (the posterior covariance over v²).
	Cov []float64
	// Noise is v², the noise variance: (NoiseWeight·NoiseVar + SSE) /
	// (NoiseWeight + n), SSE the residual sum of squares of the data
	// under θ̂.
	Noise float64
	// N and SumReward are the data's count and reward sum.
	N, SumReward float64
}

// ErrBadStats is returned for statistics that hold NaN or infinities or
// give a matrix that is not positive definite.
var ErrBadStats = errors.New("bandit: statistics are not finite or not positive definite")

// NewPosterior computes the posterior of an arm whose statistics (laid out
// by l) are stats. stats shorter than l.Len() count as zeros.
func NewPosterior(l Layout, stats []float64, p Prior) (*Posterior, error) {
	d := l.D
	if d <= 0 {
		return nil, fmt.Errorf("bandit: dimension %d", d)
	}
	if len(stats) < l.Len() {
		stats = append(append([]float64(nil), stats...), make([]float64, l.Len()-len(stats))...)
	}
	for _, v := range stats {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, ErrBadStats
		}
	}
	ridge := p.Ridge
	if ridge <= 0 {
		ridge = 1
	}
	at := p.At
	if len(at) != d {
		at = make([]float64, d)
		at[0] = 1
	}
	aData, bData := stats[:d*d], stats[d*d:d*d+d]
	A := mat.NewSymDense(d, nil)
	b := mat.NewVecDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			// Symmetrise: replicas may add in different orders, so
			// rounding can leave the two triangles a hair apart.
			v := (aData[i*d+j]+aData[j*d+i])/2 + p.Weight*at[i]*at[j]
			if i == j {
				v += ridge
			}
			A.SetSym(i, j, v)
		}
		b.SetVec(i, bData[i]+p.Weight*p.Reward*at[i])
	}
	var ch mat.Cholesky
	if !ch.Factorize(A) {
		return nil, ErrBadStats
	}
	var theta mat.VecDense
	if err := ch.SolveVecTo(&theta, b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStats, err)
	}
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStats, err)
	}
	post := &Posterior{D: d, Theta: make([]float64, d), Cov: make([]float64, d*d),
		N: l.Count(stats), SumReward: l.SumReward(stats)}
	for i := range d {
		post.Theta[i] = theta.AtVec(i)
		for j := range d {
			post.Cov[i*d+j] = inv.At(i, j)
		}
	}
	// SSE = Σr² − 2θ̂ᵀb_data + θ̂ᵀA_data θ̂.
	sse := stats[d*d+d+2] - 2*dot(post.Theta, bData)
	for i := range d {
		sse += post.Theta[i] * dot(aData[i*d:i*d+d], post.Theta)
	}
	nv, nw := p.NoiseVar, p.NoiseWeight
	if nv <= 0 {
		nv = 0.25
	}
	if nw <= 0 {
		nw = 4
	}
	post.Noise = (nw*nv + max(0, sse)) / (nw + max(0, post.N))
	return post, nil
}

// Mean returns xᵀθ̂, the expected reward at x.
func (p *Posterior) Mean(x []float64) float64 { return dot(p.Theta, x) }

// Spread returns xᵀA⁻¹x (≥ 0): the posterior variance of xᵀθ over v².
func (p *Posterior) Spread(x []float64) float64 {
	d := p.D
	s := 0.0
	for i := range d {
		s += x[i] * dot(p.Cov[i*d:i*d+d], x)
	}
	return max(0, s)
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range min(len(a), len(b)) {
		s += a[i] * b[i]
	}
	return s
}
