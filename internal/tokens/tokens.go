// Package tokens counts tokens with a real BPE tokenizer (OpenAI's
// cl100k_base vocabulary, embedded in github.com/tiktoken-go/tokenizer), for
// upstreams that report no usage. Counts for non-OpenAI models are estimates
// and are marked as such by the caller.
package tokens

import (
	"strings"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/llm"
)

// Per-message overhead of the chat format (role and separators), as OpenAI
// documents for its cl100k models, and the reply primer.
const (
	perMessage = 3
	perName    = 1
	replyPrime = 3
)

// Count returns the number of cl100k_base tokens in text (see Counter).
func Count(text string) int {
	if text == "" {
		return 0
	}
	return cl100k().Count(text)
}

// Prompt returns the number of prompt tokens req would use: every
// message's content, name and tool calls with the chat format's overhead,
// and the tool declarations.
func Prompt(req *llm.Request) int {
	n := replyPrime
	for _, m := range req.Messages {
		n += perMessage + Count(m.Role) + Count(m.Content)
		if m.Name != "" {
			n += perName + Count(m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += Count(tc.Function.Name) + Count(tc.Function.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += Count(t.Function.Name) + Count(t.Function.Description) + Count(string(t.Function.Parameters))
	}
	return n
}

// Completion returns the number of tokens in a response's choices.
func Completion(resp *llm.Response) int {
	n := 0
	for _, c := range resp.Choices {
		n += Count(c.Message.Content) + Count(c.Message.Refusal)
		for _, tc := range c.Message.ToolCalls {
			n += Count(tc.Function.Name) + Count(tc.Function.Arguments)
		}
	}
	return n
}

// Piece is a stretch of text sent as one stream delta: one token, or a few
// when a character spans token boundaries.
type Piece struct {
	Text   string
	Tokens int
}

// Split cuts s into token-sized pieces whose concatenation is exactly s.
// Tokens that hold part of a multi-byte character are merged with their
// neighbours so that every piece is valid UTF-8 (when s is).
func Split(s string) []Piece {
	if s == "" {
		return nil
	}
	_, toks, err := cl100k().lib.Encode(s)
	if err != nil || len(toks) == 0 {
		return []Piece{{Text: s, Tokens: max(1, Count(s))}}
	}
	out := make([]Piece, 0, len(toks))
	start, end, n := 0, 0, 0
	for _, t := range toks {
		if !strings.HasPrefix(s[end:], t) {
			// The tokenizer changed the text; never send a different text
			// than the one given.
			return []Piece{{Text: s, Tokens: len(toks)}}
		}
		end += len(t)
		n++
		if utf8.ValidString(s[start:end]) {
			out = append(out, Piece{Text: s[start:end], Tokens: n})
			start, n = end, 0
		}
	}
	if end != len(s) {
		return []Piece{{Text: s, Tokens: len(toks)}}
	}
	if start < end {
		out = append(out, Piece{Text: s[start:end], Tokens: n})
	}
	return out
}
