package dataset

import (
	"strings"
	"testing"
)

func TestIndexLookup(t *testing.T) {
	dupLine := strings.Replace(mmluLine, "mmlu/anatomy/0000", "mmlu/college_medicine/0062", 1)
	recs, err := Load(strings.NewReader(gsmLine + "\n" + mmluLine + "\n" + mtLine + "\n" + dupLine))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(recs)
	tests := []struct {
		name  string
		turns []string
		id    string
		turn  int
		ok    bool
	}{
		{"exact", []string{"A robe takes 2 bolts?"}, "gsm8k/0001", 0, true},
		{"whitespace re-flowed", []string{"  A robe\ttakes 2\n\nbolts? \n"}, "gsm8k/0001", 0, true},
		{"case differs", []string{"a robe takes 2 bolts?"}, "", 0, false},
		{"multi-line prompt", []string{"Which bone? A. a B. b Answer:"}, "mmlu/anatomy/0000", 0, true},
		{"shared prompt: first record wins", []string{"Which bone?\nA. a\nB. b\nAnswer:"}, "mmlu/anatomy/0000", 0, true},
		{"mt-bench first turn", []string{"Write a blog post."}, "mt_bench/81", 0, true},
		{"mt-bench second turn", []string{"Write a  blog post.", "Rewrite it."}, "mt_bench/81", 1, true},
		{"mt-bench second turn alone", []string{"Rewrite it."}, "", 0, false},
		{"mt-bench second turn differs", []string{"Write a blog post.", "Rewrite it!"}, "", 0, false},
		{"past the recorded turns", []string{"Write a blog post.", "Rewrite it.", "Again."}, "", 0, false},
		{"turns not joinable", []string{"Write a blog post. Rewrite it."}, "", 0, false},
		{"unknown", []string{"Hello"}, "", 0, false},
		{"empty conversation", nil, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, turn, ok := ix.Lookup(tt.turns)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if rec.ID != tt.id || turn != tt.turn {
				t.Errorf("got %s turn %d, want %s turn %d", rec.ID, turn, tt.id, tt.turn)
			}
		})
	}
	if rec, ok := ix.ByID("mt_bench/81"); !ok || rec != &recs[2] {
		t.Errorf("ByID = %v, %v; want the mt_bench record", rec, ok)
	}
	if _, ok := ix.ByID("nope"); ok {
		t.Error("ByID found an unknown id")
	}
	if ix.Len() != 4 {
		t.Errorf("Len = %d, want 4", ix.Len())
	}
	var nilIx *Index
	if _, _, ok := nilIx.Lookup([]string{"x"}); ok || nilIx.Len() != 0 {
		t.Error("a nil index found something")
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"a", "a"},
		{" a  b\t\tc\r\n", "a b c"},
		{"a\u00a0b\u2003c", "a b c"},
		{"a\x00b", "ab"},
		{"a \x00 b", "a b"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", " a  b ", "a\x00 b", "\u2003x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize is not idempotent on %q: %q then %q", s, n, Normalize(n))
		}
		if strings.Contains(n, "  ") || strings.IndexByte(n, 0) >= 0 {
			t.Fatalf("Normalize(%q) = %q keeps a double space or NUL", s, n)
		}
	})
}
