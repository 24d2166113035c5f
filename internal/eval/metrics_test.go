package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestPGR(t *testing.T) {
	if p, ok := PGR(0.75, 0.5, 1); !ok || p != 0.5 {
		t.Errorf("PGR = %v %v", p, ok)
	}
	if p, ok := PGR(1.2, 0.5, 1); !ok || !near(p, 1.4) {
		t.Errorf("PGR above strong = %v", p)
	}
	if _, ok := PGR(1, 0.5, 0.5); ok {
		t.Error("PGR defined without a gap")
	}
}

func TestAPGR(t *testing.T) {
	tests := []struct {
		name string
		pts  []XY
		want float64
		ok   bool
	}{
		// Trapezoids: 0.5*(0+0.6)/2 + 0.5*(0.6+1)/2 = 0.15 + 0.4.
		{"two segments", []XY{{0, 0}, {0.5, 0.6}, {1, 1}}, 0.55, true},
		{"unsorted input", []XY{{1, 1}, {0, 0}, {0.5, 0.6}}, 0.55, true},
		{"diagonal", []XY{{0, 0}, {1, 1}}, 0.5, true},
		// Over [0.2,0.6] only: area 0.4*(0.2+0.6)/2 = 0.16, over the span 0.4.
		{"normalised by span", []XY{{0.2, 0.2}, {0.6, 0.6}}, 0.4, true},
		// A vertical step counts no area.
		{"tie in share", []XY{{0, 0}, {0.5, 0}, {0.5, 1}, {1, 1}}, 0.5, true},
		{"one point", []XY{{0.5, 0.5}}, 0, false},
		{"no width", []XY{{0.5, 0.2}, {0.5, 0.7}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := APGR(tt.pts)
			if ok != tt.ok || !near(got, tt.want) {
				t.Fatalf("APGR = %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCPT(t *testing.T) {
	curve := []XY{{0, 0}, {0.2, 0.4}, {0.4, 0.6}, {0.6, 0.9}, {1, 1}}
	tests := []struct {
		target, want float64
		ok           bool
	}{
		{0.5, 0.3, true},         // between (0.2,0.4) and (0.4,0.6)
		{0.8, 0.6 - 0.2/3, true}, // 0.4 + (0.8-0.6)*(0.2/0.3)
		{0.4, 0.2, true},         // exactly at a point
		{0, 0, true},             // the first point already reaches it
		{1.1, 0, false},          // never reached
	}
	for _, tt := range tests {
		got, ok := CPT(curve, tt.target)
		if ok != tt.ok || (ok && !near(got, tt.want)) {
			t.Errorf("CPT(%v) = %v %v, want %v %v", tt.target, got, ok, tt.want, tt.ok)
		}
	}
	// The first crossing counts, not a later one after a dip.
	dip := []XY{{0, 0}, {0.2, 0.6}, {0.4, 0.3}, {0.6, 0.7}}
	if got, _ := CPT(dip, 0.5); !near(got, 0.2*5/6) {
		t.Errorf("CPT over a dip = %v", got)
	}
}

func TestPareto(t *testing.T) {
	cost := []float64{0.1, 0.5, 0.3, 1.0, 0.3, 0.05}
	quality := []float64{0.6, 0.7, 0.75, 0.8, 0.75, 0.5}
	// 0.5 costs more than 0.3 for less; the second 0.3 duplicates the first.
	want := []int{5, 0, 2, 3}
	got := Pareto(cost, quality)
	if len(got) != len(want) {
		t.Fatalf("Pareto = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Pareto = %v, want %v", got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{10, 20, 30, 40, 50}
	for _, tt := range []struct{ p, want float64 }{{0, 10}, {50, 30}, {90, 46}, {99, 49.6}, {100, 50}, {25, 20}} {
		if got := Percentile(v, tt.p); !near(got, tt.want) {
			t.Errorf("P%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if Percentile(nil, 50) != 0 || Percentile([]float64{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

func TestRandomLine(t *testing.T) {
	l := randomLine{qWeak: 0.6, qStrong: 0.8, r: 0.2}
	check(t, "quality at 25%", l.atShare(0.25), 0.65)
	// Cost share 0.6 = s + (1-s)*0.2 → s = 0.5.
	check(t, "share at cost", l.shareAtCost(0.6), 0.5)
	check(t, "clamped low", l.shareAtCost(0.1), 0)
	check(t, "clamped high", l.shareAtCost(1.5), 1)
	rr := randomRouter(0.2)
	check(t, "APGR", rr.APGR, 0.5)
	check(t, "CPT50", rr.CPT50, 0.5)
	check(t, "CPT80", rr.CPT80, 0.8)
	check(t, "APGR cost", rr.APGRCost, 0.5)
	check(t, "CPT50 cost", rr.CPT50Cost, 0.6)
	check(t, "CPT80 cost", rr.CPT80Cost, 0.84)
}

// baselines is the part of ../shared/data/baselines.json the tests read.
type baselines struct {
	Datasets map[string]map[string]struct {
		N          int `json:"n"`
		StrongOnly struct {
			Quality float64 `json:"quality"`
		} `json:"strong_only"`
		WeakOnly struct {
			Quality float64 `json:"quality"`
		} `json:"weak_only"`
		RandomRouter struct {
			APGRMean float64 `json:"apgr_mean"`
			APGRStd  float64 `json:"apgr_std"`
			Seeds    int     `json:"seeds"`
			CPT50    float64 `json:"cpt50_pct"`
			CPT80    float64 `json:"cpt80_pct"`
			Curve    []curvePoint
		} `json:"random_router"`
		OracleCurve struct {
			APGR  float64 `json:"apgr"`
			CPT50 float64 `json:"cpt50_pct"`
			CPT80 float64 `json:"cpt80_pct"`
			Curve []curvePoint
		} `json:"oracle_curve"`
	} `json:"datasets"`
}

type curvePoint struct {
	StrongPct float64 `json:"strong_pct"`
	Quality   float64 `json:"quality"`
}

func loadBaselines(t testing.TB) *baselines {
	t.Helper()
	p := needShared(t, "baselines.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var b baselines
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// TestMetricsReproduceBaselines checks APGR and CPT against every curve in
// baselines.json: the same curves must give the published numbers.
func TestMetricsReproduceBaselines(t *testing.T) {
	b := loadBaselines(t)
	checked := 0
	for ds, parts := range b.Datasets {
		for part, d := range parts {
			for _, c := range []struct {
				name               string
				curve              []curvePoint
				apgr, cpt50, cpt80 float64
			}{
				{"random", d.RandomRouter.Curve, d.RandomRouter.APGRMean, d.RandomRouter.CPT50, d.RandomRouter.CPT80},
				{"oracle", d.OracleCurve.Curve, d.OracleCurve.APGR, d.OracleCurve.CPT50, d.OracleCurve.CPT80},
			} {
				var xy []XY
				for _, p := range c.curve {
					pgr, _ := PGR(p.Quality, d.WeakOnly.Quality, d.StrongOnly.Quality)
					xy = append(xy, XY{p.StrongPct / 100, pgr})
				}
				name := filepath.Join(ds, part, c.name)
				apgr, _ := APGR(xy)
				cpt50, _ := CPT(xy, 0.5)
				cpt80, _ := CPT(xy, 0.8)
				if math.Abs(apgr-c.apgr) > 1e-9 || math.Abs(100*cpt50-c.cpt50) > 1e-7 || math.Abs(100*cpt80-c.cpt80) > 1e-7 {
					t.Errorf("%s: APGR %v CPT50 %v CPT80 %v, baselines.json has %v %v %v", name, apgr, 100*cpt50, 100*cpt80, c.apgr, c.cpt50, c.cpt80)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no curves in baselines.json")
	}
}
