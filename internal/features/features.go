// Package features computes the request features that rules and
// classifiers read: sizes, who wrote what, code, math, questions, the
// writing system, and what the caller wants back (tools, JSON, logprobs,
// streaming). Extract makes one pass over the messages; every feature is a
// cheap heuristic meant for routing, not a parser.
package features

import (
	"slices"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/tokens"
)

// Language values: the dominant writing system of the last user message,
// a cheap stand-in for its language. Kana means Japanese (kana mixed with
// Han), Han alone means Chinese, Hangul means Korean.
const (
	LangNone       = "" // no letters
	LangLatin      = "latin"
	LangCyrillic   = "cyrillic"
	LangGreek      = "greek"
	LangArmenian   = "armenian"
	LangGeorgian   = "georgian"
	LangHebrew     = "hebrew"
	LangArabic     = "arabic"
	LangDevanagari = "devanagari"
	LangBengali    = "bengali"
	LangTamil      = "tamil"
	LangThai       = "thai"
	LangHangul     = "hangul"
	LangKana       = "kana"
	LangHan        = "han"
	LangOther      = "other"
)

// Set is the features of one request. A Set is immutable once Extract
// returns it; readers must not change it (CodeLangs included).
//
// Sizes count the text (Content) of every message. The content features
// (HasCode through Language) look only at what the user wrote, every user
// message, so that a system prompt that says "think step by step" or shows
// a JSON example does not mark every request.
type Set struct {
	// Chars is the number of characters (runes) of message text.
	Chars int
	// Tokens estimates the tokens of the same text with OpenAI's
	// cl100k_base vocabulary: exact up to the first 256 KiB of text and
	// extrapolated past it. It leaves out the chat format's per-message
	// overhead and tool declarations, and is an estimate for any model
	// that uses another vocabulary.
	Tokens int
	// Messages is the number of messages, of any role.
	Messages int
	// UserTurns is the number of user messages.
	UserTurns int
	// LastUser is the text of the last user message, "" when there is
	// none; LastUserChars is its length in characters.
	LastUser      string
	LastUserChars int
	// System is true when a system or developer message is present.
	System bool

	// HasCode is true when the user wrote a fenced code block (``` or
	// ~~~) or lines with strong code markers (#include, def f(...):,
	// package main, console.log(...), SELECT ... FROM, <?php, a shebang,
	// or three or more lines that end like code: ; { }).
	HasCode bool
	// CodeLangs lists, sorted and without repeats, the languages hinted at
	// by fence info strings (```python) and by code markers, lower-case
	// with common aliases folded (py -> python, js -> javascript). It is
	// nil when there is none.
	CodeLangs []string
	// HasMath is true when the user wrote arithmetic or an equation (a
	// number or one-letter variable, an operator, another operand: "3x +
	// 2 = 11", "7 * 6"; minus and slash count only with spaces around
	// them, so dates and ranges do not), LaTeX (\frac, \sum, $$ ...) or
	// mathematical symbols (∑ ∫ √ ≤ ≠ ...).
	HasMath bool
	// QuestionWords counts the English interrogatives the user wrote:
	// what, why, how, when, where, who, whom, whose, which.
	QuestionWords int
	// MultiStep is true when the user asks for steps: "step by step",
	// "first ... then/next/finally" in one message, or a numbered list
	// with at least two consecutive items (1. 2. or 1) 2)).
	MultiStep bool
	// Language is the dominant writing system of the last user message's
	// letters outside code blocks, one of the Lang constants.
	Language string

	// Tools is the number of tools the caller declared.
	Tools int
	// JSON is true when the caller asked for a JSON response
	// (response_format json_object or json_schema).
	JSON bool
	// Logprobs is true when the caller asked for log-probabilities.
	Logprobs bool
	// Stream is true for a streaming request.
	Stream bool
	// Images is the number of image parts in the messages.
	Images int
	// MaxTokens is the caller's completion limit, 0 when unset.
	MaxTokens int
}

// Extract computes the features of req. A nil req has the zero Set.
//
// Cost: one scan of the user's text and a token count of every message's
// (see Counter): about 10 µs of CPU per KiB of English chat, allocating
// only the Set and CodeLangs; see BenchmarkExtract. The first call in a
// process also builds the tokenizer's rank table.
func Extract(req *llm.Request) *Set {
	s := &Set{}
	if req == nil {
		return s
	}
	s.Messages = len(req.Messages)
	s.Tools = len(req.Tools)
	s.JSON = req.ResponseFormat != nil &&
		(req.ResponseFormat.Type == "json_object" || req.ResponseFormat.Type == "json_schema")
	s.Logprobs = req.Logprobs
	s.Stream = req.Stream
	if req.MaxTokens != nil {
		s.MaxTokens = *req.MaxTokens
	}

	var (
		sc  scanner
		tok = tally{c: tokens.Tokenizer()}
	)
	for i := range req.Messages {
		m := &req.Messages[i]
		for _, p := range m.Parts {
			if p.Type == "image_url" || p.ImageURL != "" {
				s.Images++
			}
		}
		tok.add(m.Content)
		switch m.Role {
		case llm.RoleUser:
			s.UserTurns++
			n := sc.message(m.Content)
			s.Chars += n
			s.LastUser, s.LastUserChars = m.Content, n
			s.Language = sc.language()
		case llm.RoleSystem, llm.RoleDeveloper:
			s.System = true
			fallthrough
		default:
			s.Chars += utf8.RuneCountInString(m.Content)
		}
	}
	s.Tokens = tok.total()
	s.HasCode = sc.code
	s.HasMath = sc.math
	s.QuestionWords = sc.questions
	s.MultiStep = sc.multiStep
	if len(sc.langs) > 0 {
		slices.Sort(sc.langs)
		s.CodeLangs = sc.langs
	}
	return s
}

// exactLimit is how many bytes of a request's text are tokenized; the
// rest is extrapolated, which bounds the cost of huge prompts.
const exactLimit = 256 << 10

// tally counts the tokens of a request's texts, exactly up to exactLimit
// bytes and by extrapolation past it.
type tally struct {
	c                      *tokens.Counter
	tokens, counted, bytes int
}

func (t *tally) add(text string) {
	t.bytes += len(text)
	room := exactLimit - t.counted
	if room <= 0 || text == "" {
		return
	}
	if len(text) > room {
		for room > 0 && !utf8.RuneStart(text[room]) {
			room--
		}
		text = text[:room]
	}
	t.tokens += t.c.Count(text)
	t.counted += len(text)
}

func (t *tally) total() int {
	if t.counted == 0 || t.counted == t.bytes {
		return t.tokens
	}
	return int(int64(t.tokens) * int64(t.bytes) / int64(t.counted))
}
