//go:build experiment

package experiment

// The measurement behind issue 10's question "how many requests does an
// A/B split need to call a winner when one arm is 10% cheaper at equal
// quality". Run with:
//
//	go test -tags experiment -run TestMeasureSampleSize -v ./internal/experiment
//
// It needs ../shared/data (GSM8K with Mixtral's recorded answers); it is
// a measurement, not a unit test, hence the build tag.

import (
	"bufio"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/tokens"
)

const mixtral = "mistralai/Mixtral-8x7B-Instruct-v0.1"

// gsm8kRequests reads per-request cost (prompt + answer tokens × $0.24
// per 1M, RouteLLM's Mixtral price) and quality of Mixtral's answers.
func gsm8kRequests(t *testing.T) (costs, quality []float64) {
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "data", "gsm8k.jsonl"))
	if err != nil {
		t.Skipf("no data set: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Prompt []struct{ Content string } `json:"prompt"`
			Models map[string]struct {
				Quality  float64  `json:"quality"`
				Response []string `json:"response"`
			} `json:"models"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		m, ok := rec.Models[mixtral]
		if !ok {
			continue
		}
		n := 0
		for _, p := range rec.Prompt {
			n += tokens.Count(p.Content)
		}
		for _, r := range m.Response {
			n += tokens.Count(r)
		}
		costs = append(costs, float64(n)*0.24e-6)
		quality = append(quality, m.Quality)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return costs, quality
}

func TestMeasureSampleSize(t *testing.T) {
	costs, quality := gsm8kRequests(t)
	var cm, qm Moments
	for i := range costs {
		cm.N, cm.Sum, cm.SumSq = cm.N+1, cm.Sum+costs[i], cm.SumSq+costs[i]*costs[i]
		qm.N, qm.Sum, qm.SumSq = qm.N+1, qm.Sum+quality[i], qm.SumSq+quality[i]*quality[i]
	}
	mean, sd := cm.Mean(), math.Sqrt(cm.Var())
	t.Logf("GSM8K Mixtral: %d requests, cost per request $%.3g (sd $%.3g, cv %.2f), quality %.3f", len(costs), mean, sd, sd/mean, qm.Mean())
	// Fixed horizon: arm B costs 0.9×, so its sd is 0.9 sd; use the
	// average variance of the two arms.
	sdAvg := math.Sqrt((sd*sd + 0.81*sd*sd) / 2)
	fixed := FixedHorizonN(0.1*mean, sdAvg, 0.05, 0.8)
	t.Logf("fixed-horizon sample size (two-sided α 0.05, power 0.8): %.0f per arm, %.0f requests in all", fixed, 2*fixed)

	drop := 0.02
	for _, rc := range []struct {
		name string
		rule Rule
	}{
		{"cost", Rule{Metric: MetricCost, Confidence: 0.95, MinRequests: 200}},
		{"cost, min_requests 20", Rule{Metric: MetricCost, Confidence: 0.95, MinRequests: 20}},
		{"cost + max_quality_drop 0.02", Rule{Metric: MetricCost, Confidence: 0.95, MinRequests: 200, MaxQualityDrop: &drop}},
	} {
		const runs, maxN, every = 200, 100000, 10
		var ns []float64
		wrong, never := 0, 0
		for run := range runs {
			r := rand.New(rand.NewPCG(uint64(run), 99))
			va, vb := make([]float64, Len), make([]float64, Len)
			done := false
			for n := 1; n <= maxN && !done; n++ {
				i, j := r.IntN(len(costs)), r.IntN(len(costs))
				Observation{Status: 200, CostUSD: costs[i]}.Add(va)
				Observation{Status: 200, CostUSD: 0.9 * costs[j]}.Add(vb)
				FeedbackDelta(va, quality[i], nil)
				FeedbackDelta(vb, quality[j], nil)
				if n%every != 0 {
					continue
				}
				p, _ := Decide(rc.rule, []ArmInput{{Name: "a", Stats: Parse(va)}, {Name: "b", Stats: Parse(vb)}}, time.Time{})
				if p != nil {
					done = true
					if p.Winner != "b" {
						wrong++
					}
					ns = append(ns, float64(2*n))
				}
			}
			if !done {
				never++
			}
		}
		slices.Sort(ns)
		q := func(p float64) float64 {
			if len(ns) == 0 {
				return math.NaN()
			}
			return ns[min(len(ns)-1, int(math.Ceil(p*float64(len(ns))))-1)]
		}
		t.Logf("rule %s: %d runs, promoted in %d (wrong arm %d, never within %d per arm %d); requests in all to call it: median %.0f, p90 %.0f",
			rc.name, runs, len(ns), wrong, maxN, never, q(0.5), q(0.9))
	}
}
