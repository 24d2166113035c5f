package eval

import (
	"slices"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		want []float64
		err  bool
	}{
		{"0,0.25,1", []float64{0, 0.25, 1}, false},
		{"0.3", []float64{0.3}, false},
		{"0:1:0.25", []float64{0, 0.25, 0.5, 0.75, 1}, false},
		{"0:1:0.1", []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}, false},
		{"0.2:0.5:0.2", []float64{0.2, 0.4}, false},
		{"0:1/5", []float64{0, 0.25, 0.5, 0.75, 1}, false},
		{"0:1", []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}, false},
		{"", nil, true},
		{"a,b", nil, true},
		{"1:0:0.1", nil, true},
		{"0:1:0", nil, true},
		{"0:1:0.1/3", nil, true},
		{"0:1/0", nil, true},
		{"0:1:0.000001", nil, true},
		{"NaN", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %v, %v; want %v (error %v)", tt.spec, got, err, tt.want, tt.err)
		}
	}
}
