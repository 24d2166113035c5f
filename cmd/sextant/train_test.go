package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/store"
)

var (
	demoData    = filepath.Join("..", "..", "internal", "dataset", "demo", "demo.jsonl")
	embedConfig = filepath.Join("testdata", "train-embed.yaml")
)

const (
	gpt4    = "gpt-4-1106-preview"
	mixtral = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

func TestTrainWinrate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.json")
	code, stdout, stderr := runCLI(t, "train", "--kind", "winrate", "--data", demoData, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"winrate model, input text", "validation: n=", "cross-fitted (out-of-fold)", "reliability:", "APGR", "gsm8k", "mt_bench"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{"records, 72 samples", "training: ", "wrote " + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	m, err := learn.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	// The weaker model (on the file) comes first: the cheaper one.
	if !slices.Equal(m.Labels(), []string{mixtral, gpt4}) || m.Folds() != 5 || m.Info().Validation == nil {
		t.Fatalf("labels %v, folds %d", m.Labels(), m.Folds())
	}
	if got := m.Info().Data.Sources; len(got) != 1 || got[0] != demoData {
		t.Fatalf("sources %v", got)
	}
}

func TestTrainClassifierJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "c.json.gz")
	code, stdout, stderr := runCLI(t, "train", "--kind", "classifier", "--data", demoData, "--out", out,
		"--format", "json", "--folds", "3", "--valid", "0.25", "--seed", "7", "--l2", "0.01", "--calibration", "none")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Model  learn.Info    `json:"model"`
		Labels []string      `json:"labels"`
		Report *learn.Report `json:"report"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Model.Kind != learn.KindClassifier || rep.Model.Folds != 3 || rep.Report.L2 != 0.01 || rep.Report.Validation == nil || len(rep.Labels) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := learn.Load(out); err != nil {
		t.Fatal(err)
	}
}

func TestTrainWinRateOutput(t *testing.T) {
	// The demo slice without MT Bench: correct/incorrect data only.
	data, err := os.ReadFile(demoData)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.Contains(l, `"dataset":"mt_bench"`) {
			lines = append(lines, l)
		}
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "binary.jsonl")
	if err := os.WriteFile(binary, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.json")
	code, _, stderr := runCLI(t, "train", "--kind", "winrate", "--data", binary, "--out", out, "--label", "correct",
		"--output", "win_rate", "--numeric=false", "--words", "1", "--bits", "12", "--char", "3-4/64", "--category-mix", "0.5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m, err := learn.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Output != learn.OutputWinRate || info.CategoryMix != 0.5 || info.Featurizer.Bits != 12 || info.Featurizer.CharPrefix != 64 {
		t.Fatalf("info %+v", info)
	}
}

func TestTrainEmbedding(t *testing.T) {
	out := filepath.Join(t.TempDir(), "e.json")
	code, stdout, stderr := runCLI(t, "train", "--kind", "winrate", "--data", demoData, "--out", out,
		"--embedding", "emb", "--config", embedConfig, "--batch", "16")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "embedding: 72/72 texts") || !strings.Contains(stdout, "input embedding") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	m, err := learn.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Input() != learn.InputEmbedding || m.EmbeddingModel() != "emb" || m.Dim() != 32 {
		t.Fatalf("model %s %q dim %d", m.Input(), m.EmbeddingModel(), m.Dim())
	}
}

func TestTrainFromDecisionLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ds []store.Decision
	for i := range 80 {
		text, model := fmt.Sprintf("say hello number %d", i), "small"
		if i%2 == 1 {
			text, model = fmt.Sprintf("prove theorem number %d step by step", i), "large"
		}
		req, _ := json.Marshal(&llm.Request{Model: "auto", Messages: []llm.Message{{Role: llm.RoleUser, Content: text}}})
		ds = append(ds, store.Decision{RequestID: fmt.Sprint("r", i), Route: "auto", Model: model, Status: 200, Request: req})
	}
	if err := s.WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	for i := range 80 {
		score := float64(i % 3) // 0, 1, 2: good from 1 up
		if err := s.AddFeedback(ctx, store.Feedback{RequestID: fmt.Sprint("r", i), Score: &score}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	out := filepath.Join(t.TempDir(), "fb.json")
	code, stdout, stderr := runCLI(t, "train", "--kind", "winrate", "--data", path, "--good", "1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "decision-log, 80 samples") || !strings.Contains(stdout, "label small") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	m, err := learn.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), []string{"large", "small"}) || m.Info().Data.Labels["small"].Known != 40 || m.Info().Data.Labels["small"].Good != 26 {
		t.Fatalf("labels %v, data %+v", m.Labels(), m.Info().Data)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.json")
	labelledData := filepath.Join(dir, "labelled.jsonl")
	if err := os.WriteFile(labelledData, []byte(`{"text":"hi","label":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{"--kind", "winrate", "--data", demoData}, 2, "--kind, --data and --out are required"},
		{"embedding without config", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--embedding", "emb"}, 2, "go together"},
		{"bad label rule", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--label", "maybe"}, 2, "unknown --label"},
		{"bad costs", []string{"--kind", "classifier", "--data", demoData, "--out", out, "--costs", "x"}, 2, "MODEL=COST"},
		{"gate from labelled text", []string{"--kind", "gate", "--data", labelledData, "--out", out}, 1, "cannot be trained from"},
		{"unknown kind", []string{"--kind", "oracle", "--data", demoData, "--out", out}, 1, "unknown model kind"},
		{"missing data", []string{"--kind", "winrate", "--data", filepath.Join(dir, "nope.jsonl"), "--out", out}, 1, "no such file"},
		{"no embeddings model", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--embedding", "chat", "--config", embedConfig}, 1, "embeddings capability"},
		{"too many folds", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--folds", "1"}, 1, "folds 1"},
		{"win_rate without correct labels", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--output", "win_rate"}, 2, "needs --label correct"},
		{"win_rate on scored data", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--output", "win_rate", "--label", "correct"}, 1, "scored on a scale"},
		{"bad char spec", []string{"--kind", "winrate", "--data", demoData, "--out", out, "--char", "3"}, 2, "MIN-MAX/PREFIX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"train"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}
