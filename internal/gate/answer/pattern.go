package answer

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Pattern is a regular expression (Go RE2 syntax) with a fast path: when
// every match must contain some literal text, a text without it is
// rejected by a substring search instead of running the regular
// expression, which costs about 10 ns per byte for patterns without a
// literal prefix ((?i)..., (?m)^...). Immutable and safe for concurrent
// use.
type Pattern struct {
	re *regexp.Regexp
	// need is a literal every match contains ("" when none is known);
	// fold says it is lower-case ASCII to look for in Lower of the text.
	need string
	fold bool
}

// CompilePattern compiles expr.
func CompilePattern(expr string) (*Pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	p := &Pattern{re: re}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		p.need, p.fold = required(tree.Simplify())
	}
	return p, nil
}

// String returns the source text of the pattern.
func (p *Pattern) String() string { return p.re.String() }

// Find returns the first match in text, and whether there is one. lower
// must be Lower(text), or "" to have it computed when needed.
func (p *Pattern) Find(text, lower string) (string, bool) {
	if p.need != "" {
		if p.fold {
			if lower == "" {
				lower = Lower(text)
			}
			if !strings.Contains(lower, p.need) {
				return "", false
			}
		} else if !strings.Contains(text, p.need) {
			return "", false
		}
	}
	loc := p.re.FindStringIndex(text)
	if loc == nil {
		return "", false
	}
	return text[loc[0]:loc[1]], true
}

// required returns the longest literal that every match of re contains,
// and whether it is case-folded (then lower-case ASCII).
func required(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase == 0 {
			return s, false
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return "", false
			}
		}
		// Lower folds the non-ASCII runes that (?i) matches with ASCII
		// letters (the Kelvin sign, the long s) onto them, so a match
		// always leaves the literal in Lower of the text.
		return strings.ToLower(s), true
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		best, fold := "", false
		for _, sub := range re.Sub {
			if s, f := required(sub); len(s) > len(best) {
				best, fold = s, f
			}
		}
		return best, fold
	}
	return "", false
}
