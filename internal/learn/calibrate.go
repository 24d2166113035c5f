package learn

import (
	"fmt"
	"math"
	"sort"
)

// Calibration methods.
const (
	// CalibPlatt fits P = sigmoid(A*z + B) to out-of-fold logits z.
	CalibPlatt = "platt"
	// CalibIsotonic fits a monotone step function of z (pool adjacent
	// violators), interpolated linearly between steps.
	CalibIsotonic = "isotonic"
	// CalibNone is the model's own sigmoid (or softmax).
	CalibNone = "none"
	// CalibTemperature (classifiers) fits one temperature A of the
	// softmax; it is what a classifier gets for CalibPlatt.
	CalibTemperature = "temperature"
)

// Calibration maps a label's logit to a probability.
type Calibration struct {
	Method string  `json:"method"`
	A      float64 `json:"a,omitempty"`
	B      float64 `json:"b,omitempty"`
	// X and Y are the isotonic knots: logits ascending and their
	// probabilities.
	X []float64 `json:"x,omitempty"`
	Y []float64 `json:"y,omitempty"`
}

// probFloor keeps calibrated probabilities off 0 and 1, so one surprise
// does not cost an infinite log loss.
const probFloor = 1e-4

func (c *Calibration) apply(z float64) float64 {
	var p float64
	switch c.Method {
	case CalibPlatt:
		p = sigmoid(c.A*z + c.B)
	case CalibIsotonic:
		p = interp(c.X, c.Y, z)
	default:
		p = sigmoid(z)
	}
	return min(1-probFloor, max(probFloor, p))
}

func (c *Calibration) validate(kind string) error {
	switch c.Method {
	case CalibPlatt, CalibNone:
	case CalibTemperature:
		if kind != KindClassifier {
			return fmt.Errorf("calibration %q is for classifiers", c.Method)
		}
	case CalibIsotonic:
		if len(c.X) == 0 || len(c.X) != len(c.Y) || !sort.Float64sAreSorted(c.X) {
			return fmt.Errorf("isotonic calibration needs ascending x and y of one length")
		}
	default:
		return fmt.Errorf("unknown calibration method %q", c.Method)
	}
	for _, v := range append([]float64{c.A, c.B}, append(c.X, c.Y...)...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("calibration holds a non-finite number")
		}
	}
	return nil
}

// interp interpolates the knots (xs, ys) at x, constant beyond the ends.
func interp(xs, ys []float64, x float64) float64 {
	i := sort.SearchFloat64s(xs, x)
	switch {
	case i == 0:
		return ys[0]
	case i == len(xs):
		return ys[len(ys)-1]
	}
	x0, x1 := xs[i-1], xs[i]
	if x1 == x0 {
		return ys[i]
	}
	return ys[i-1] + (ys[i]-ys[i-1])*(x-x0)/(x1-x0)
}

// fitPlatt fits sigmoid(a*z+b) to the outcomes y (0/1) by Newton's method
// with Platt's smoothed targets, which keep a separable set finite.
func fitPlatt(z, y []float64) Calibration {
	var pos, neg float64
	for _, v := range y {
		if v > 0.5 {
			pos++
		} else {
			neg++
		}
	}
	hi, lo := (pos+1)/(pos+2), 1/(neg+2)
	t := make([]float64, len(y))
	for i, v := range y {
		if v > 0.5 {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	a, b := 1.0, 0.0
	loss := func(a, b float64) float64 {
		s := 0.0
		for i := range z {
			u := a*z[i] + b
			s += softplus(u) - t[i]*u
		}
		return s
	}
	cur := loss(a, b)
	for range 100 {
		var ga, gb, haa, hab, hbb float64
		for i := range z {
			p := sigmoid(a*z[i] + b)
			d := p - t[i]
			w := p * (1 - p)
			ga += d * z[i]
			gb += d
			haa += w * z[i] * z[i]
			hab += w * z[i]
			hbb += w
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		for range 30 {
			na, nb := a-step*da, b-step*db
			if l := loss(na, nb); l <= cur {
				a, b = na, nb
				if cur-l < 1e-12*(1+math.Abs(cur)) {
					cur = l
					return Calibration{Method: CalibPlatt, A: a, B: b}
				}
				cur = l
				break
			}
			step /= 2
		}
		if step < 1e-8 {
			break
		}
	}
	return Calibration{Method: CalibPlatt, A: a, B: b}
}

// fitIsotonic fits a monotone non-decreasing map from z to y by pool
// adjacent violators and returns its knots (each block's mean logit and
// rate), with the rates smoothed by one pseudo-count towards the mean.
func fitIsotonic(z, y []float64) Calibration {
	n := len(z)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return z[order[a]] < z[order[b]] })
	type block struct{ sz, sy, n float64 }
	var bs []block
	for _, i := range order {
		bs = append(bs, block{z[i], y[i], 1})
		for len(bs) > 1 {
			a, b := bs[len(bs)-2], bs[len(bs)-1]
			if a.sy/a.n < b.sy/b.n {
				break
			}
			bs = append(bs[:len(bs)-2], block{a.sz + b.sz, a.sy + b.sy, a.n + b.n})
		}
	}
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= max(1, float64(n))
	c := Calibration{Method: CalibIsotonic}
	for _, b := range bs {
		y := (b.sy + mean) / (b.n + 1)
		if k := len(c.Y); k > 0 {
			y = max(y, c.Y[k-1]) // smoothing must not break monotonicity
		}
		c.X = append(c.X, b.sz/b.n)
		c.Y = append(c.Y, y)
	}
	return c
}

// fitTemperature fits the temperature t of softmax(t*z) to the classes y
// by golden-section search of the log loss over t in [0.05, 20].
func fitTemperature(z [][]float64, y []int) Calibration {
	loss := func(t float64) float64 {
		s := 0.0
		p := make([]float64, 0, 8)
		for i := range z {
			p = append(p[:0], z[i]...)
			softmax(p, t)
			s -= math.Log(max(probFloor, p[y[i]]))
		}
		return s
	}
	lo, hi := math.Log(0.05), math.Log(20)
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := loss(math.Exp(a)), loss(math.Exp(b))
	for range 60 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = loss(math.Exp(a))
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = loss(math.Exp(b))
		}
	}
	return Calibration{Method: CalibTemperature, A: math.Exp((lo + hi) / 2)}
}

// softplus is log(1+e^u), computed stably.
func softplus(u float64) float64 {
	if u > 30 {
		return u
	}
	if u < -30 {
		return math.Exp(u)
	}
	return math.Log1p(math.Exp(u))
}
