package eval

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/catalog"
)

func catalogMicros(v int64) catalog.Micros { return catalog.Micros(v) }

func TestRenderings(t *testing.T) {
	rep := evaluate(t, "random", &Sweep{Values: []float64{0, 0.5, 1}}, nil)
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n", "quality", "cost_usd", "strong_share", "cost_share", "by_model", "baselines", "points", "apgr", "cpt50", "cpt80", "frontier", "random_router", "estimates"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON misses %q", k)
		}
	}
	for _, p := range m["points"].([]any) {
		pt := p.(map[string]any)
		for _, k := range []string{"knob", "strong_share", "cost_share", "quality", "pgr"} {
			if _, ok := pt[k]; !ok {
				t.Errorf("point misses %q", k)
			}
		}
		for _, k := range []string{"strong_share", "cost_share"} {
			if v := pt[k].(float64); v < 0 || v > 1 {
				t.Errorf("%s = %v outside [0,1]", k, v)
			}
		}
	}
	b.Reset()
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"route random on tiny.jsonl: 6 records (strong large, weak little)", "sweep of split.share", "APGR", "baselines (each model alone)", "flaky: simulated"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table misses %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteMarkdown(&b, rep, []string{"a.png"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Evaluation of route `random`", "| knob | strong share |", "![a.png](a.png)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown misses %q", want)
		}
	}
}

func TestWriteDir(t *testing.T) {
	rep := evaluate(t, "random", &Sweep{Values: []float64{0, 0.5, 1}}, nil)
	dir := filepath.Join(t.TempDir(), "out")
	files, err := WriteDir(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("files %v", files)
	}
	for _, name := range []string{"quality_vs_cost.png", "quality_vs_strong.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "quality_vs_cost.svg"))
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("Pareto frontier")) {
		t.Fatalf("svg: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !bytes.Contains(md, []byte("](quality_vs_cost.png)")) {
		t.Fatalf("report.md: %v\n%s", err, md)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Fatal(err)
	}
}
