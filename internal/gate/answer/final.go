package answer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Final kinds: how a final answer was found.
const (
	FinalNone    = ""        // no final answer (empty text)
	FinalHashes  = "hashes"  // after GSM8K's "####"
	FinalBoxed   = "boxed"   // inside \boxed{...}
	FinalMarker  = "marker"  // after "the answer is", "final answer:", "answer:"
	FinalLast    = "last"    // the last number of the text
	FinalLastRaw = "lastraw" // the last non-empty line, no number in the text
)

// markers introduce a final answer, most specific first; matched
// case-insensitively, the last occurrence of the first marker found wins.
var markers = []string{
	"final answer is", "final answer:", "final answer =",
	"the answer is", "answer is", "answer:",
	"the result is", "the total is", "in total,",
}

// Final returns the normalised final answer of text and how it was found
// (one of the Final kinds). It looks, in order, for GSM8K's "#### X", the
// last \boxed{X}, the last "the answer is X" / "final answer: X" (see
// markers), and else takes the last number of the text, or its last line
// when it has no number. The answer is normalised by Normalize.
//
// It is meant for comparing answers with each other (consistency) and
// with references, and for checking that an answer ends in a usable form.
func Final(text string) (string, string) {
	if i := strings.LastIndex(text, "####"); i >= 0 {
		if v := Normalize(firstLine(text[i+4:])); v != "" {
			return v, FinalHashes
		}
	}
	if i := strings.LastIndex(text, `\boxed{`); i >= 0 {
		rest := text[i+len(`\boxed{`):]
		depth, end := 1, -1
		for j := 0; j < len(rest) && end < 0; j++ {
			switch rest[j] {
			case '{':
				depth++
			case '}':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end >= 0 {
			if v := Normalize(rest[:end]); v != "" {
				return v, FinalBoxed
			}
		}
	}
	for _, m := range markers {
		if i := lastIndexFold(text, m); i >= 0 {
			if v := Normalize(sentence(text[i+len(m):])); v != "" {
				return v, FinalMarker
			}
		}
	}
	if n, ok := LastNumber(text); ok {
		return FormatNumber(n.Value), FinalLast
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if v := Normalize(lines[len(lines)-1]); v != "" {
		return v, FinalLastRaw
	}
	return "", FinalNone
}

// HasFinal reports whether text states its final answer explicitly: after
// "####", in \boxed{}, or after an answer marker.
func HasFinal(text string) bool {
	_, kind := Final(text)
	return kind == FinalHashes || kind == FinalBoxed || kind == FinalMarker
}

// Normalize reduces an answer to a canonical form: the first number in it
// (FormatNumber: "$1,200.00" → "1200", "15%" → "15"); else a choice
// letter A–D ("(B)", "B.", "B) Paris" → "B"); else the text lower-cased
// with markdown emphasis, surrounding punctuation and runs of space
// removed.
func Normalize(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if ns := Numbers(s); len(ns) > 0 {
		v := ns[0].Value
		// A fraction written as a/b reads as its value.
		if e := ns[0].End; e < len(s) && s[e] == '/' && len(ns) > 1 && ns[1].Start == e+1 && ns[1].Value != 0 {
			v /= ns[1].Value
		}
		return FormatNumber(v)
	}
	t := strings.Trim(s, " *_`\"'()[]{}.,:;!?")
	if l := letter(s); l != "" {
		return l
	}
	t = strings.ToLower(t)
	return strings.Join(strings.Fields(t), " ")
}

// letter returns the choice letter A–D that s starts with: "B", "(B)",
// "B.", "B)", "B: Paris", "**B**"; "" when s does not start with one.
func letter(s string) string {
	s = strings.TrimLeft(s, " *_(")
	if s == "" || s[0] < 'A' || s[0] > 'D' {
		return ""
	}
	if len(s) == 1 {
		return s[:1]
	}
	switch s[1] {
	case ')', '.', ':', '*', ' ', '\n', ',':
		if s[1] == ' ' && len(s) > 2 && isLetter(s[2]) && s[0] == 'A' {
			return "" // "A total of ...": an article, not a choice
		}
		return s[:1]
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// sentence returns s up to the end of its first line or sentence (a full
// stop followed by space or the end).
func sentence(s string) string {
	s = firstLine(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && (i+1 == len(s) || s[i+1] == ' ') {
			return s[:i]
		}
	}
	return s
}

// Lower returns s in lower case with typographic apostrophes (’ ‘) folded
// to ' and the long s (ſ) to s, the form phrase lists and case-folded
// patterns are matched against. Byte offsets of ASCII
// text are preserved.
func Lower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '’', '‘':
			return '\''
		case 'ſ':
			return 's'
		}
		return unicode.ToLower(r)
	}, s)
}

// lastIndexFold is strings.LastIndex ignoring ASCII case; sub must be
// lower-case ASCII.
func lastIndexFold(s, sub string) int {
	for i := len(s) - len(sub); i >= 0; i-- {
		j := 0
		for j < len(sub) && lowerByte(s[i+j]) == sub[j] {
			j++
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
