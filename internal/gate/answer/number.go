package answer

import (
	"math"
	"strconv"
	"strings"
)

// Number is a number as written in an answer.
type Number struct {
	Value float64
	// Percent is true when a % sign followed it; Value is then the number
	// as written (15 for "15%").
	Percent bool
	// Decimals is the count of digits written after the decimal point.
	Decimals int
	// Start and End delimit the number in the scanned text, sign,
	// currency sign and percent sign included.
	Start, End int
}

// scanNumber reads a number starting at s[i], which must be a digit or a
// '.' followed by a digit. Thousands separators are accepted as commas
// followed by exactly three digits ("1,234,567"); a decimal part follows
// a '.'; a '%' directly after it (or after one space) marks a percentage.
// It returns the number and the index just past it.
func scanNumber(s string, i int) (Number, int, bool) {
	start := i
	var b [64]byte
	buf := b[:0]
	intDigits := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			buf = append(buf, c)
			intDigits++
			i++
			continue
		case c == ',' && intDigits > 0 && threeDigits(s, i+1):
			i++
			continue
		}
		break
	}
	dec := 0
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		buf = append(buf, '.')
		i++
		for i < len(s) && isDigit(s[i]) {
			buf = append(buf, s[i])
			dec++
			i++
		}
	}
	if intDigits == 0 && dec == 0 {
		return Number{}, start, false
	}
	var v float64
	if dec == 0 && intDigits <= 15 {
		// Integers below 2^53 convert exactly without ParseFloat.
		var n int64
		for _, c := range buf {
			n = n*10 + int64(c-'0')
		}
		v = float64(n)
	} else {
		var err error
		if v, err = strconv.ParseFloat(string(buf), 64); err != nil {
			return Number{}, start, false
		}
	}
	n := Number{Value: v, Decimals: dec, Start: start}
	if i < len(s) && s[i] == '%' {
		n.Percent = true
		i++
	} else if i+1 < len(s) && s[i] == ' ' && s[i+1] == '%' {
		n.Percent = true
		i += 2
	}
	n.End = i
	return n, i, true
}

// threeDigits reports whether s[i:i+3] are digits not followed by a
// fourth digit: the group after a thousands separator.
func threeDigits(s string, i int) bool {
	if i+3 > len(s) {
		return false
	}
	if !isDigit(s[i]) || !isDigit(s[i+1]) || !isDigit(s[i+2]) {
		return false
	}
	return i+3 == len(s) || !isDigit(s[i+3])
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Numbers returns the numbers written in s, in order. A '-' directly
// before a number that does not follow a letter, digit or closing bracket
// makes it negative; currency signs ($ € £) are skipped. A number glued to
// letters on its left ("x2", "mp3") is not a number.
func Numbers(s string) []Number {
	var out []Number
	eachNumber(s, func(n Number) { out = append(out, n) })
	return out
}

// CountNumbers returns len(Numbers(s)) without building the list.
func CountNumbers(s string) int {
	n := 0
	eachNumber(s, func(Number) { n++ })
	return n
}

// LastNumber returns the last of Numbers(s), and whether there is one.
func LastNumber(s string) (Number, bool) {
	var last Number
	found := false
	eachNumber(s, func(n Number) { last, found = n, true })
	return last, found
}

func eachNumber(s string, f func(Number)) {
	for i := 0; i < len(s); {
		c := s[i]
		if !(isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1])) {
			i++
			continue
		}
		if i > 0 && (isLetter(s[i-1]) || s[i-1] == '_') {
			for i++; i < len(s) && (isDigit(s[i]) || isLetter(s[i])); {
				i++
			}
			continue
		}
		n, end, ok := scanNumber(s, i)
		if !ok {
			i++
			continue
		}
		j := skipCurrency(s, i)
		if j > 0 && s[j-1] == '-' && (j == 1 || !(isDigit(s[j-2]) || isLetter(s[j-2]) || s[j-2] == ')')) {
			n.Value, n.Start = -n.Value, j-1
		}
		f(n)
		i = end
	}
}

// ParseNumber reads s as one number: "70000", "-3.5", "$1,234.50",
// "15%", "1/2", with surrounding space, a trailing full stop and currency
// signs ignored. Percent signs are dropped (15% reads as 15).
func ParseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, ".")
	s = strings.NewReplacer("$", "", "€", "", "£", "", "−", "-").Replace(s)
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, strings.TrimSpace(s[1:])
	}
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, ok1 := ParseNumber(a)
		y, ok2 := ParseNumber(b)
		if !ok1 || !ok2 || y == 0 || strings.Contains(a, "-") || strings.Contains(b, "-") {
			return 0, false
		}
		if neg {
			x = -x
		}
		return x / y, true
	}
	if s == "" || !(isDigit(s[0]) || s[0] == '.') {
		return 0, false
	}
	n, end, ok := scanNumber(s, 0)
	if !ok || end != len(s) {
		return 0, false
	}
	if neg {
		return -n.Value, true
	}
	return n.Value, true
}

// FormatNumber writes v in the canonical form final answers are compared
// in: no exponent, no trailing zeros, no thousands separators ("70000",
// "2.5", "-3"); values within 1e-9 of an integer are written as that
// integer.
func FormatNumber(v float64) string {
	if math.Abs(v) < 1e15 {
		if r := math.Round(v); math.Abs(v-r) < 1e-9 {
			return strconv.FormatInt(int64(r), 10)
		}
		s := strconv.FormatFloat(v, 'f', 9, 64)
		return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// skipCurrency returns the index before the currency signs ($ € £) that
// end s[:i].
func skipCurrency(s string, i int) int {
	for {
		switch {
		case i > 0 && s[i-1] == '$':
			i--
		case strings.HasSuffix(s[:i], "€"):
			i -= len("€")
		case strings.HasSuffix(s[:i], "£"):
			i -= len("£")
		default:
			return i
		}
	}
}
