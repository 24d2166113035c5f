package learn

import "math"

// minimize minimizes the smooth convex function f from x (updated in
// place) by L-BFGS with a backtracking (Armijo) line search. f returns the
// value at x and writes the gradient into g. It stops after maxIter
// iterations, when the value improves by less than tol relative to its
// size, when the gradient vanishes, or when stop returns true; it returns
// the final value.
func minimize(x []float64, f func(x, g []float64) float64, maxIter int, tol float64, stop func() bool) float64 {
	const m = 8
	n := len(x)
	g := make([]float64, n)
	fx := f(x, g)
	s := make([][]float64, 0, m)
	y := make([][]float64, 0, m)
	rho := make([]float64, 0, m)
	alpha := make([]float64, m)
	d := make([]float64, n)
	xNew := make([]float64, n)
	gNew := make([]float64, n)
	for it := 0; it < maxIter && !stop(); it++ {
		gn := norm(g)
		if gn < 1e-10 {
			break
		}
		// d = -H g by the two-loop recursion.
		copy(d, g)
		for i := len(s) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(s[i], d)
			axpy(-alpha[i], y[i], d)
		}
		if k := len(s) - 1; k >= 0 {
			scaleVec(d, dot(s[k], y[k])/dot(y[k], y[k]))
		} else {
			scaleVec(d, 1/gn)
		}
		for i := range s {
			b := rho[i] * dot(y[i], d)
			axpy(alpha[i]-b, s[i], d)
		}
		scaleVec(d, -1)
		slope := dot(g, d)
		if slope >= 0 { // not a descent direction: restart along -g
			s, y, rho = s[:0], y[:0], rho[:0]
			copy(d, g)
			scaleVec(d, -1/gn)
			slope = -gn
		}
		step := 1.0
		var fNew float64
		ok := false
		for range 40 {
			for i := range x {
				xNew[i] = x[i] + step*d[i]
			}
			fNew = f(xNew, gNew)
			if fNew <= fx+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			break
		}
		// Keep the curvature pair when it is positive.
		var si, yi []float64
		if len(s) == m {
			si, yi = s[0], y[0]
			s, y, rho = s[1:], y[1:], rho[1:]
		} else {
			si, yi = make([]float64, n), make([]float64, n)
		}
		for i := range x {
			si[i] = xNew[i] - x[i]
			yi[i] = gNew[i] - g[i]
		}
		if sy := dot(si, yi); sy > 1e-12 {
			s, y, rho = append(s, si), append(y, yi), append(rho, 1/sy)
		}
		copy(x, xNew)
		copy(g, gNew)
		done := fx-fNew < tol*math.Max(1, math.Abs(fNew))
		fx = fNew
		if done {
			break
		}
	}
	return fx
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func scaleVec(x []float64, a float64) {
	for i := range x {
		x[i] *= a
	}
}
