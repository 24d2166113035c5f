package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/store"
	"github.com/sextant-router/sextant/internal/trace"
)

var (
	tinyConfig  = filepath.Join("..", "..", "internal", "eval", "testdata", "tiny.yaml")
	tinyDataset = filepath.Join("..", "..", "internal", "eval", "testdata", "tiny.jsonl")
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
	return code, stdout.String(), stderr.String()
}

func TestEvalJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "eval", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset,
		"--sweep", "0:1:0.5", "--format", "json", "--concurrency", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		N           int              `json:"n"`
		Quality     float64          `json:"quality"`
		CostUSD     float64          `json:"cost_usd"`
		StrongShare float64          `json:"strong_share"`
		CostShare   float64          `json:"cost_share"`
		ByModel     map[string]any   `json:"by_model"`
		Baselines   []map[string]any `json:"baselines"`
		Points      []map[string]any `json:"points"`
		APGR        *float64         `json:"apgr"`
		CPT50       *float64         `json:"cpt50"`
		CPT80       *float64         `json:"cpt80"`
		Knob        map[string]any   `json:"knob"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.N != 6 || len(rep.Points) != 3 || rep.APGR == nil || rep.CPT50 == nil || len(rep.Baselines) != 4 || rep.ByModel["large"] == nil {
		t.Fatalf("report %+v", rep)
	}
	if rep.Points[1]["knob"].(float64) != 0.5 || rep.Knob["field"] != "share" {
		t.Fatalf("points %v knob %v", rep.Points, rep.Knob)
	}
}

func TestEvalTableAndMarkdown(t *testing.T) {
	code, out, errOut := runCLI(t, "eval", "--config", tinyConfig, "--route", "strong", "--dataset", tinyDataset)
	if code != 0 || !strings.Contains(out, "route strong on tiny.jsonl: 6 records") || !strings.Contains(out, "quality 0.7500") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "eval", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset, "--format", "markdown", "--sweep")
	if code != 0 || !strings.Contains(out, "## Sweep") || strings.Count(out, "\n| 0.") < 4 {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestEvalOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	code, _, errOut := runCLI(t, "eval", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset, "--sweep=0,1", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"report.json", "report.md", "quality_vs_cost.png", "quality_vs_cost.svg", "quality_vs_strong.png", "quality_vs_strong.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestCalibrateCLI(t *testing.T) {
	code, out, errOut := runCLI(t, "calibrate", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset, "--target-strong-share", "0.5")
	if code != 0 || !strings.HasPrefix(out, "routes.random.split.share: ") || !strings.Contains(out, "random: {") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "calibrate", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset, "--target-cost-share", "0.6", "--format", "json")
	var cal map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &cal) != nil || cal["field"] != "share" {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestEvalUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing flags", []string{"eval", "--route", "x"}, 2, "required"},
		{"bad format", []string{"eval", "--config", tinyConfig, "--route", "strong", "--dataset", tinyDataset, "--format", "xml"}, 2, "unknown --format"},
		{"bad sweep", []string{"eval", "--sweep=1:0", "--config", tinyConfig}, 2, "LO must not exceed HI"},
		{"stray argument", []string{"eval", "--config", tinyConfig, "extra"}, 2, "unexpected argument"},
		{"unknown route", []string{"eval", "--config", tinyConfig, "--route", "nope", "--dataset", tinyDataset}, 1, `no route or model "nope"`},
		{"calibrate without target", []string{"calibrate", "--config", tinyConfig, "--route", "random", "--dataset", tinyDataset}, 2, "is required"},
		{"calibrate with two targets", []string{"calibrate", "--target-strong-share", "0.1", "--target-cost-share", "0.2"}, 2, "one of"},
		{"from-log with a config and no route", []string{"eval", "--from-log", "x.db", "--config", tinyConfig}, 1, "needs --route"},
		{"from-log with a data set", []string{"eval", "--from-log", "x.db", "--dataset", tinyDataset}, 1, "no --dataset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestJoinSweep(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"--sweep", "0:1:0.1", "--route", "r"}, []string{"--sweep=0:1:0.1", "--route", "r"}},
		{[]string{"--sweep", "--route", "r"}, []string{"--sweep", "--route", "r"}},
		{[]string{"--sweep"}, []string{"--sweep"}},
		{[]string{"-sweep", "0,0.5"}, []string{"-sweep=0,0.5"}},
		// A word that is no spec stays an argument.
		{[]string{"--sweep", "file.yaml"}, []string{"--sweep", "file.yaml"}},
	}
	for _, tt := range tests {
		if got := joinSweep(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("joinSweep(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEvalFromLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	st, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.WriteDecisions(ctx, []store.Decision{{RequestID: "r1", Route: "auto", Model: "gpt-4", Status: 200, CostMicros: 1500, LatencyMS: 20,
		Trace: trace.View{Attempts: []trace.Attempt{{Model: "gpt-4", CostMicros: 1500}}}}}); err != nil {
		t.Fatal(err)
	}
	s := 0.8
	if err := st.AddFeedback(ctx, store.Feedback{RequestID: "r1", Score: &s}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runCLI(t, "eval", "--from-log", path, "--route", "auto", "--format", "json")
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["n"].(float64) != 1 || rep["quality"].(float64) != 0.8 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}
