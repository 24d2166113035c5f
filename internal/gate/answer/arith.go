package answer

import (
	"fmt"
	"math"
	"strings"
	"sync"
)

// Arithmetic is the result of recomputing the arithmetic steps of a worked
// solution.
type Arithmetic struct {
	// Steps is the number of distinct steps found: equalities with an
	// operator on at least one side ("3 * 4 = 12", "<<80000+50000=130000>>").
	Steps int
	// Wrong is how many of them do not hold.
	Wrong int
	// Errors describes up to three wrong steps: "2+2=5 (is 4)".
	Errors []string
}

// Share returns the share of steps that are wrong, 0 when there are none.
func (a Arithmetic) Share() float64 {
	if a.Steps == 0 {
		return 0
	}
	return float64(a.Wrong) / float64(a.Steps)
}

// DefaultTolerance is the relative tolerance of CheckArithmetic.
const DefaultTolerance = 1e-3

// CheckArithmetic finds the arithmetic steps in text and recomputes them.
//
// Steps are written two ways, both recognised: GSM8K's calculator
// annotations "<<48/2=24>>", and plain text "48 / 2 = 24", including
// chains ("2 + 1/2 = 5/2 = 2.5"). Operands are numbers with optional
// thousands separators, decimals, a currency sign before ($ € £) and a
// percent sign after; operators are + - * / ^ ×  ÷ · − and a lone x
// between numbers; parentheses group. "≈" is an equality with a 2%
// tolerance.
//
// The expression on each side of "=" is the longest arithmetic expression
// touching it: "he runs 9 * 60 = 540 meters" checks 9*60 = 540. Words
// break expressions, so "60 meters * 9 = 540" is not a step (9 = 540 has
// no operator), which keeps unit-laden text from producing false errors.
//
// A step holds when the two sides agree within tol (relative; 0 means
// DefaultTolerance), or within the rounding of the number written on the
// right (10/3 = 3.33 holds), with percent signs read as /100 or ignored
// (both 0.25 * 100 = 25% and 20% * 50 = 10 hold). A sloppy continuation
// "3 * 4 = 12 + 1 = 13" holds when the left side equals the first
// number of the right. An annotation is checked on its own: the text
// around it forms separate expressions. A step written twice counts once.
func CheckArithmetic(text string, tol float64) Arithmetic {
	if tol <= 0 {
		tol = DefaultTolerance
	}
	var a Arithmetic
	var seen map[uint64]bool
	buf := tokenPool.Get().(*[]token)
	defer func() {
		if cap(*buf) <= 4096 {
			tokenPool.Put(buf)
		}
	}()
	toks := (*buf)[:0]
	check := func(l, r []token, approx bool) {
		if !hasOp(l) && !hasOp(r) {
			return
		}
		lv, lok := eval(l, true)
		rv, rok := eval(r, true)
		if !lok || !rok {
			return
		}
		key := stepKey(l, r)
		if seen[key] {
			return
		}
		if seen == nil {
			seen = map[uint64]bool{}
		}
		seen[key] = true
		a.Steps++
		if agree(l, r, lv, rv, tol, approx) {
			return
		}
		a.Wrong++
		if len(a.Errors) < 3 {
			var sb strings.Builder
			render(&sb, l)
			sb.WriteByte('=')
			render(&sb, r)
			a.Errors = append(a.Errors, fmt.Sprintf("%s (is %s)", sb.String(), FormatNumber(lv)))
		}
	}
	toks = tokenize(text, toks[:0])
	*buf = toks
	steps(toks, check)
	return a
}

// tokenPool recycles token slices between calls.
var tokenPool = sync.Pool{New: func() any { s := make([]token, 0, 256); return &s }}

// agree reports whether a step with sides l and r (values lv, rv, percent
// read as /100) holds.
func agree(l, r []token, lv, rv, tol float64, approx bool) bool {
	if approx {
		tol = max(tol, 0.02)
	}
	if close(lv, rv, r, tol) {
		return true
	}
	// Percent signs as mere units.
	lp, lok := eval(l, false)
	rp, rok := eval(r, false)
	if lok && rok && (close(lp, rp, r, tol) || close(lv, rp, r, tol) || close(lp, rv, r, tol)) {
		return true
	}
	// "3 * 4 = 12 + 1 = 13": the left side equals the right's first number.
	if len(r) > 1 && r[0].kind == tNum && hasOp(r) {
		if close(lv, r[0].num.Value, r[:1], tol) || close(lv, r[0].num.Value/100, r[:1], tol) {
			return true
		}
	}
	return false
}

// close reports whether x equals y, the value of r, within tol or within
// the rounding of r when r is one number.
func close(x, y float64, r []token, tol float64) bool {
	d := math.Abs(x - y)
	if d <= tol*math.Max(math.Abs(x), math.Abs(y)) || d < 1e-9 {
		return true
	}
	if len(r) == 1 && r[0].kind == tNum {
		unit := 0.5 * math.Pow(10, -float64(r[0].num.Decimals))
		if r[0].num.Percent {
			unit /= 100
			if y == r[0].num.Value { // percent read as unit
				unit *= 100
			}
		}
		return d < unit*(1-1e-9)
	}
	return false
}

// Token kinds.
const (
	tNum = iota
	tOp
	tOpen
	tClose
	tEq
	tApprox
	tBreak
	// tCut ends a run like tBreak, but in the middle of an operand: a
	// number glued to letters ("2x", "60m") or followed by another
	// number ("400 000"). The sides touching it are not checked.
	tCut
)

type token struct {
	kind int
	op   byte // + - * / ^ for tOp
	num  Number
	// frac is true for a fraction written tight ("48/2"), read as one
	// operand so that "1 1/2 / 1/2" is 3; it still counts as an operation.
	frac bool
	den  float64
}

// tokenize turns text into arithmetic tokens: numbers, operators,
// brackets, equalities, and breaks for everything else (words, line
// ends, punctuation). GSM8K annotations "<<e=r>>" are emitted between
// breaks, so they are checked on their own and do not join the text
// around them.
func tokenize(s string, toks []token) []token {
	brk := func() {
		if len(toks) > 0 && toks[len(toks)-1].kind != tBreak && toks[len(toks)-1].kind != tCut {
			toks = append(toks, token{kind: tBreak})
		}
	}
	cut := func() {
		if len(toks) > 0 && toks[len(toks)-1].kind == tBreak {
			toks[len(toks)-1].kind = tCut
		} else if len(toks) > 0 && toks[len(toks)-1].kind != tCut {
			toks = append(toks, token{kind: tCut})
		}
	}
	lastKind := func() int {
		if len(toks) == 0 {
			return tBreak
		}
		return toks[len(toks)-1].kind
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '$':
			i++
		case c == '<' && strings.HasPrefix(s[i:], "<<"):
			end := strings.Index(s[i+2:], ">>")
			if end < 0 || end > 200 {
				brk()
				i += 2
				continue
			}
			brk()
			toks = tokenize(s[i+2:i+2+end], toks)
			brk()
			i += 2 + end + 2
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			if i > 0 && (isLetter(s[i-1]) || s[i-1] == '_') && lastKind() != tOp {
				cut()
				for i++; i < len(s) && (isDigit(s[i]) || isLetter(s[i])); {
					i++
				}
				continue
			}
			n, end, ok := scanNumber(s, i)
			if !ok {
				brk()
				i++
				continue
			}
			if lastKind() == tNum {
				if m, e, ok := mixed(toks[len(toks)-1].num, s, n, end); ok {
					toks[len(toks)-1].num = m // "3 1/2"
					i = e
					continue
				}
				cut() // two numbers in a row: "400 000", "1 3 + 4"
			}
			t := token{kind: tNum, num: n}
			if d, e, ok := tightDenominator(s, n, end); ok {
				t.num.Value /= d.Value
				t.num.Decimals, t.num.End, t.frac, t.den = 9, e, true, d.Value
				end = e
			}
			toks = append(toks, t)
			i = end
			if i < len(s) && isLetter(s[i]) && !(s[i] == 'x' && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == ' ')) {
				cut() // "60m", "2x": a unit or a variable
			}
		case c == '+' || c == '*' || c == '/' || c == '^' || c == '-':
			if c == '*' && i+1 < len(s) && s[i+1] == '*' {
				toks = append(toks, token{kind: tOp, op: '^'})
				i += 2
				continue
			}
			if c == '-' && i+1 < len(s) && s[i+1] == '-' {
				brk()
				i += 2
				continue
			}
			toks = append(toks, token{kind: tOp, op: c})
			i++
		case c == 'x' || c == 'X':
			// x between numbers multiplies: "3 x 4", "3x4".
			prev := lastKind()
			j := i + 1
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if (prev == tNum || prev == tClose) && (i+1 == len(s) || !isLetter(s[i+1])) && j < len(s) && (isDigit(s[j]) || s[j] == '(' || s[j] == '$') {
				toks = append(toks, token{kind: tOp, op: '*'})
				i++
				continue
			}
			if prev == tClose && i > 0 && s[i-1] == ')' {
				cut() // "(5/2)x"
			} else {
				brk()
			}
			for i < len(s) && isLetter(s[i]) {
				i++
			}
		case c == '\\':
			// Markdown and LaTeX: "\*", "\times", "\cdot", "\div".
			switch {
			case strings.HasPrefix(s[i:], `\*`):
				toks = append(toks, token{kind: tOp, op: '*'})
				i += 2
			case strings.HasPrefix(s[i:], `\times`), strings.HasPrefix(s[i:], `\cdot`):
				toks = append(toks, token{kind: tOp, op: '*'})
				i += 5 + boolInt(s[i+1] == 't')
			case strings.HasPrefix(s[i:], `\div`):
				toks = append(toks, token{kind: tOp, op: '/'})
				i += 4
			case strings.HasPrefix(s[i:], `\$`), strings.HasPrefix(s[i:], `\(`), strings.HasPrefix(s[i:], `\)`),
				strings.HasPrefix(s[i:], `\[`), strings.HasPrefix(s[i:], `\]`), strings.HasPrefix(s[i:], `\,`):
				i += 2 // math delimiters and thin spaces
			default:
				brk()
				i++
			}
		case c == '(':
			if k := lastKind(); k == tNum || k == tClose {
				toks = append(toks, token{kind: tOp, op: '*'}) // "2(3)"
			}
			toks = append(toks, token{kind: tOpen})
			i++
		case c == ')':
			toks = append(toks, token{kind: tClose})
			i++
		case c == '=':
			if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '>') {
				brk()
				i += 2
				continue
			}
			toks = append(toks, token{kind: tEq})
			i++
		case c >= 0x80:
			r, size := decodeRune(s[i:])
			switch r {
			case '×', '·', '⋅', '∗':
				toks = append(toks, token{kind: tOp, op: '*'})
			case '÷', '∕':
				toks = append(toks, token{kind: tOp, op: '/'})
			case '−', '–':
				toks = append(toks, token{kind: tOp, op: '-'})
			case '≈':
				toks = append(toks, token{kind: tApprox})
			case '€', '£', '\u00a0', '\u202f':
			case '¼', '½', '¾', '⅓', '⅔', '⅛', '⅜', '⅝', '⅞', '⅕':
				v := vulgar[r]
				if lastKind() == tNum && toks[len(toks)-1].num.Decimals == 0 && toks[len(toks)-1].num.End == i {
					toks[len(toks)-1].num.Value += v // "2½"
					toks[len(toks)-1].num.Decimals = 9
				} else {
					if lastKind() == tNum {
						cut()
					}
					toks = append(toks, token{kind: tNum, num: Number{Value: v, Decimals: 9, Start: i, End: i + size}})
				}
			default:
				brk()
			}
			i += size
		case isLetter(c):
			if i > 0 && s[i-1] == ')' {
				cut()
			} else {
				brk()
			}
			for i < len(s) && isLetter(s[i]) {
				i++
			}
		default:
			brk()
			i++
		}
	}
	brk()
	return toks
}

// maxSide bounds the tokens of one side of a step: longer runs are not
// worked solutions, and the bound keeps the suffix search linear.
const maxSide = 48

// steps calls check for every equality in toks: runs between breaks are
// split at equalities into sides; each side is the longest expression
// touching its equality sign.
func steps(toks []token, check func(l, r []token, approx bool)) {
	start := 0
	cutBefore := false
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].kind != tBreak && toks[i].kind != tCut {
			continue
		}
		run := toks[start:i]
		start = i + 1
		cutAfter := i < len(toks) && toks[i].kind == tCut
		cb := cutBefore
		cutBefore = cutAfter
		var segs [][]token
		var approx []bool
		s := 0
		for j := 0; j <= len(run); j++ {
			if j == len(run) || run[j].kind == tEq || run[j].kind == tApprox {
				segs = append(segs, run[s:j])
				if j < len(run) {
					approx = append(approx, run[j].kind == tApprox)
				}
				s = j + 1
			}
		}
		if len(segs) < 2 {
			continue
		}
		left := longestSuffix(segs[0])
		for k := 1; k < len(segs); k++ {
			right := longestPrefix(segs[k])
			// A side cut off at an operator ("meters * 9 = 540": 9 is not
			// the whole left side) is not checked.
			// "20% of 50 = 0.2 * 50": a lone number opening a chain is
			// usually the end of a phrase, not an equation's side.
			lone := k == 1 && len(left) == 1 && !left[0].frac
			whole := !lone && len(left) > 0 && len(right) > 0 && !dangling(segs[k-1], len(segs[k-1])-len(left)-1) &&
				!dangling(segs[k], len(right)) &&
				!(cb && k == 1 && len(left) == len(segs[0])) &&
				!(cutAfter && k == len(segs)-1 && len(right) == len(segs[k]))
			if whole {
				check(left, right, approx[k-1])
			}
			if len(right) == len(segs[k]) {
				left = right
			} else {
				left = longestSuffix(segs[k])
			}
		}
	}
}

// dangling reports whether seg[i] is an operator or bracket that the
// side next to it left out.
func dangling(seg []token, i int) bool {
	return i >= 0 && i < len(seg) && seg[i].kind != tNum
}

// mixed reads a mixed number: whole (an integer) followed by n, a
// numerator, "/" and a denominator larger than it ("3 1/2"). It returns
// the number and the index past the denominator.
func mixed(whole Number, s string, n Number, end int) (Number, int, bool) {
	if whole.Decimals > 0 || whole.Percent || n.Decimals > 0 || n.Percent || whole.End+1 != n.Start ||
		end+1 >= len(s) || s[end] != '/' || !isDigit(s[end+1]) {
		return Number{}, 0, false
	}
	d, e, ok := scanNumber(s, end+1)
	if !ok || d.Decimals > 0 || d.Percent || d.Value <= n.Value || e < len(s) && (isLetter(s[e]) || s[e] == '/') {
		return Number{}, 0, false
	}
	v := whole.Value + n.Value/d.Value
	if whole.Value < 0 {
		v = whole.Value - n.Value/d.Value
	}
	return Number{Value: v, Decimals: 3, Start: whole.Start, End: e}, e, true
}

func longestSuffix(seg []token) []token {
	if len(seg) > maxSide {
		seg = seg[len(seg)-maxSide:]
	}
	for i := 0; i < len(seg); i++ {
		if p := parse(seg[i:]); p == len(seg)-i {
			return seg[i:]
		}
	}
	return nil
}

func longestPrefix(seg []token) []token {
	if len(seg) > maxSide {
		seg = seg[:maxSide]
	}
	return seg[:parse(seg)]
}

// vulgar are the values of the vulgar fraction characters.
var vulgar = map[rune]float64{'¼': 0.25, '½': 0.5, '¾': 0.75, '⅓': 1.0 / 3, '⅔': 2.0 / 3, '⅛': 0.125, '⅜': 0.375, '⅝': 0.625, '⅞': 0.875, '⅕': 0.2}

// tightDenominator reads the denominator of a fraction written without
// spaces after the integer n ending at end: "48/2". It returns the
// denominator and the index past it.
func tightDenominator(s string, n Number, end int) (Number, int, bool) {
	if n.Decimals > 0 || n.Percent || end+1 >= len(s) || s[end] != '/' || !isDigit(s[end+1]) {
		return Number{}, 0, false
	}
	d, e, ok := scanNumber(s, end+1)
	if !ok || d.Decimals > 0 || d.Percent || d.Value == 0 || e < len(s) && (isLetter(s[e]) || s[e] == '/') {
		return Number{}, 0, false
	}
	return d, e, true
}

func hasOp(ts []token) bool {
	for i, t := range ts {
		if t.frac {
			return true
		}
		// A leading minus is a sign, not an operation.
		if t.kind == tOp && !(t.op == '-' && (i == 0 || ts[i-1].kind == tOp || ts[i-1].kind == tOpen)) {
			return true
		}
	}
	return false
}

// stepKey hashes a step's tokens (FNV-1a over kinds, operators and
// values), so that a step written twice counts once.
func stepKey(l, r []token) uint64 {
	h := uint64(14695981039346656037)
	mix := func(x uint64) {
		for i := 0; i < 8; i++ {
			h = (h ^ (x & 0xff)) * 1099511628211
			x >>= 8
		}
	}
	for _, side := range [2][]token{l, r} {
		for _, t := range side {
			mix(uint64(t.kind)<<8 | uint64(t.op) | uint64(boolInt(t.num.Percent))<<16 | uint64(boolInt(t.frac))<<17)
			if t.kind == tNum {
				mix(math.Float64bits(t.num.Value))
			}
		}
		mix(0xffff)
	}
	return h
}

func render(sb *strings.Builder, ts []token) {
	for _, t := range ts {
		switch t.kind {
		case tNum:
			if t.frac {
				sb.WriteString(FormatNumber(t.num.Value * t.den))
				sb.WriteByte('/')
				sb.WriteString(FormatNumber(t.den))
			} else {
				sb.WriteString(FormatNumber(t.num.Value))
			}
			if t.num.Percent {
				sb.WriteByte('%')
			}
		case tOp:
			sb.WriteByte(t.op)
		case tOpen:
			sb.WriteByte('(')
		case tClose:
			sb.WriteByte(')')
		}
	}
}

// parse returns how many tokens of ts form the longest valid expression
// at its start (0 when none).
func parse(ts []token) int {
	p := parser{ts: ts, pct: true}
	if !p.expr() {
		return 0
	}
	return p.pos
}

// eval evaluates ts, which must be one whole expression; pct reads
// percent signs as /100.
func eval(ts []token, pct bool) (float64, bool) {
	p := parser{ts: ts, pct: pct}
	if !p.expr() || p.pos != len(ts) || p.bad || math.IsNaN(p.val) || math.IsInf(p.val, 0) {
		return 0, false
	}
	return p.val, true
}

// parser is a recursive-descent parser over tokens with the usual
// precedence (^ binds tightest and to the right; unary minus; * /; + -).
// On a dangling operator it stops before it, so parse finds the longest
// valid prefix.
type parser struct {
	ts    []token
	pos   int
	val   float64
	pct   bool
	depth int
	bad   bool // division by zero
}

func (p *parser) peekOp(ops string) (byte, bool) {
	if p.pos < len(p.ts) && p.ts[p.pos].kind == tOp && strings.IndexByte(ops, p.ts[p.pos].op) >= 0 {
		return p.ts[p.pos].op, true
	}
	return 0, false
}

func (p *parser) expr() bool {
	if !p.term() {
		return false
	}
	acc := p.val
	for {
		op, ok := p.peekOp("+-")
		if !ok {
			break
		}
		save := p.pos
		p.pos++
		if !p.term() {
			p.pos = save
			break
		}
		if op == '+' {
			acc += p.val
		} else {
			acc -= p.val
		}
	}
	p.val = acc
	return true
}

func (p *parser) term() bool {
	if !p.unary() {
		return false
	}
	acc := p.val
	for {
		op, ok := p.peekOp("*/")
		if !ok {
			break
		}
		save := p.pos
		p.pos++
		if !p.unary() {
			p.pos = save
			break
		}
		if op == '*' {
			acc *= p.val
		} else {
			if p.val == 0 {
				p.bad = true
			}
			acc /= p.val
		}
	}
	p.val = acc
	return true
}

func (p *parser) unary() bool {
	if _, ok := p.peekOp("-"); ok {
		save := p.pos
		p.pos++
		if !p.unary() {
			p.pos = save
			return false
		}
		p.val = -p.val
		return true
	}
	return p.power()
}

func (p *parser) power() bool {
	if !p.primary() {
		return false
	}
	base := p.val
	if _, ok := p.peekOp("^"); ok {
		save := p.pos
		p.pos++
		if !p.unary() {
			p.pos = save
			p.val = base
			return true
		}
		p.val = math.Pow(base, p.val)
	}
	return true
}

func (p *parser) primary() bool {
	if p.pos >= len(p.ts) {
		return false
	}
	t := p.ts[p.pos]
	switch t.kind {
	case tNum:
		p.pos++
		p.val = t.num.Value
		if t.num.Percent && p.pct {
			p.val /= 100
		}
		return true
	case tOpen:
		if p.depth > 32 {
			return false
		}
		save := p.pos
		p.pos++
		p.depth++
		ok := p.expr()
		p.depth--
		if !ok || p.pos >= len(p.ts) || p.ts[p.pos].kind != tClose {
			p.pos = save
			return false
		}
		p.pos++
		return true
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
