package tokens

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/dataset"

	"github.com/sextant-router/sextant/internal/llm"
)

func TestCount(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"hello world, how are you?", 7},
	}
	for _, tt := range tests {
		if got := Count(tt.text); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestPromptAndCompletion(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{{Role: "user", Content: "hello world"}}}
	// 3 reply primer + 3 per message + 1 role token + 2 content tokens.
	if got := Prompt(req); got != 9 {
		t.Errorf("Prompt = %d, want 9", got)
	}
	resp := &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Content: "hello world"}}, {Message: llm.Message{ToolCalls: []llm.ToolCall{{Function: llm.FunctionCall{Name: "f", Arguments: "{}"}}}}}}}
	if got := Completion(resp); got != 2+1+1 {
		t.Errorf("Completion = %d, want 4", got)
	}
}

func TestSplitRejoins(t *testing.T) {
	texts := []string{"", "hello world", "naïve café — 日本語のテキスト 🚀 done", "a\nb\tc", strings.Repeat("🙂", 7)}
	for _, rec := range dataset.Demo() {
		for _, m := range rec.Models {
			texts = append(texts, m.Response...)
		}
	}
	for _, s := range texts {
		var got string
		total := 0
		for _, p := range Split(s) {
			if p.Text == "" || !utf8.ValidString(p.Text) || p.Tokens < 1 {
				t.Errorf("bad piece %+v of %q", p, s)
			}
			got += p.Text
			total += p.Tokens
		}
		if got != s {
			t.Errorf("Split(%q) rejoined = %q", s, got)
		}
		if s != "" && total != Count(s) {
			t.Errorf("Split(%q) tokens = %d, want %d", s, total, Count(s))
		}
	}
}
