package eval

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/eval/knob"
)

// maxPoints bounds a sweep.
const maxPoints = 1001

// ParseSpec reads a sweep spec: a comma-separated list of values
// ("0,0.25,0.5"), a range with a step ("0:1:0.1", both ends included when
// the step lands on them) or a range with a number of points ("0:1/21").
func ParseSpec(spec string) ([]float64, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty sweep spec")
	}
	if !strings.Contains(spec, ":") {
		var out []float64
		for _, f := range strings.Split(spec, ",") {
			v, err := number(f)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(out) > maxPoints {
			return nil, fmt.Errorf("sweep spec %q: at most %d points", spec, maxPoints)
		}
		return out, nil
	}
	lohi, tail, hasN := strings.Cut(spec, "/")
	parts := strings.Split(lohi, ":")
	if len(parts) < 2 || len(parts) > 3 || (hasN && len(parts) == 3) {
		return nil, fmt.Errorf("sweep spec %q: want LO:HI:STEP, LO:HI/N or a list V1,V2,...", spec)
	}
	lo, err := number(parts[0])
	if err != nil {
		return nil, err
	}
	hi, err := number(parts[1])
	if err != nil {
		return nil, err
	}
	if hi < lo {
		return nil, fmt.Errorf("sweep spec %q: LO must not exceed HI", spec)
	}
	if math.IsInf(hi-lo, 0) {
		return nil, fmt.Errorf("sweep spec %q: the range is too wide", spec)
	}
	switch {
	case len(parts) == 3:
		step, err := number(parts[2])
		if err != nil {
			return nil, err
		}
		if !(step > 0) {
			return nil, fmt.Errorf("sweep spec %q: the step must be positive", spec)
		}
		count := math.Floor((hi-lo)/step+1e-9) + 1
		if !(count <= maxPoints) {
			return nil, fmt.Errorf("sweep spec %q: at most %d points", spec, maxPoints)
		}
		n := int(count)
		out := make([]float64, n)
		for i := range out {
			out[i] = knob.Round(lo + float64(i)*step)
		}
		return out, nil
	case hasN:
		n, err := strconv.Atoi(strings.TrimSpace(tail))
		if err != nil || n < 1 || n > maxPoints {
			return nil, fmt.Errorf("sweep spec %q: N must be a whole number in [1,%d]", spec, maxPoints)
		}
		return knob.Range(lo, hi, n), nil
	}
	return knob.Range(lo, hi, 11), nil
}

func number(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("sweep spec: %q is not a number", strings.TrimSpace(s))
	}
	return v, nil
}
