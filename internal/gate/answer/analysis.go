package answer

import "sync"

// Analysis is the text analysis several gates need of one answer, each
// part computed once, on first use: the lower-cased text, the arithmetic
// check at DefaultTolerance and the final answer. Build it with Analyse;
// it is safe for concurrent use.
type Analysis struct {
	text string

	lowerOnce, arithOnce, finalOnce sync.Once
	lower                           string
	arith                           Arithmetic
	final, finalKind                string
}

// Analyse returns the (lazy) analysis of text.
func Analyse(text string) *Analysis { return &Analysis{text: text} }

// Text returns the text analysed.
func (an *Analysis) Text() string { return an.text }

// Lower returns Lower(text).
func (an *Analysis) Lower() string {
	an.lowerOnce.Do(func() { an.lower = Lower(an.text) })
	return an.lower
}

// Arithmetic returns CheckArithmetic(text, DefaultTolerance).
func (an *Analysis) Arithmetic() Arithmetic {
	an.arithOnce.Do(func() { an.arith = CheckArithmetic(an.text, DefaultTolerance) })
	return an.arith
}

// Final returns Final(text).
func (an *Analysis) Final() (string, string) {
	an.finalOnce.Do(func() { an.final, an.finalKind = Final(an.text) })
	return an.final, an.finalKind
}

// Stated reports whether the final answer is stated explicitly (####,
// \boxed{}, an answer marker), as HasFinal.
func (an *Analysis) Stated() bool {
	_, kind := an.Final()
	return kind == FinalHashes || kind == FinalBoxed || kind == FinalMarker
}
