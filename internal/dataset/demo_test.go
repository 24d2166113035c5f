package dataset

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

const (
	strongModel = "gpt-4-1106-preview"
	weakModel   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
)

func TestDemo(t *testing.T) {
	if len(demoJSONL) >= 1<<20 {
		t.Errorf("demo data is %d bytes, keep it well under 1 MB", len(demoJSONL))
	}
	recs := Demo()
	counts := map[string]int{}
	subjects := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		counts[r.Dataset]++
		if r.Dataset == "mmlu" {
			subjects[r.Category] = true
		}
		for _, m := range []string{strongModel, weakModel} {
			a, ok := r.Models[m]
			if !ok || a.Quality == nil {
				t.Errorf("%s: no quality for %s", r.ID, m)
			}
			if r.Dataset == "mmlu" {
				continue
			}
			for turn := range r.Prompt {
				if _, ok := r.Answer(m, turn); !ok {
					t.Errorf("%s: no %s answer for turn %d", r.ID, m, turn)
				}
			}
		}
	}
	want := map[string]int{"gsm8k": 30, "mmlu": 30, "mt_bench": 12}
	for ds, n := range want {
		if counts[ds] != n {
			t.Errorf("%d %s records, want %d", counts[ds], ds, n)
		}
	}
	if len(subjects) != 30 {
		t.Errorf("%d MMLU subjects, want 30", len(subjects))
	}
	if &Demo()[0] != &recs[0] {
		t.Error("Demo parses again on every call")
	}
	ix := NewIndex(recs)
	for i := range recs {
		if rec, turn, ok := ix.Lookup(recs[i].UserTurns()); !ok || rec.ID != recs[i].ID || turn != len(recs[i].Prompt)-1 {
			t.Errorf("%s: Lookup of its own prompt = %v, %d, %v", recs[i].ID, rec, turn, ok)
		}
	}
}

// TestDemoIsVerbatim checks that every bundled line is a whole line of the
// full data, when the full data is present next to the repository.
func TestDemoIsVerbatim(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("full data not present: %v", err)
	}
	full := map[string]bool{}
	for _, name := range []string{"gsm8k.jsonl", "mmlu.jsonl", "mt_bench.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			full[string(bytes.TrimSpace(l))] = true
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(demoJSONL))
	sc.Buffer(nil, maxLine)
	for n := 1; sc.Scan(); n++ {
		if !full[sc.Text()] {
			t.Errorf("demo line %d is not a line of the full data", n)
		}
	}
}
