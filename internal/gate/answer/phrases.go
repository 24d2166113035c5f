package answer

import "strings"

// DefaultRefusals are the phrases that mark a refusal when they occur near
// the start of an answer (see Phrases.Near), matched case-insensitively at
// word boundaries.
var DefaultRefusals = []string{
	"i'm sorry, but i can't", "i'm sorry, but i cannot", "i am sorry, but i cannot",
	"i can't help with", "i cannot help with", "i can't assist", "i cannot assist",
	"i can't provide", "i cannot provide", "i can't fulfill", "i cannot fulfill",
	"i can't comply", "i cannot comply", "i won't be able to", "i will not be able to",
	"i'm unable to", "i am unable to", "i'm not able to", "i am not able to",
	"i must decline", "i have to decline", "as an ai language model, i cannot",
	"as an ai, i cannot", "i'm not allowed to", "i am not allowed to",
	"it would not be appropriate for me", "i can't answer", "i cannot answer",
}

// DefaultHedges are phrases of uncertainty, matched case-insensitively at
// word boundaries anywhere in an answer.
var DefaultHedges = []string{
	"i think", "i believe", "i guess", "not sure", "not certain", "not entirely sure",
	"probably", "possibly", "perhaps", "it seems", "it appears", "might be", "may be",
	"could be", "unclear", "hard to say", "difficult to say",
	"as far as i know", "to the best of my knowledge", "if i recall correctly",
	"i don't know", "i do not know", "cannot be determined", "can't be determined",
	"not enough information", "insufficient information", "i apologize",
	"my apologies", "i made a mistake", "i made an error", "let me correct",
	"let me re-evaluate", "upon re-evaluation", "however, since",
}

// Phrases is a list of phrases to look for, case-insensitively, at word
// boundaries: "probably" matches "Probably," but not "improbably". Build it
// with NewPhrases; it is immutable and safe for concurrent use. Matching
// is one pass over the text whatever the number of phrases.
type Phrases struct {
	list []string // lower-case, apostrophes folded
	// first indexes list by first byte.
	first [256][]int32
}

// NewPhrases returns the matcher of list (empty phrases are dropped).
func NewPhrases(list []string) *Phrases {
	p := &Phrases{}
	for _, s := range list {
		if s = strings.TrimSpace(Lower(s)); s != "" {
			p.first[s[0]] = append(p.first[s[0]], int32(len(p.list)))
			p.list = append(p.list, s)
		}
	}
	return p
}

// Len returns the number of phrases.
func (p *Phrases) Len() int { return len(p.list) }

// Count returns how many times any phrase occurs in lower, which must be
// Lower of the text; overlapping matches of different phrases all count.
func (p *Phrases) Count(lower string) int {
	n := 0
	p.scan(lower, func(int, string) bool { n++; return true })
	return n
}

// Near returns the phrase that occurs first in the first window bytes of
// lower (Lower of the text), and whether there is one. window <= 0
// searches everything.
func (p *Phrases) Near(lower string, window int) (string, bool) {
	if window > 0 && len(lower) > window {
		lower = lower[:window]
	}
	found := ""
	p.scan(lower, func(_ int, ph string) bool { found = ph; return false })
	return found, found != ""
}

// scan calls f for every match in s, in order of position, until f
// returns false.
func (p *Phrases) scan(s string, f func(at int, phrase string) bool) {
	for i := 0; i < len(s); i++ {
		cands := p.first[s[i]]
		if len(cands) == 0 || i > 0 && isWord(s[i-1]) && isWord(s[i]) {
			continue
		}
		for _, k := range cands {
			ph := p.list[k]
			j := i + len(ph)
			if j <= len(s) && s[i:j] == ph && (j == len(s) || !isWord(s[j-1]) || !isWord(s[j])) {
				if !f(i, ph) {
					return
				}
			}
		}
	}
}

func isWord(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c >= 0x80 }
