package experiment

import "math"

// Interval is a confidence interval.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// MeanCI returns the mean of m and its two-sided confidence interval at
// level conf: Student's t with N-1 degrees of freedom (the normal
// approximation for a large N, as the t quantile tends to it). Fewer than
// two observations give an unbounded interval.
func MeanCI(m Moments, conf float64) (float64, Interval) {
	mean := m.Mean()
	if m.N < 2 {
		return mean, Interval{math.Inf(-1), math.Inf(1)}
	}
	h := tQuantile(1-(1-conf)/2, m.N-1) * math.Sqrt(m.Var()/m.N)
	return mean, Interval{mean - h, mean + h}
}

// WilsonCI returns the rate k/n and Wilson's score interval at level conf;
// [0,1] for n = 0.
func WilsonCI(k, n, conf float64) (float64, Interval) {
	if n <= 0 {
		return 0, Interval{0, 1}
	}
	p := k / n
	z := normalQuantile(1 - (1-conf)/2)
	z2 := z * z
	centre := (p + z2/(2*n)) / (1 + z2/n)
	h := z / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	iv := Interval{math.Max(0, centre-h), math.Min(1, centre+h)}
	// The bounds are exactly 0 with no successes and 1 with no failures;
	// say so rather than leave the rounding of centre−h.
	if k <= 0 {
		iv.Lo = 0
	}
	if k >= n {
		iv.Hi = 1
	}
	return p, iv
}

// Test is the comparison of one arm with the control on one metric.
type Test struct {
	// Diff is the arm's estimate minus the control's.
	Diff float64 `json:"diff"`
	// CI is Diff's two-sided confidence interval.
	CI Interval `json:"ci"`
	// PValue is the two-sided p-value of "no difference"; 1 when there
	// is too little data to test.
	PValue float64 `json:"p_value"`
}

// Welch compares the means of a (the arm) and c (the control) with
// Welch's unequal-variance t-test; the confidence interval uses the
// Welch–Satterthwaite degrees of freedom.
func Welch(a, c Moments, conf float64) Test {
	t := Test{Diff: a.Mean() - c.Mean(), CI: Interval{math.Inf(-1), math.Inf(1)}, PValue: 1}
	if a.N < 2 || c.N < 2 {
		return t
	}
	va, vc := a.Var()/a.N, c.Var()/c.N
	se2 := va + vc
	if se2 <= 0 {
		// Both samples are constant: the difference is known exactly.
		t.CI = Interval{t.Diff, t.Diff}
		if t.Diff != 0 {
			t.PValue = 0
		}
		return t
	}
	df := se2 * se2 / (va*va/(a.N-1) + vc*vc/(c.N-1))
	se := math.Sqrt(se2)
	h := tQuantile(1-(1-conf)/2, df) * se
	t.CI = Interval{t.Diff - h, t.Diff + h}
	t.PValue = 2 * tCDF(-math.Abs(t.Diff)/se, df)
	return t
}

// TwoProportions compares the rates ka/na (the arm) and kc/nc (the
// control) with the pooled two-proportion z-test; the confidence interval
// is the unpooled (Wald) interval of the difference.
func TwoProportions(ka, na, kc, nc, conf float64) Test {
	t := Test{CI: Interval{-1, 1}, PValue: 1}
	if na <= 0 || nc <= 0 {
		return t
	}
	pa, pc := ka/na, kc/nc
	t.Diff = pa - pc
	z := normalQuantile(1 - (1-conf)/2)
	h := z * math.Sqrt(pa*(1-pa)/na+pc*(1-pc)/nc)
	t.CI = Interval{math.Max(-1, t.Diff-h), math.Min(1, t.Diff+h)}
	p := (ka + kc) / (na + nc)
	se := math.Sqrt(p * (1 - p) * (1/na + 1/nc))
	switch {
	case se > 0:
		t.PValue = 2 * normalCDF(-math.Abs(t.Diff)/se)
	case t.Diff != 0:
		t.PValue = 0
	}
	return t
}

// MixtureSPRT is the always-valid test of Johari, Pekelis and Walsh
// ("Always valid inference", 2017/2022) for a difference in means: the
// likelihood ratio of a normal mixture N(0, tau²) over the difference
// against "no difference", with the difference's variance s² estimated
// from the data:
//
//	Λ = sqrt(s²/(s²+τ²)) · exp(diff² τ² / (2 s² (s²+τ²)))
//
// Under "no difference" Λ is a nonnegative martingale with mean 1, so by
// Ville's inequality P(Λ ever ≥ 1/α) ≤ α: stopping the first time it
// crosses 1/α keeps the false positive rate at α however often the test
// is checked. It returns Λ (1 when there is too little data).
func MixtureSPRT(a, c Moments, tau float64) float64 {
	if a.N < 2 || c.N < 2 || !(tau > 0) {
		return 1
	}
	s2 := a.Var()/a.N + c.Var()/c.N
	if s2 <= 0 {
		return 1
	}
	d := a.Mean() - c.Mean()
	t2 := tau * tau
	return math.Sqrt(s2/(s2+t2)) * math.Exp(d*d*t2/(2*s2*(s2+t2)))
}

// FixedHorizonN is the per-arm sample size of a two-sided fixed-horizon
// test at level alpha with the given power to detect a difference delta
// between two arms of standard deviation sd each:
// n = 2 (z_{1-α/2} + z_power)² sd² / delta².
func FixedHorizonN(delta, sd, alpha, power float64) float64 {
	z := normalQuantile(1-alpha/2) + normalQuantile(power)
	return math.Ceil(2 * z * z * sd * sd / (delta * delta))
}
