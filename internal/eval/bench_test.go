package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/sextant-router/sextant/internal/kinds"
)

// sharedData is the development data, beside the repository.
var sharedData = filepath.Join("..", "..", "..", "shared", "data")

func needShared(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedData, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s: %v", p, err)
	}
	return p
}

// BenchmarkSweepMMLU is the speed check: an 11-point sweep of the
// random router over the ~10,000-record MMLU file, baselines included.
func BenchmarkSweepMMLU(b *testing.B) {
	data := needShared(b, "mmlu.jsonl")
	var opts Options
	if err := Load(filepath.Join("..", "..", "examples", "eval", "mmlu.yaml"), &opts); err != nil {
		b.Fatal(err)
	}
	opts.Route, opts.Dataset = "random", data
	b.ReportAllocs()
	for b.Loop() {
		ev, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := ev.Evaluate(context.Background(), &Sweep{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Points) != 11 {
			b.Fatalf("%d points", len(rep.Points))
		}
	}
}
