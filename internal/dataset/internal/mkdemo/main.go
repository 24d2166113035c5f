// Command mkdemo writes the bundled demo slice of the evaluation data
// (internal/dataset/demo/demo.jsonl) from the full files. It copies whole
// lines verbatim and chooses them deterministically, so running it again on
// the same data gives the same file:
//
//   - gsm8k: 30 uncontaminated records at an even stride through the file;
//   - mmlu: 30 subjects at an even stride through the sorted subject list,
//     the first uncontaminated record of each;
//   - mt_bench: 12 uncontaminated records, taken round-robin over the sorted
//     categories in file order (two each for the first four, one for the
//     rest).
//
// Regenerate from the repository root with
//
//	go generate ./internal/dataset
//
// or directly:
//
//	go run ./internal/dataset/internal/mkdemo -data ../shared/data -out internal/dataset/demo/demo.jsonl
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
)

const (
	gsm8kCount   = 30
	mmluCount    = 30
	mtBenchCount = 12
)

type line struct {
	raw          []byte
	ID           string `json:"id"`
	Category     string `json:"category"`
	Contaminated bool   `json:"contaminated"`
}

func main() {
	data := flag.String("data", "../shared/data", "directory holding gsm8k.jsonl, mmlu.jsonl and mt_bench.jsonl")
	out := flag.String("out", "internal/dataset/demo/demo.jsonl", "file to write")
	flag.Parse()

	var picked []line
	for _, pick := range []struct {
		file   string
		choose func([]line) []line
	}{
		{"gsm8k.jsonl", func(ls []line) []line { return stride(clean(ls), gsm8kCount) }},
		{"mmlu.jsonl", pickMMLU},
		{"mt_bench.jsonl", pickMTBench},
	} {
		ls, err := read(filepath.Join(*data, pick.file))
		if err != nil {
			log.Fatal(err)
		}
		picked = append(picked, pick.choose(ls)...)
	}
	var buf bytes.Buffer
	for _, l := range picked {
		buf.Write(l.raw)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "mkdemo: wrote %d records (%d bytes) to %s\n", len(picked), buf.Len(), *out)
}

func read(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		l := line{raw: bytes.Clone(raw)}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func clean(ls []line) []line {
	var out []line
	for _, l := range ls {
		if !l.Contaminated {
			out = append(out, l)
		}
	}
	return out
}

// stride returns n elements of ls at an even stride, starting with the
// first.
func stride[T any](ls []T, n int) []T {
	if len(ls) <= n {
		return ls
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, ls[i*len(ls)/n])
	}
	return out
}

func pickMMLU(ls []line) []line {
	first := map[string]line{}
	for _, l := range clean(ls) {
		if _, ok := first[l.Category]; !ok {
			first[l.Category] = l
		}
	}
	subjects := make([]string, 0, len(first))
	for s := range first {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	var out []line
	for _, s := range stride(subjects, mmluCount) {
		out = append(out, first[s])
	}
	return out
}

func pickMTBench(ls []line) []line {
	byCat := map[string][]line{}
	for _, l := range clean(ls) {
		byCat[l.Category] = append(byCat[l.Category], l)
	}
	cats := make([]string, 0, len(byCat))
	for c := range byCat {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var out []line
	for round := 0; len(out) < mtBenchCount; round++ {
		took := false
		for _, c := range cats {
			if round < len(byCat[c]) && len(out) < mtBenchCount {
				out = append(out, byCat[c][round])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}
