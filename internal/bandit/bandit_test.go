package bandit

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLayoutObserveReplace(t *testing.T) {
	l := Layout{D: 2}
	x := []float64{1, 0.5}
	tests := []struct {
		name string
		ops  func(s []float64) []float64
		want []float64 // A(4) b(2) n Σr Σr²
	}{
		{"one observation", func(s []float64) []float64 { return add(s, l.Observe(nil, x, 0.8)) },
			[]float64{1, 0.5, 0.5, 0.25, 0.8, 0.4, 1, 0.8, 0.64}},
		{"observe then replace", func(s []float64) []float64 {
			s = add(s, l.Observe(nil, x, 0.8))
			return add(s, l.Replace(nil, x, 0.8, 0.2))
		}, []float64{1, 0.5, 0.5, 0.25, 0.2, 0.1, 1, 0.2, 0.04}},
		{"two observations", func(s []float64) []float64 {
			s = add(s, l.Observe(nil, x, 1))
			return add(s, l.Observe(nil, []float64{1, 0}, 0))
		}, []float64{2, 0.5, 0.5, 0.25, 1, 0.5, 2, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.ops(make([]float64, l.Len()))
			for i := range tt.want {
				if !near(got[i], tt.want[i], 1e-12) {
					t.Fatalf("stats = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func add(s, d []float64) []float64 {
	for i := range s {
		s[i] += d[i]
	}
	return s
}

// TestPosteriorMatchesRidge checks θ̂ and A⁻¹ against the ridge solution
// computed by hand for d = 2.
func TestPosteriorMatchesRidge(t *testing.T) {
	l := Layout{D: 2}
	s := make([]float64, l.Len())
	obs := []struct {
		x []float64
		r float64
	}{{[]float64{1, 0}, 1}, {[]float64{1, 1}, 0}, {[]float64{1, 1}, 0.5}, {[]float64{1, 0.5}, 0.2}}
	for _, o := range obs {
		add(s, l.Observe(nil, o.x, o.r))
	}
	p, err := NewPosterior(l, s, Prior{})
	if err != nil {
		t.Fatal(err)
	}
	// A = I + Σxxᵀ, b = Σrx.
	a00, a01, a11 := 1+4.0, 0+2.5, 1+2.25
	b0, b1 := 1.7, 0.6
	det := a00*a11 - a01*a01
	th0, th1 := (a11*b0-a01*b1)/det, (a00*b1-a01*b0)/det
	if !near(p.Theta[0], th0, 1e-12) || !near(p.Theta[1], th1, 1e-12) {
		t.Errorf("θ̂ = %v, want [%v %v]", p.Theta, th0, th1)
	}
	if !near(p.Cov[0], a11/det, 1e-12) || !near(p.Cov[1], -a01/det, 1e-12) || !near(p.Cov[3], a00/det, 1e-12) {
		t.Errorf("A⁻¹ = %v", p.Cov)
	}
	if p.N != 4 || !near(p.SumReward, 1.7, 1e-12) {
		t.Errorf("N, ΣR = %v, %v", p.N, p.SumReward)
	}
	// Noise: (4·0.25 + SSE)/(4+4), SSE from the residuals.
	sse := 0.0
	for _, o := range obs {
		e := o.r - (th0*o.x[0] + th1*o.x[1])
		sse += e * e
	}
	if !near(p.Noise, (1+sse)/8, 1e-12) {
		t.Errorf("noise = %v, want %v", p.Noise, (1+sse)/8)
	}
	x := []float64{1, 0.3}
	if want := th0 + 0.3*th1; !near(p.Mean(x), want, 1e-12) {
		t.Errorf("mean = %v, want %v", p.Mean(x), want)
	}
	spread := (a11 - 2*0.3*a01 + 0.09*a00) / det
	if !near(p.Spread(x), spread, 1e-12) {
		t.Errorf("spread = %v, want %v", p.Spread(x), spread)
	}
}

func TestPrior(t *testing.T) {
	l := Layout{D: 3}
	// 1000 pseudo-observations of reward 0.7 at the bias-only context:
	// the mean there is about 0.7, elsewhere unchanged by the prior.
	p, err := NewPosterior(l, nil, Prior{Weight: 1000, Reward: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Mean([]float64{1, 0, 0}); !near(m, 0.7, 0.001) {
		t.Errorf("mean at e0 = %v, want ≈0.7", m)
	}
	at := []float64{1, 0.5, 0.5}
	p, err = NewPosterior(l, nil, Prior{Weight: 1000, Reward: 0.4, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Mean(at); !near(m, 0.4, 0.001) {
		t.Errorf("mean at the prior's context = %v, want ≈0.4", m)
	}
	if p.N != 0 {
		t.Errorf("pseudo-observations counted as pulls: %v", p.N)
	}
}

func TestBadStats(t *testing.T) {
	l := Layout{D: 2}
	for name, s := range map[string][]float64{
		"nan":          {math.NaN(), 0, 0, 0, 0, 0, 0, 0, 0},
		"inf":          {0, 0, 0, 0, math.Inf(1), 0, 0, 0, 0},
		"not definite": {-5, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := NewPosterior(l, s, Prior{}); !errors.Is(err, ErrBadStats) {
			t.Errorf("%s: err = %v, want ErrBadStats", name, err)
		}
	}
}

func TestScore(t *testing.T) {
	l := Layout{D: 2}
	s := make([]float64, l.Len())
	for range 50 {
		add(s, l.Observe(nil, []float64{1, 1}, 0.6))
	}
	p, _ := NewPosterior(l, s, Prior{})
	x := []float64{1, 1}
	ucb := Score(LinUCB, p, x, 2, nil)
	if want := p.Mean(x) + 2*math.Sqrt(p.Spread(x)); !near(ucb.Score, want, 1e-12) || ucb.Pulls != 50 {
		t.Errorf("ucb = %+v, want score %v", ucb, want)
	}
	// Thompson draws have the posterior's mean and sd.
	rng := rand.New(rand.NewPCG(1, 2))
	var sum, sq float64
	const n = 20000
	var e Estimate
	for range n {
		e = Score(Thompson, p, x, 0, rng.NormFloat64)
		sum += e.Score
		sq += e.Score * e.Score
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if !near(mean, e.Mean, 4*e.SD/math.Sqrt(n)) || !near(sd, e.SD, 0.05*e.SD) {
		t.Errorf("draws: mean %v sd %v, want %v %v", mean, sd, e.Mean, e.SD)
	}
	if want := math.Sqrt(p.Noise * p.Spread(x)); !near(e.SD, want, 1e-12) {
		t.Errorf("sd = %v, want %v", e.SD, want)
	}
}

func TestPick(t *testing.T) {
	tests := []struct {
		name         string
		est          []Estimate
		best, greedy int
	}{
		{"same", []Estimate{{Mean: 1, Score: 1}, {Mean: 0, Score: 0}}, 0, 0},
		{"explore", []Estimate{{Mean: 1, Score: 0.5}, {Mean: 0.2, Score: 0.9}}, 1, 0},
		{"ties to lower", []Estimate{{Mean: 1, Score: 1}, {Mean: 1, Score: 1}, {Mean: 1, Score: 1}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, g := Pick(tt.est)
			if b != tt.best || g != tt.greedy {
				t.Errorf("Pick = %d, %d, want %d, %d", b, g, tt.best, tt.greedy)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	tests := []struct {
		share  float64
		window int
		max    int // explorations allowed in any window
	}{{0, 10, 0}, {0.2, 10, 2}, {0.25, 100, 25}, {1, 5, 5}}
	for _, tt := range tests {
		l, err := NewLimiter(tt.share, tt.window)
		if err != nil {
			t.Fatal(err)
		}
		var hist []bool
		for range 10 * tt.window {
			hist = append(hist, l.Admit(true))
		}
		for i := 0; i+tt.window <= len(hist); i++ {
			c := 0
			for _, e := range hist[i : i+tt.window] {
				if e {
					c++
				}
			}
			if c > tt.max {
				t.Fatalf("share %v: %d explorations in a window of %d", tt.share, c, tt.window)
			}
			if i >= tt.window && c != tt.max {
				t.Fatalf("share %v: only %d explorations in a window, want the cap %d", tt.share, c, tt.max)
			}
		}
		if l.Admit(false) {
			t.Error("a decision that does not explore was admitted as exploring")
		}
	}
	if _, err := NewLimiter(1.5, 10); err == nil {
		t.Error("share 1.5 accepted")
	}
}

func TestRewardAndScale(t *testing.T) {
	w := Reward{Lambda: 10, Mu: 0.1}
	if got := w.Of(0.9, 0.01, 2); !near(got, 0.9-0.1-0.2, 1e-12) {
		t.Errorf("reward = %v", got)
	}
	if got := w.Of(math.NaN(), math.Inf(1), 0); got != 0 {
		t.Errorf("reward of NaN/Inf = %v, want 0", got)
	}
	sc := Scale{Min: 1, Max: 5}
	for in, want := range map[float64]float64{1: 0, 5: 1, 3: 0.5, -2: 0, 9: 1, math.NaN(): 0} {
		if got := sc.Map(in); got != want {
			t.Errorf("Map(%v) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkPosterior16(b *testing.B) {
	l := Layout{D: 16}
	s := make([]float64, l.Len())
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float64, 16)
	for range 100 {
		for i := range x {
			x[i] = rng.Float64()
		}
		add(s, l.Observe(nil, x, rng.Float64()))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPosterior(l, s, Prior{Weight: 10, Reward: 0.5}); err != nil {
			b.Fatal(err)
		}
	}
}
