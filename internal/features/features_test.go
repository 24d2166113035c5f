package features

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/tokens"
)

func user(text string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: text} }

func chat(texts ...string) *llm.Request {
	req := &llm.Request{}
	for _, t := range texts {
		req.Messages = append(req.Messages, user(t))
	}
	return req
}

func TestExtractShape(t *testing.T) {
	maxTokens := 256
	req := &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "Be brief."},
			{Role: llm.RoleUser, Content: "Hi there", Parts: []llm.ContentPart{
				{Type: "text", Text: "Hi there"},
				{Type: "image_url", ImageURL: "data:image/png;base64,AAAA"},
			}},
			{Role: llm.RoleAssistant, Content: "Hello!"},
			{Role: llm.RoleUser, Content: "Describe these", Parts: []llm.ContentPart{
				{Type: "image_url", ImageURL: "https://example.invalid/a.png"},
				{Type: "image_url", ImageURL: "https://example.invalid/b.png"},
			}},
		},
		Tools:          []llm.Tool{{Type: "function"}, {Type: "function"}},
		ResponseFormat: &llm.ResponseFormat{Type: "json_schema"},
		Logprobs:       true,
		Stream:         true,
		MaxTokens:      &maxTokens,
	}
	got := Extract(req)
	want := &Set{
		Chars:         len("Be brief.") + len("Hi there") + len("Hello!") + len("Describe these"),
		Tokens:        tokens.Tokenizer().Count("Be brief.") + tokens.Tokenizer().Count("Hi there") + tokens.Tokenizer().Count("Hello!") + tokens.Tokenizer().Count("Describe these"),
		Messages:      4,
		UserTurns:     2,
		LastUser:      "Describe these",
		LastUserChars: 14,
		System:        true,
		Language:      LangLatin,
		Tools:         2,
		JSON:          true,
		Logprobs:      true,
		Stream:        true,
		Images:        3,
		MaxTokens:     256,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Extract =\n%+v\nwant\n%+v", got, want)
	}
}

func TestExtractNil(t *testing.T) {
	if got := Extract(nil); !reflect.DeepEqual(got, &Set{}) {
		t.Errorf("Extract(nil) = %+v", got)
	}
	if got := Extract(&llm.Request{}); !reflect.DeepEqual(got, &Set{}) {
		t.Errorf("Extract(empty) = %+v", got)
	}
}

func TestExtractJSONFormats(t *testing.T) {
	for typ, want := range map[string]bool{"json_object": true, "json_schema": true, "text": false, "": false} {
		req := chat("hi")
		req.ResponseFormat = &llm.ResponseFormat{Type: typ}
		if got := Extract(req).JSON; got != want {
			t.Errorf("response_format %q: JSON = %v, want %v", typ, got, want)
		}
	}
}

func TestExtractContent(t *testing.T) {
	tests := []struct {
		name  string
		req   *llm.Request
		check func(*Set) bool
	}{
		// Code.
		{"fenced code", chat("fix this:\n```\nx = 1\n```"), func(s *Set) bool { return s.HasCode && s.CodeLangs == nil }},
		{"fence language", chat("```python\nprint(1)\n```\nand\n~~~ {.js}\nconsole.log(1)\n~~~"), func(s *Set) bool {
			return s.HasCode && reflect.DeepEqual(s.CodeLangs, []string{"javascript", "python"})
		}},
		{"fence alias and repeats", chat("```py\na\n```\n```Python3\nb\n```\n```c++ title=x\n```"), func(s *Set) bool {
			return reflect.DeepEqual(s.CodeLangs, []string{"cpp", "python"})
		}},
		{"fence text is no language", chat("```text\nplain\n```"), func(s *Set) bool { return s.HasCode && s.CodeLangs == nil }},
		{"include marker", chat("why does this fail?\n#include <stdio.h>\nint main() { return 0; }"), func(s *Set) bool {
			return s.HasCode && reflect.DeepEqual(s.CodeLangs, []string{"c"})
		}},
		{"python def", chat("def area(r):\n    return 3.14 * r * r"), func(s *Set) bool {
			return s.HasCode && reflect.DeepEqual(s.CodeLangs, []string{"python"})
		}},
		{"go func", chat("package main\n\nfunc main() {\n}"), func(s *Set) bool { return reflect.DeepEqual(s.CodeLangs, []string{"go"}) }},
		{"sql", chat("SELECT name FROM users WHERE id = 1"), func(s *Set) bool { return reflect.DeepEqual(s.CodeLangs, []string{"sql"}) }},
		{"code-like lines", chat("int a = 1;\nint b = 2;\nif (a) {\n}"), func(s *Set) bool { return s.HasCode && s.CodeLangs == nil }},
		{"two code-like lines are not enough", chat("Note: one;\nTwo;"), func(s *Set) bool { return !s.HasCode }},
		{"prose is not code", chat("Define the function of the heart. What does it do for the body?"), func(s *Set) bool { return !s.HasCode }},
		{"code in system prompt ignored", &llm.Request{Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "```json\n{}\n```"}, user("hello"),
		}}, func(s *Set) bool { return !s.HasCode && s.System }},

		// Math.
		{"arithmetic", chat("what is 7 * 6"), func(s *Set) bool { return s.HasMath }},
		{"equation", chat("Solve 3x + 2 = 11 for x."), func(s *Set) bool { return s.HasMath }},
		{"variables", chat("if a = b and b = c"), func(s *Set) bool { return s.HasMath }},
		{"power", chat("expand x^2"), func(s *Set) bool { return s.HasMath }},
		{"spaced minus", chat("10 - 4"), func(s *Set) bool { return s.HasMath }},
		{"latex", chat(`compute \frac{1}{2} of it`), func(s *Set) bool { return s.HasMath }},
		{"display math", chat("$$ e $$"), func(s *Set) bool { return s.HasMath }},
		{"symbols", chat("show that a ≤ b"), func(s *Set) bool { return s.HasMath }},
		{"latex fence", chat("```latex\nE\n```"), func(s *Set) bool { return s.HasMath && s.HasCode }},
		{"date is not math", chat("Meet on 2024-01-02 or 12/25 at 10:30, call 555-1234."), func(s *Set) bool { return !s.HasMath }},
		{"C++ is not math", chat("I like C++ and C# a lot"), func(s *Set) bool { return !s.HasMath }},
		{"markdown bold is not math", chat("this is **very** important * really"), func(s *Set) bool { return !s.HasMath }},
		{"plain numbers are not math", chat("I have 3 cats and 2 dogs"), func(s *Set) bool { return !s.HasMath }},

		// Questions and steps.
		{"question words", chat("What is this? Why? And HOW, when, where, who, whom, whose, which."), func(s *Set) bool { return s.QuestionWords == 9 }},
		{"question words across turns", chat("what", "why not"), func(s *Set) bool { return s.QuestionWords == 2 }},
		{"words inside words do not count", chat("however, somewhat, whatever"), func(s *Set) bool { return s.QuestionWords == 0 }},
		{"step by step", chat("Explain it step by step."), func(s *Set) bool { return s.MultiStep }},
		{"step-by-step", chat("A Step-By-Step guide"), func(s *Set) bool { return s.MultiStep }},
		{"first then", chat("First install it, then run it."), func(s *Set) bool { return s.MultiStep }},
		{"then without first", chat("and then it broke"), func(s *Set) bool { return !s.MultiStep }},
		{"numbered list", chat("Do this:\n1. open\n2. close"), func(s *Set) bool { return s.MultiStep }},
		{"numbered list parens", chat("1) open\n  2) close"), func(s *Set) bool { return s.MultiStep }},
		{"lone number is no list", chat("2. is the answer"), func(s *Set) bool { return !s.MultiStep }},
		{"list in code is no list", chat("```\n1. a\n2. b\n```"), func(s *Set) bool { return !s.MultiStep }},

		// Language.
		{"latin", chat("Bonjour, ça va très bien"), func(s *Set) bool { return s.Language == LangLatin }},
		{"cyrillic", chat("Привет, как дела? OK"), func(s *Set) bool { return s.Language == LangCyrillic }},
		{"han", chat("你好世界，这是中文。"), func(s *Set) bool { return s.Language == LangHan }},
		{"japanese", chat("日本語のテキストです。"), func(s *Set) bool { return s.Language == LangKana }},
		{"hangul", chat("한국어 텍스트입니다"), func(s *Set) bool { return s.Language == LangHangul }},
		{"arabic", chat("مرحبا بالعالم"), func(s *Set) bool { return s.Language == LangArabic }},
		{"hebrew", chat("שלום עולם"), func(s *Set) bool { return s.Language == LangHebrew }},
		{"greek", chat("Γειά σου κόσμε"), func(s *Set) bool { return s.Language == LangGreek }},
		{"devanagari", chat("नमस्ते दुनिया"), func(s *Set) bool { return s.Language == LangDevanagari }},
		{"thai", chat("สวัสดีชาวโลก"), func(s *Set) bool { return s.Language == LangThai }},
		{"no letters", chat("1234 !!"), func(s *Set) bool { return s.Language == LangNone }},
		{"last user message decides", chat("Привет", "hello"), func(s *Set) bool { return s.Language == LangLatin }},
		{"code does not vote", chat("Почему это не работает?\n```go\nfunc main() { fmt.Println(\"hello world\") }\n```"), func(s *Set) bool {
			return s.Language == LangCyrillic
		}},
		{"no user message", &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "hello"}}}, func(s *Set) bool {
			return s.Language == LangNone && s.LastUser == "" && s.UserTurns == 0 && s.Chars == 5
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := Extract(tt.req); !tt.check(s) {
				t.Errorf("unexpected features: %+v", s)
			}
		})
	}
}

// TestCharsCountsRunes holds the scanner's rune count to utf8's.
func TestCharsCountsRunes(t *testing.T) {
	for _, text := range append(tokenCorpus, "a\n", "\n", "\n\nx\n", "```\ncode\n```\n", "é\\fracé ½ 3²") {
		s := Extract(chat(text))
		if want := utf8.RuneCountInString(text); s.Chars != want || s.LastUserChars != want {
			t.Errorf("%q: Chars = %d, LastUserChars = %d, want %d", text, s.Chars, s.LastUserChars, want)
		}
	}
}

func TestTokensExtrapolatePastLimit(t *testing.T) {
	unit := "The quick brown fox jumps over the lazy dog. "
	text := strings.Repeat(unit, 2*exactLimit/len(unit))
	exact := tokens.Tokenizer().Count(text)
	got := Extract(chat(text)).Tokens
	if diff := got - exact; diff < -exact/100 || diff > exact/100 {
		t.Errorf("Tokens = %d, exact count %d: off by more than 1%%", got, exact)
	}
	// Two messages: the second is past the limit and only extrapolated.
	got = Extract(chat(text[:exactLimit], text[:exactLimit])).Tokens
	if want := 2 * tokens.Tokenizer().Count(text[:exactLimit]); got != want {
		t.Errorf("Tokens = %d, want %d", got, want)
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range tokenCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s := Extract(chat(text, text))
		if want := 2 * utf8.RuneCountInString(text); s.Chars != want {
			t.Errorf("Chars = %d, want %d", s.Chars, want)
		}
		if s.Tokens < 0 || s.QuestionWords < 0 {
			t.Errorf("negative counts: %+v", s)
		}
	})
}

// BenchmarkExtract measures a typical chat request: a system prompt, two
// turns of history and a question of about 1 KiB.
func BenchmarkExtract(b *testing.B) {
	question := strings.Repeat("How should I structure a Go service that reads events from a queue, "+
		"validates them, and writes them to PostgreSQL? Explain step by step. ", 6) +
		"\n```go\nfunc handle(ctx context.Context, e Event) error {\n\treturn store.Put(ctx, e)\n}\n```\n"
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a helpful assistant for backend engineers."},
		user("What is a dead-letter queue?"),
		{Role: llm.RoleAssistant, Content: strings.Repeat("A dead-letter queue holds messages that could not be processed. ", 5)},
		user(question),
	}}
	tokens.Tokenizer() // build the rank table outside the timing
	b.ReportAllocs()
	for b.Loop() {
		Extract(req)
	}
}

// tokenCorpus is text of many scripts and shapes for scanner tests.
var tokenCorpus = []string{
	"", "hello world", "I'm sure you'll see they've done it",
	"(hello) [world] ...dots!!! ?!?\n\n\r\nnext", "a  b   c\t\te\n\n  \n  f   ",
	"func (c *Codec) Count(input string) (int, error) {\n\treturn 0, nil\n}\n",
	"Привет, как дела?", "你好世界，这是中文。日本語のテキストです。한국어", "مرحبا بالعالم",
	"emoji 😀😃 👍🏽 family 👨‍👩‍👧", "$x^2 + y^2 = z^2$ and \\frac{a}{b}", "invalid \xff\xfe bytes \xc3 here",
}
