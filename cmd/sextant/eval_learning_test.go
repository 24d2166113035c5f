package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every example config loads and builds, and every offline-evaluation
// example has a bandit route.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	evals, err := filepath.Glob(filepath.Join("..", "..", "examples", "eval", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || len(evals) == 0 {
		t.Fatal("no examples found")
	}
	for _, f := range append(files, evals...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Key variables the examples name are set, each to its name.
			code := run(context.Background(), []string{"config", "check", f}, &stdout, &stderr, func(k string) string { return "value-of-" + k })
			if code != 0 || !strings.Contains(stdout.String(), "ok") {
				t.Fatalf("config check %s: exit %d: %s%s", f, code, stdout.String(), stderr.String())
			}
		})
	}
	for _, f := range evals {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Routes map[string]any `yaml:"routes"`
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if r, _ := cfg.Routes["bandit"].(map[string]any); r["bandit"] == nil {
			t.Errorf("%s: no route bandit of kind bandit", f)
		}
	}
}

type learningJSON struct {
	Learning *struct {
		Node          string  `json:"node"`
		Lambda        float64 `json:"lambda"`
		Seeds         int     `json:"seeds"`
		FeedbackDelay int     `json:"feedback_delay"`
		BestArm       string  `json:"best_arm"`
		Arms          []struct {
			Arm    string  `json:"arm"`
			Reward float64 `json:"reward"`
		} `json:"arms"`
		Checkpoints []struct {
			Requests int `json:"requests"`
			Route    struct {
				Reward float64 `json:"reward"`
			} `json:"route"`
			RewardMin    float64 `json:"reward_min"`
			RewardMax    float64 `json:"reward_max"`
			RegretFixed  float64 `json:"regret_fixed"`
			RegretOracle float64 `json:"regret_oracle"`
		} `json:"checkpoints"`
		Steps struct {
			Reward []float64 `json:"reward"`
			Oracle []float64 `json:"oracle"`
		} `json:"steps"`
	} `json:"learning"`
}

// `sextant eval` runs examples/learning.yaml's bandit over the bundled
// demo records as online learning: the same seed gives the same run, the
// oracle bounds the route at every step, and --seeds gives a range.
func TestEvalLearning(t *testing.T) {
	config := filepath.Join("..", "..", "examples", "learning.yaml")
	evalJSON := func(args ...string) (string, learningJSON) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"eval", "--config", config, "--route", "bandit", "--dataset", "builtin:demo", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep learningJSON
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Learning == nil {
			t.Fatal("no learning section")
		}
		return out, rep
	}
	for _, tc := range []struct {
		name         string
		args         []string
		seeds, delay int
	}{
		{"default", nil, 1, 1},
		{"delayed", []string{"--concurrency", "8"}, 1, 8},
		{"seeds", []string{"--seeds", "3"}, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out1, rep := evalJSON(tc.args...)
			out2, _ := evalJSON(tc.args...)
			if out1 != out2 {
				t.Error("two runs with the same seeds differ")
			}
			l := rep.Learning
			if l.Node != "routes.bandit.bandit" || l.Lambda != 20 || l.Seeds != tc.seeds || l.FeedbackDelay != tc.delay || len(l.Arms) != 2 {
				t.Fatalf("learning %+v", l)
			}
			if len(l.Checkpoints) != 1 || l.Checkpoints[0].Requests != 72 || len(l.Steps.Reward) != 72 {
				t.Fatalf("checkpoints %+v, %d steps", l.Checkpoints, len(l.Steps.Reward))
			}
			for i := range l.Steps.Reward {
				if l.Steps.Reward[i] > l.Steps.Oracle[i]+1e-9 {
					t.Fatalf("step %d: route %v above the oracle %v", i, l.Steps.Reward[i], l.Steps.Oracle[i])
				}
			}
			cp := l.Checkpoints[0]
			if cp.RegretOracle < 0 || !(cp.RewardMin <= cp.Route.Reward+1e-9 && cp.Route.Reward <= cp.RewardMax+1e-9) {
				t.Errorf("checkpoint %+v", cp)
			}
			best := l.Arms[0]
			for _, a := range l.Arms {
				if a.Reward > best.Reward {
					best = a
				}
			}
			if l.BestArm != best.Arm || !near(cp.RegretFixed, best.Reward-cp.Route.Reward) {
				t.Errorf("best arm %s, regret %v; arms %+v", l.BestArm, cp.RegretFixed, l.Arms)
			}
		})
	}
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "eval", "--config", config, "--route", "bandit", "--dataset", "builtin:demo", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "online learning: routes.bandit.bandit") {
		t.Errorf("table has no learning section:\n%s", out)
	}
	for _, f := range []string{"learning_curve.svg", "learning_curve.png", "regret.svg", "regret.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "## Online learning") || !strings.Contains(string(md), "learning_curve.png") {
		t.Errorf("report.md lacks the learning section or plot: %v", err)
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-9 && d > -1e-9 }
