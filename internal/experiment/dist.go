package experiment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The distribution functions the intervals and tests need, on gonum's
// distuv, with the edge cases the callers rely on made explicit (gonum
// panics on a probability outside [0,1]).

// normalQuantile returns the p-quantile of the standard normal
// distribution; p of 0 or 1 gives ∓Inf, p outside [0,1] NaN.
func normalQuantile(p float64) float64 {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return math.NaN()
	}
	return distuv.UnitNormal.Quantile(p)
}

// normalCDF is the standard normal distribution function.
func normalCDF(x float64) float64 { return distuv.UnitNormal.CDF(x) }

// tCDF is Student's t distribution function with df degrees of freedom
// (df may be fractional, as Welch's approximation gives). For df above
// 1e7 it is the normal distribution function.
func tCDF(x, df float64) float64 {
	if math.IsNaN(x) || !(df > 0) {
		return math.NaN()
	}
	if df > 1e7 {
		return normalCDF(x)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(x)
}

// tQuantile returns the p-quantile of Student's t with df degrees of
// freedom; NaN unless 0 < p < 1 and df > 0.
func tQuantile(p, df float64) float64 {
	if !(p > 0 && p < 1) || !(df > 0) {
		return math.NaN()
	}
	if df > 1e7 {
		return normalQuantile(p)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}
