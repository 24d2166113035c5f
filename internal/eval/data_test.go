package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"
)

// TestSharedBaselines runs the example configs over ../shared/data and
// checks the strong-only and weak-only figures against baselines.json
// exactly, and the random router (the `random` split route swept over
// share and averaged over seeds) within sampling error.
func TestSharedBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs whole data sets")
	}
	b := loadBaselines(t)
	for _, tc := range []struct {
		dataset     string
		seeds, race int // seeds to average, and under the race detector
	}{
		{"gsm8k", 16, 1},
		{"mt_bench", 64, 16},
		{"mmlu", 1, 0},
	} {
		for _, part := range []string{"all", "decontaminated"} {
			t.Run(tc.dataset+"/"+part, func(t *testing.T) {
				seeds := tc.seeds
				if raceEnabled {
					// The race detector slows the engine several times:
					// check fewer seeds, and the decontaminated parts and
					// MMLU only without it.
					seeds = tc.race
					if part != "all" {
						seeds = 0
					}
				}
				if seeds == 0 {
					t.Skip("too slow under the race detector; run without -race")
				}
				data := needShared(t, tc.dataset+".jsonl")
				want := b.Datasets[tc.dataset][part]
				var opts Options
				if err := Load(filepath.Join("..", "..", "examples", "eval", tc.dataset+".yaml"), &opts); err != nil {
					t.Fatal(err)
				}
				opts.Route, opts.Dataset, opts.ExcludeContaminated = "random", data, part == "decontaminated"
				ev, err := New(opts)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := ev.Evaluate(context.Background(), &Sweep{Seeds: seeds})
				if err != nil {
					t.Fatal(err)
				}
				if rep.N != want.N || rep.Strong != "gpt-4" || rep.Weak != "mixtral" {
					t.Fatalf("n %d strong %s weak %s; want n %d", rep.N, rep.Strong, rep.Weak, want.N)
				}
				for _, bl := range rep.Baselines {
					q := map[string]float64{"gpt-4": want.StrongOnly.Quality, "mixtral": want.WeakOnly.Quality}[bl.Model]
					if math.Abs(bl.Quality-q) > 1e-12 || bl.Labeled != want.N {
						t.Errorf("%s alone: quality %v over %d labeled, baselines.json has %v over %d", bl.Model, bl.Quality, bl.Labeled, q, want.N)
					}
				}
				// The sweep's ends are the single models exactly.
				pts := rep.Curve.Points
				if first, last := pts[0], pts[len(pts)-1]; first.StrongShare != 0 || last.StrongShare != 1 ||
					math.Abs(first.Quality-want.WeakOnly.Quality) > 1e-12 || math.Abs(last.Quality-want.StrongOnly.Quality) > 1e-12 {
					t.Errorf("sweep ends %+v / %+v", first.Summary, last.Summary)
				}
				rr := want.RandomRouter
				// The mean of k seeds' APGRs has standard error std/sqrt(k);
				// allow four of them.
				tol := 4 * rr.APGRStd / math.Sqrt(float64(seeds))
				if rep.APGR == nil || math.Abs(*rep.APGR-rr.APGRMean) > tol {
					t.Errorf("random router APGR %v, baselines.json %v ± %v", optNum(rep.APGR), rr.APGRMean, tol)
				}
				// CPT(x) of the mean curve moves with the curve's PGR error
				// around x, scaled by the slope (about 1): the same order.
				for _, c := range []struct {
					got  *float64
					want float64
				}{{rep.CPT50, rr.CPT50}, {rep.CPT80, rr.CPT80}} {
					if c.got == nil || math.Abs(100**c.got-c.want) > 100*2*tol {
						t.Errorf("random router CPT %v%%, baselines.json %v%% (tolerance %v)", optPct(c.got), c.want, 200*tol)
					}
				}
				t.Logf("%s/%s: strong %.4f weak %.4f; random APGR %s (baselines %.4f ± %.4f), CPT50 %s, CPT80 %s over %d seeds",
					tc.dataset, part, want.StrongOnly.Quality, want.WeakOnly.Quality, optNum(rep.APGR), rr.APGRMean, rr.APGRStd, optPct(rep.CPT50), optPct(rep.CPT80), seeds)
			})
		}
	}
}
