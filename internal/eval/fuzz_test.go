package eval

import (
	"math"
	"testing"
)

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"0:1:0.1", "0,0.5,1", "0:1/11", "0:1", "1e308:1e308:1e-308", "-1:1:0.5", ",", ":", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		values, err := ParseSpec(spec)
		if err != nil {
			return
		}
		if len(values) == 0 || len(values) > maxPoints {
			t.Fatalf("ParseSpec(%q) gave %d values", spec, len(values))
		}
		for _, v := range values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("ParseSpec(%q) gave %v", spec, v)
			}
		}
	})
}
