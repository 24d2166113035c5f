//go:build experiment

package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/trace"
)

// TestSemanticFalseHits measures, with the sim's lexical embedder, how
// often simple rewordings of a question reach the semantic cache's
// threshold (hit rate) and how often two different questions do (false
// hits). Run with:
//
//	go test -tags experiment -run TestSemanticFalseHits -v ./internal/engine/
func TestSemanticFalseHits(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/*.jsonl")
	if len(files) == 0 {
		t.Skip("no data in ../shared/data")
	}
	const perFile = 300
	var qs []string
	for _, f := range files {
		qs = append(qs, questions(t, f, perFile)...)
	}
	snap := build(t, semanticConfig)
	call := &policy.Call{Trace: trace.New(time.Now())}
	embed := func(texts []string) [][]float32 {
		var out [][]float32
		for i := 0; i < len(texts); i += 64 {
			batch := texts[i:min(i+64, len(texts))]
			res, err := snap.Executor.Embed(context.Background(), call, "emb", &llm.EmbedRequest{Model: "emb", Input: batch})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, res.Vectors...)
		}
		return out
	}
	orig := embed(qs)
	rewordings := []struct {
		name string
		f    func(string) string
	}{
		{"case+punct", func(s string) string {
			return strings.ToLower(strings.NewReplacer("?", "", ".", "", ",", "", "!", "").Replace(s))
		}},
		{"please", func(s string) string { return "Please, " + strings.ToLower(s[:1]) + s[1:] }},
		{"reorder", reorder},
		{"upper", strings.ToUpper},
	}
	var para []float64
	for _, rw := range rewordings {
		texts := make([]string, len(qs))
		for i, q := range qs {
			texts[i] = rw.f(q)
		}
		for i, v := range embed(texts) {
			para = append(para, cos(orig[i], v))
		}
	}
	// Different questions: adjacent pairs (same file, often same category
	// and format) and each question's nearest other question in the pool.
	var pairs, nearest []float64
	for i := range qs {
		if i+1 < len(qs) && qs[i] != qs[i+1] {
			pairs = append(pairs, cos(orig[i], orig[i+1]))
		}
		best := -1.0
		for j := range qs {
			if j != i && qs[j] != qs[i] {
				best = max(best, cos(orig[i], orig[j]))
			}
		}
		nearest = append(nearest, best)
	}
	rate := func(xs []float64, th float64) float64 {
		n := 0
		for _, x := range xs {
			if x >= th {
				n++
			}
		}
		return float64(n) / float64(len(xs))
	}
	t.Logf("%d questions from %d files; %d paraphrases, %d different pairs", len(qs), len(files), len(para), len(pairs))
	for _, th := range []float64{0.9, 0.95, 0.98} {
		t.Logf("threshold %.2f: paraphrase hit %.1f%%  false hit (adjacent pairs) %.2f%%  false hit (nearest in pool of %d) %.2f%%",
			th, 100*rate(para, th), 100*rate(pairs, th), len(qs), 100*rate(nearest, th))
	}
	for k, rw := range rewordings {
		t.Logf("  %-10s hit at 0.95: %.1f%%", rw.name, 100*rate(para[k*len(qs):(k+1)*len(qs)], 0.95))
	}
}

// questions returns up to n first user messages of file, spread evenly.
func questions(t *testing.T, file string, n int) []string {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var all []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var row struct {
			Prompt []llm.Message `json:"prompt"`
		}
		if json.Unmarshal(sc.Bytes(), &row) != nil || len(row.Prompt) == 0 || row.Prompt[0].Content == "" {
			continue
		}
		all = append(all, row.Prompt[0].Content)
	}
	if len(all) <= n {
		return all
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, all[i*len(all)/n])
	}
	return out
}

// reorder moves the first sentence (or clause) to the end.
func reorder(s string) string {
	for _, sep := range []string{". ", ", "} {
		if i := strings.Index(s, sep); i > 0 {
			return strings.TrimSpace(s[i+len(sep):]) + sep + s[:i]
		}
	}
	return s
}

func cos(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}
