package answer

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"70000", 70000, true},
		{"$1,234.50", 1234.5, true},
		{"-3.5", -3.5, true},
		{"15%", 15, true},
		{"1/2", 0.5, true},
		{" 42. ", 42, true},
		{"€12", 12, true},
		{"1/0", 0, false},
		{"abc", 0, false},
		{"12abc", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseNumber(tt.in)
			if ok != tt.ok || (ok && math.Abs(got-tt.want) > 1e-12) {
				t.Fatalf("ParseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	ns := Numbers("He paid $1,200.50, got -3 back, 15% off; mp3 x2 and 1,2,3.")
	var got []string
	for _, n := range ns {
		s := FormatNumber(n.Value)
		if n.Percent {
			s += "%"
		}
		got = append(got, s)
	}
	if want := "1200.5 -3 15% 1 2 3"; strings.Join(got, " ") != want {
		t.Fatalf("Numbers = %v, want %s", got, want)
	}
}

func TestFormatNumber(t *testing.T) {
	tests := map[float64]string{70000: "70000", 2.5: "2.5", -3: "-3", 0.1 + 0.2: "0.3", 1e20: "100000000000000000000", 3.0000000001: "3"}
	for in, want := range tests {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFinal(t *testing.T) {
	tests := []struct {
		name, text, want, kind string
	}{
		{"hashes", "2 + 1 = 3 bolts.\n#### 3\n\n", "3", FinalHashes},
		{"hashes with commas", "So he made 70,000.\n#### $70,000", "70000", FinalHashes},
		{"boxed", `so $x = \boxed{\frac{1}{2}}$ hmm, or \boxed{42}`, "42", FinalBoxed},
		{"marker", "Thus the answer is 18 dollars. Good.", "18", FinalMarker},
		{"marker letter", "Let me think. The correct answer is (B) Paris.", "B", FinalMarker},
		{"final answer colon", "Final answer: C", "C", FinalMarker},
		{"marker text", "The answer is: Blue Whale.", "blue whale", FinalMarker},
		{"last number", "He runs 9 * 60 = 540 meters a week.", "540", FinalLast},
		{"last line", "Paris is the capital.\nParis", "paris", FinalLastRaw},
		{"article is not a choice", "Answer: A total of five", "a total of five", FinalMarker},
		{"empty", "  ", "", FinalNone},
		{"fraction", "#### 5/2", "2.5", FinalHashes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind := Final(tt.text)
			if got != tt.want || kind != tt.kind {
				t.Fatalf("Final = %q (%s), want %q (%s)", got, kind, tt.want, tt.kind)
			}
		})
	}
	if !HasFinal("x\n#### 4") || HasFinal("it is 4") {
		t.Fatal("HasFinal")
	}
}

func TestCheckArithmetic(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		steps, wrong int
	}{
		{"plain right", "He runs 9 * 60 = 540 meters.", 1, 0},
		{"plain wrong", "He runs 9 * 60 = 560 meters.", 1, 1},
		{"annotation", "It takes 2/2=<<2/2=1>>1 bolt\nSo 2+1=<<2+1=3>>3 bolts", 2, 0},
		{"annotation wrong", "total <<80000+50000=120000>>", 1, 1},
		{"currency and commas", "$80,000 + $50,000 = $130,000.", 1, 0},
		{"percent", "The tip is 15% * 80 = 12 dollars and 0.25 * 100 = 25%.", 2, 0},
		{"chain", "2 + 1/2 = 5/2 = 2.5 bolts", 2, 0},
		{"chain wrong", "2 + 1/2 = 5/2 = 3 bolts", 2, 1},
		{"rounding", "10/3 = 3.33 and 2/3 = 0.67", 2, 0},
		{"rounding too far", "10/3 = 3.4", 1, 1},
		{"approx", "7 / 3 ≈ 2.3", 1, 0},
		{"unicode ops", "3 × 4 = 12, 12 ÷ 4 = 3, 5 − 2 = 3", 3, 0},
		{"x as times", "3 x 4 = 12 and 5x6=30", 2, 0},
		{"algebra is not arithmetic", "2x + 3 = 11 so x = 4", 0, 0},
		{"units break expressions", "60 meters * 9 = 540 meters", 0, 0},
		{"continuation", "3 * 4 = 12 + 1 = 13", 2, 0},
		{"mixed number", "5 - 1 - 1/2 = 3 1/2 hours, W = 1 1/2 / 1/2 = 3", 2, 0},
		{"implicit product", "Harry: 5+2(3)=5+6=11 trees", 2, 0},
		{"vulgar fraction", "¾ x 3/3 = 9/12", 1, 0},
		{"variable after bracket", "250=(5/2)x", 0, 0},
		{"space thousands", "$400 000 x 3/100 = $12 000", 0, 0},
		{"phrase before lone number", "99% of $5 = 0.99 * $5 = $4.95", 1, 0},
		{"markdown escape", `17 / (1/4) = 17 \* 4 = 68`, 2, 0},
		{"latex", `$3 \times 4 = 12$`, 1, 0},
		{"repeated step counts once", "2+2=4. Again, 2+2=4.", 1, 0},
		{"division by zero ignored", "5/0 = 3", 0, 0},
		{"power", "2^10 = 1024 and 3**2 = 9", 2, 0},
		{"negative", "-5 + 3 = -2", 1, 0},
		{"no steps", "The capital of France is Paris.", 0, 0},
		{"dates and ranges", "From 2019-2021 there were 3 events; see pages 5-7.", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := CheckArithmetic(tt.text, 0)
			if a.Steps != tt.steps || a.Wrong != tt.wrong {
				t.Fatalf("CheckArithmetic(%q) = %d steps, %d wrong (%v); want %d, %d", tt.text, a.Steps, a.Wrong, a.Errors, tt.steps, tt.wrong)
			}
			if a.Wrong > 0 && len(a.Errors) == 0 {
				t.Fatal("a wrong step without a description")
			}
		})
	}
	if got := CheckArithmetic("2+2=5", 0).Errors; len(got) != 1 || got[0] != "2+2=5 (is 4)" {
		t.Fatalf("errors %q", got)
	}
	if s := (Arithmetic{Steps: 4, Wrong: 1}).Share(); s != 0.25 {
		t.Fatalf("share %v", s)
	}
}

// TestArithmeticOnGSM8K guards against false alarms: the gold solutions of
// the GSM8K development data must have no wrong step, and answers judged
// correct almost none, while wrong answers are often caught. Skipped when
// the shared data is not beside the repository.
func TestArithmeticOnGSM8K(t *testing.T) {
	f, err := os.Open("../../../../shared/data/gsm8k.jsonl")
	if err != nil {
		t.Skip("shared data not found:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var refSteps, refWrong, good, goodFlagged, bad, badFlagged int
	for sc.Scan() {
		var r struct {
			ID        string `json:"id"`
			Reference string `json:"reference"`
			Models    map[string]struct {
				Correct  *bool    `json:"correct"`
				Response []string `json:"response"`
			} `json:"models"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		a := CheckArithmetic(r.Reference, 0)
		refSteps += a.Steps
		refWrong += a.Wrong
		if a.Wrong > 0 {
			t.Errorf("%s: gold solution flagged: %v", r.ID, a.Errors)
		}
		for _, m := range r.Models {
			if len(m.Response) == 0 || m.Correct == nil {
				continue
			}
			flagged := CheckArithmetic(m.Response[0], 0).Wrong > 0
			if *m.Correct {
				good++
				if flagged {
					goodFlagged++
				}
			} else {
				bad++
				if flagged {
					badFlagged++
				}
			}
		}
	}
	t.Logf("gold: %d steps, %d wrong; correct answers flagged %d/%d, wrong answers flagged %d/%d", refSteps, refWrong, goodFlagged, good, badFlagged, bad)
	if refSteps < 1000 {
		t.Errorf("only %d steps found in the gold solutions", refSteps)
	}
	if float64(goodFlagged) > 0.01*float64(good) {
		t.Errorf("%d of %d correct answers flagged", goodFlagged, good)
	}
	if float64(badFlagged) < 0.1*float64(bad) {
		t.Errorf("only %d of %d wrong answers flagged", badFlagged, bad)
	}
}

func TestPhrases(t *testing.T) {
	p := NewPhrases([]string{"probably", "I’m not sure", " ", "may be"})
	if p.Len() != 3 {
		t.Fatalf("len %d", p.Len())
	}
	tests := []struct {
		text string
		n    int
	}{
		{"Probably, yes. Improbably not. PROBABLY!", 2},
		{"I'm not sure. I’m not sure either.", 2},
		{"It may be 5; maybe 6.", 1},
		{"nothing here", 0},
	}
	for _, tt := range tests {
		if got := p.Count(Lower(tt.text)); got != tt.n {
			t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.n)
		}
	}
	r := NewPhrases(DefaultRefusals)
	if ph, ok := r.Near(Lower("I’m sorry, but I can’t help with that."), 200); !ok || ph != "i'm sorry, but i can't" {
		t.Fatalf("refusal not found: %q", ph)
	}
	long := strings.Repeat("word ", 100) + "I cannot help with the rest."
	if _, ok := r.Near(Lower(long), 200); ok {
		t.Fatal("refusal found outside the window")
	}
	if _, ok := r.Near(Lower(long), 0); !ok {
		t.Fatal("refusal not found with no window")
	}
}

func TestBlocks(t *testing.T) {
	text := "Here:\n```go\npackage main\n```\nand\n~~~ Python extra\nprint(1)\n~~~\ninline ```x``` text\n```json\n{\"a\":"
	bs := Blocks(text)
	if len(bs) != 3 {
		t.Fatalf("blocks %+v", bs)
	}
	want := []Block{{"go", "package main\n", true}, {"python", "print(1)\n", true}, {"json", "{\"a\":\n", false}}
	for i := range want {
		if bs[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, bs[i], want[i])
		}
	}
	if got := StripFence("```json\n{\"a\": 1}\n```\n"); got != `{"a": 1}` {
		t.Errorf("StripFence = %q", got)
	}
	if got := StripFence("  {\"a\": 1} "); got != `{"a": 1}` {
		t.Errorf("StripFence = %q", got)
	}
}

func TestLogprobs(t *testing.T) {
	if _, ok := Logprobs(nil); ok {
		t.Fatal("stats of nil")
	}
	l := &llm.Logprobs{Content: []llm.TokenLogprob{
		{Token: "a", Logprob: -0.1, TopLogprobs: []llm.TopLogprob{{Logprob: -0.1}, {Logprob: -2.1}}},
		{Token: "b", Logprob: -1.5, TopLogprobs: []llm.TopLogprob{{Logprob: -3}, {Logprob: -0.5}, {Logprob: -1.5}}},
		{Token: "c", Logprob: 0.01},
	}}
	s, ok := Logprobs(l)
	if !ok || s.Tokens != 3 || s.MarginTokens != 2 {
		t.Fatalf("stats %+v", s)
	}
	if math.Abs(s.Mean-(-1.6/3)) > 1e-12 || s.Min != -1.5 || math.Abs(s.Margin-1.5) > 1e-12 {
		t.Fatalf("stats %+v", s)
	}
}

const benchAnswer = `To find the total cost, we first work out each part.

The house cost $80,000 and the repairs cost $50,000, so the total investment is 80,000 + 50,000 = $<<80000+50000=130000>>130,000.

The repairs increased the value by 150%, so the increase is 80,000 * 1.5 = $<<80000*1.5=120000>>120,000.

The new value of the house is 120,000 + 80,000 = $<<120000+80000=200000>>200,000.

So the profit is 200,000 - 130,000 = $<<200000-130000=70000>>70,000.

Let me double check each step. First, 80,000 + 50,000 = 130,000, which is correct. Then 80,000 * 1.5 = 120,000,
which is also correct. The new value 120,000 + 80,000 = 200,000. The profit 200,000 - 130,000 = 70,000.
I think this is probably right, although it may be that the question means something else by "increased the value".
We could also reason about it differently: if the value increased by 150% of the repairs, the increase would be
50,000 * 1.5 = 75,000 and the new value 80,000 + 75,000 = 155,000, for a profit of 155,000 - 130,000 = 25,000.
However, the usual reading is that the value of the house increased by 150% of its purchase price.
Each of the numbers above was computed carefully; the intermediate values were 130,000, 120,000 and 200,000.
In summary: total cost 130,000; increase 120,000; new value 200,000; profit 70,000. Since the question asks
how much profit he made, we report the difference between the new value and the total investment.
Therefore the answer is $70,000.
#### 70000
`

func BenchmarkCheckArithmetic(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		CheckArithmetic(benchAnswer, 0)
	}
}

func BenchmarkFinal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Final(benchAnswer)
	}
}

func BenchmarkHedges(b *testing.B) {
	p := NewPhrases(DefaultHedges)
	b.ReportAllocs()
	for b.Loop() {
		p.Count(Lower(benchAnswer))
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		expr, text, match string
		ok                bool
		need              string
		fold              bool
	}{
		{`(?i)as an ai model`, "Well, As An AI Model I", "As An AI Model", true, "as an ai model", true},
		{`(?i)as an ai model`, "nothing", "", false, "as an ai model", true},
		{`(?m)^####\s*-?[\d,.]+`, "x\n#### 1,000\n", "#### 1,000", true, "####", false},
		{`(?m)^####\s*-?[\d,.]+`, "x #### 5", "", false, "####", false},
		{`(?i)thanks`, "THANKS", "THANKS", true, "thanks", true},
		{`(?i)thanks`, "THANKſ", "THANKſ", true, "thanks", true}, // the long s folds onto s
		{`cat|dog`, "a dog", "dog", true, "", false},
		{`(?i)über`, "ÜBER", "ÜBER", true, "", false},
		{`(ab)+c`, "xababc", "ababc", true, "ab", false},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if p.need != tt.need || p.fold != tt.fold {
			t.Errorf("%s: need %q fold %v, want %q %v", tt.expr, p.need, p.fold, tt.need, tt.fold)
		}
		m, ok := p.Find(tt.text, "")
		if ok != tt.ok || m != tt.match {
			t.Errorf("%s on %q: %q %v, want %q %v", tt.expr, tt.text, m, ok, tt.match, tt.ok)
		}
	}
	if _, err := CompilePattern("(x"); err == nil {
		t.Error("bad pattern compiled")
	}
}

func FuzzAnalyse(f *testing.F) {
	for _, s := range []string{benchAnswer, "2+2=5", "<<3*4=12>>", "3 1/2 / 1/2 = 7", "((((1", "¾ x 3/3 = 9/12", `\boxed{4}`, "```go\nx\n```", "1,000,000.5% = $3"} {
		f.Add(s)
	}
	hedges := NewPhrases(DefaultHedges)
	f.Fuzz(func(t *testing.T, s string) {
		a := CheckArithmetic(s, 0)
		if a.Wrong > a.Steps || a.Wrong < 0 || len(a.Errors) > 3 {
			t.Fatalf("%q: %+v", s, a)
		}
		Final(s)
		Blocks(s)
		StripFence(s)
		hedges.Count(Lower(s))
		if n, ok := LastNumber(s); ok && CountNumbers(s) == 0 {
			t.Fatalf("%q: last number %v but no numbers", s, n)
		}
	})
}

// TestDecimalPointAfterLetterTerminates: a number starting with its
// decimal point right after a letter ("A.5") never advanced the scan, so
// Numbers and CheckArithmetic looped forever (found by FuzzAnalyse).
func TestDecimalPointAfterLetterTerminates(t *testing.T) {
	for _, s := range []string{"0,000,0A.5=3", "A.5", "x.5 + 1 = 1.5"} {
		CheckArithmetic(s, 0)
		Numbers(s)
		Final(s)
	}
}

func TestAnalysis(t *testing.T) {
	text := "I THINK 2+2=5.\n#### 5"
	an := Analyse(text)
	if an.Text() != text || an.Lower() != Lower(text) || an.Arithmetic().Wrong != 1 || !an.Stated() {
		t.Fatalf("analysis %+v", an)
	}
	if f, k := an.Final(); f != "5" || k != FinalHashes {
		t.Fatalf("final %q %q", f, k)
	}
}
