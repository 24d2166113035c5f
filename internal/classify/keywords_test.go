package classify

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestKeywordsFind(t *testing.T) {
	k, err := newKeywords([]string{"prove", "step by step", "how many", "Ünïcode", "日本", "x2", "by step by"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"Prove it", []string{"prove"}},
		{"proven", nil},
		{"step by step", []string{"step by step"}},
		{"step by step by step", []string{"step by step", "by step by"}},
		{"STEP,by;step!", []string{"step by step"}},
		{"step by\nstep", []string{"step by step"}},
		{"step  by  the step", nil},
		{"how many? How Many!", []string{"how many"}},
		{"ÜNÏCODE text", []string{"ünïcode"}},
		{"日本", []string{"日本"}},
		{"x2 x22", []string{"x2"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			m := k.find(tt.text)
			var got []string
			for i, p := range k.phrases {
				if m.has(i) {
					got = append(got, p.text)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("find(%q) = %q, want %q", tt.text, got, want)
			}
		})
	}
}

func TestKeywordsLimits(t *testing.T) {
	many := make([]string, maxKeywords+1)
	for i := range many {
		many[i] = strings.Repeat("a", i+1)
	}
	if _, err := newKeywords(many); err == nil {
		t.Error("more than maxKeywords accepted")
	}
	if _, err := newKeywords(many[:maxKeywords]); err != nil {
		t.Errorf("maxKeywords rejected: %v", err)
	}
}

// naiveFind is the obvious implementation: split into lower-cased words,
// look for each phrase as a run of consecutive words.
func naiveFind(phrases []string, text string) []bool {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
		})
	}
	lower := func(ws []string) []string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = strings.Map(unicode.ToLower, w)
		}
		return out
	}
	words := lower(split(text))
	out := make([]bool, len(phrases))
	for i, p := range phrases {
		pw := lower(split(p))
		for j := 0; j+len(pw) <= len(words) && len(pw) > 0; j++ {
			if slices.Equal(words[j:j+len(pw)], pw) {
				out[i] = true
				break
			}
		}
	}
	return out
}

func FuzzKeywords(f *testing.F) {
	for _, s := range []string{"step by step", "How many apples?", "prove: Ünïcode", "by by by step", "\xff\xfe step"} {
		f.Add(s)
	}
	phrases := []string{"step by step", "how many", "prove", "by by", "ünïcode", "step"}
	k, err := newKeywords(phrases)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m := k.find(text)
		want := naiveFind(phrases, text)
		for i := range phrases {
			if m.has(i) != want[i] {
				t.Fatalf("find(%q): %q = %v, want %v", text, phrases[i], m.has(i), want[i])
			}
		}
	})
}
