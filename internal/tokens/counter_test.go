package tokens

import (
	"strings"
	"testing"
)

// tokenCorpus covers every branch of the split pattern: contractions in
// both cases, punctuation before letters, long digit runs, punctuation runs
// with line breaks, each kind of whitespace run, non-Latin scripts,
// combining marks, long unbroken pieces and invalid UTF-8.
var tokenCorpus = []string{
	"",
	"hello world",
	"hello world, how are you?",
	"I'm sure you'll see they've done what we'd said it's THEY'RE DON'T I'LL",
	"'sup 'S 'ſ 'Re 're' 'x ' '",
	"Natalia sold clips to 48 of her friends in April, and then she sold 1234567 more.",
	"(hello) [world] {x} \"quoted\" ...dots!!! ?!?\n\n\r\nnext",
	"a  b   c    d\t\te\n\n  \n  f   ",
	"trailing spaces   ",
	"   leading spaces",
	"\n\n\n",
	" \u00a0\u00a0x \u3000漢字 \u2003y",
	"func (c *Codec) Count(input string) (int, error) {\n\tvar count int\n\treturn count, err\n}\n",
	"def f(x):\n    return x**2 + 3*x - 1  # comment\n",
	"Привет, как дела? Это тестовый текст на русском языке.",
	"你好世界，这是中文。日本語のテキストです。한국어 텍스트입니다.",
	"नमस्ते दुनिया, यह हिंदी पाठ है।",
	"مرحبا بالعالم، هذا نص عربي.",
	"Ελληνικά κείμενα και ½ ² ³ ٣٤٥ numbers",
	"emoji 😀😃😄 👍🏽 family 👨‍👩‍👧",
	strings.Repeat("a", 300),
	strings.Repeat("ab", 60) + " " + strings.Repeat("x", 95) + " " + strings.Repeat("y", 96),
	"aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgYmFzZTY0IHN0cmluZyB3aXRob3V0IHNwYWNlcyBhdCBhbGwgc28gaXQgaXMgb25lIHBpZWNl",
	"$x^2 + y^2 = z^2$ and \\frac{a}{b} \\sum_{i=1}^{n} i",
	"invalid \xff\xfe bytes \xc3 here \xed\xa0\x80",
	"<|endoftext|> special tokens are plain text",
	"mixed\r\ncrlf\rcr only\n",
	"   \n",
	" \n ",
	"x\u0301\u0302 combining marks ̀",
	// Regression: DEL matches no alternative of the library's pattern and
	// counts no token; we counted it as punctuation.
	"a\x7fb \x7f \x7f\x7f.",
	// Regression: a space run holding several line breaks is cut after the
	// first run of breaks by the library; we cut after the last.
	"\n \n", "x\n\n  \n\t\ny", "\r\n \r\n  ",
}

func TestCountMatchesLibrary(t *testing.T) {
	c := Tokenizer()
	for _, text := range tokenCorpus {
		want, err := c.lib.Count(text)
		if err != nil {
			t.Fatalf("library Count(%q): %v", text, err)
		}
		if got := c.Count(text); got != want {
			t.Errorf("Count(%q) = %d, want %d (library)", text, got, want)
		}
	}
}

func TestCountKnown(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"hello world, how are you?", 7},
	}
	for _, tt := range tests {
		if got := Tokenizer().Count(tt.text); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func FuzzCountMatchesLibrary(f *testing.F) {
	for _, s := range tokenCorpus {
		f.Add(s)
	}
	c := Tokenizer()
	f.Fuzz(func(t *testing.T, text string) {
		want, err := c.lib.Count(text)
		if err != nil {
			t.Skip()
		}
		if got := c.Count(text); got != want {
			t.Errorf("Count(%q) = %d, library %d", text, got, want)
		}
	})
}

func BenchmarkCount(b *testing.B) {
	prose := strings.Repeat("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether?\n", 30)
	code := strings.Repeat("func (c *Codec) Count(input string) (int, error) {\n\tvar count int\n\treturn count, err\n}\n", 50)
	mixed := strings.Repeat("Привет, как дела? Это тестовый текст на русском языке. 你好世界，这是中文。", 40)
	for _, bc := range []struct{ name, text string }{{"prose", prose}, {"code", code}, {"cyrillic-han", mixed}} {
		c := Tokenizer()
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				c.Count(bc.text)
			}
		})
		b.Run(bc.name+"/library", func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.lib.Count(bc.text)
			}
		})
	}
}
