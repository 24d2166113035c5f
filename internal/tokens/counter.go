package tokens

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// Token counting.
//
// Counts are exact for OpenAI's cl100k_base vocabulary, the one the
// tiktoken-go tokenizer ships, and an estimate for every other model family.
// The library's own Count splits text with a backtracking regular expression
// and allocates for every token (about 10 MB/s), too slow to run on every
// request before routing. Counter does the same work without allocating: it
// pre-tokenizes with a hand-written scanner that reproduces cl100k's split
// pattern, looks each piece up in a rank table taken from the library once,
// and merges the pieces that are not whole tokens with byte-pair encoding. Pieces of mergeLimit bytes or more (long runs of letters without
// spaces, such as base64) are handed to the library. A differential test and
// fuzzer hold Counter to the library's counts, quirks included.
//
// Cost: the first count builds the rank table (100k entries, about 7 MB of
// heap and some tens of milliseconds, once per process; call Tokenizer at
// startup to pay it there). After that a count allocates nothing and runs
// at about 100 MB/s on English prose and code, ten times the library, and
// 20-30 MB/s on Cyrillic or Chinese, whose words are rarely whole tokens
// and need merging (twice the library); see BenchmarkCounter.

const (
	// mergeLimit is the piece length from which BPE merging is left to
	// the library, whose merge is O(n log n) where ours is O(n^2).
	mergeLimit = 96
	noRank     = ^uint32(0)
)

// Counter counts cl100k_base tokens. It is safe for concurrent use.
type Counter struct {
	ranks map[string]uint32
	lib   tokenizer.Codec
}

var cl100k = sync.OnceValue(func() *Counter {
	lib, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		// The vocabulary is compiled into the binary; this is a build
		// defect, not a runtime condition.
		panic("tokens: cl100k_base unavailable: " + err.Error())
	}
	// A second codec (they share the vocabulary) reads the ranks back by
	// decoding every id; its reverse table is garbage once we are done.
	dec, _ := tokenizer.Get(tokenizer.Cl100kBase)
	ranks := make(map[string]uint32, 100_300)
	ids := []uint{0}
	for id := uint(0); id < 100_400; id++ {
		ids[0] = id
		tok, err := dec.Decode(ids)
		if err != nil {
			continue // a hole in the id space, or a special token
		}
		ranks[tok] = uint32(id)
	}
	return &Counter{ranks: ranks, lib: lib}
})

// Tokenizer returns the process-wide cl100k_base counter, building it on
// first use.
func Tokenizer() *Counter { return cl100k() }

// Count returns the number of cl100k_base tokens in text. Invalid UTF-8 is
// counted as the library counts it: each invalid byte as U+FFFD.
func (c *Counter) Count(text string) int {
	if !utf8.ValidString(text) {
		text = replaceInvalid(text)
	}
	n := 0
	for i := 0; i < len(text); {
		if text[i] == 0x7f { // matched by no alternative: skipped
			i++
			continue
		}
		j := nextPiece(text, i)
		n += c.piece(text[i:j])
		i = j
	}
	return n
}

func (c *Counter) piece(p string) int {
	if _, ok := c.ranks[p]; ok {
		return 1
	}
	if len(p) >= mergeLimit {
		n, err := c.lib.Count(p)
		if err != nil {
			return (len(p) + 3) / 4
		}
		return n
	}
	return c.merge(p)
}

// merge returns how many tokens byte-pair encoding makes of p, a piece
// shorter than mergeLimit: starting from single bytes, it repeatedly merges
// the adjacent pair whose union has the lowest rank, leftmost first.
func (c *Counter) merge(p string) int {
	var start [mergeLimit + 1]int32 // part boundaries
	var rank [mergeLimit + 1]uint32 // rank of part i merged with part i+1
	m := len(p) + 1
	for i := range m {
		start[i] = int32(i)
		rank[i] = noRank
	}
	for i := 0; i+2 < m; i++ {
		rank[i] = c.pairRank(p, start[:m], i)
	}
	for m > 2 {
		best, at := noRank, -1
		for i := 0; i < m-2; i++ {
			if rank[i] < best {
				best, at = rank[i], i
			}
		}
		if at < 0 {
			break
		}
		copy(start[at+1:m-1], start[at+2:m])
		copy(rank[at+1:m-1], rank[at+2:m])
		m--
		rank[m-1] = noRank
		rank[at] = c.pairRank(p, start[:m], at)
		if at > 0 {
			rank[at-1] = c.pairRank(p, start[:m], at-1)
		}
	}
	return m - 1
}

func (c *Counter) pairRank(p string, start []int32, i int) uint32 {
	if i+2 >= len(start) {
		return noRank
	}
	if r, ok := c.ranks[p[start[i]:start[i+2]]]; ok {
		return r
	}
	return noRank
}

// replaceInvalid replaces every byte of an invalid UTF-8 sequence with
// U+FFFD, as converting a string to []rune does.
func replaceInvalid(s string) string {
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+w]...)
		}
		i += w
	}
	return string(b)
}

// Rune classes of the cl100k split pattern.
const (
	clOther  uint8 = iota // not a letter, number or space
	clLetter              // \p{L}
	clNumber              // \p{N}
	clSpace               // \s
	// clNone is DEL (U+007F), which the library's compiled split pattern
	// leaves out of every class (real tiktoken counts it as punctuation):
	// no alternative matches it, so it is skipped and counts no token. We
	// follow the library so that counts agree.
	clNone
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := range rune(utf8.RuneSelf) {
		t[r] = classOf(r)
	}
	t[0x7f] = clNone
	return t
}()

func classOf(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clLetter
	case unicode.IsNumber(r):
		return clNumber
	case unicode.IsSpace(r):
		return clSpace
	}
	return clOther
}

// runeAt decodes the rune at s[i] and its class.
func runeAt(s string, i int) (rune, int, uint8) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1, asciiClass[c]
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return r, w, classOf(r)
}

// nextPiece returns the end of the pre-token that starts at s[i]. It
// reproduces, alternative by alternative, cl100k_base's split pattern
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// as the library's compiled form of it behaves, quirks included (case
// folding lets 'ſ' match 's'; see clNone and the line-break case below). s
// must be valid UTF-8.
func nextPiece(s string, i int) int {
	if s[i] == '\'' {
		if n := contraction(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	r0, w0, cl0 := runeAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if cl0 == clLetter {
		return letters(s, i+w0)
	}
	if cl0 != clNumber && r0 != '\r' && r0 != '\n' && i+w0 < len(s) {
		if _, w1, cl1 := runeAt(s, i+w0); cl1 == clLetter {
			return letters(s, i+w0+w1)
		}
	}
	// \p{N}{1,3}
	if cl0 == clNumber {
		j := i + w0
		for k := 1; k < 3 && j < len(s); k++ {
			_, w, cl := runeAt(s, j)
			if cl != clNumber {
				break
			}
			j += w
		}
		return j
	}
	// ' '?[^\s\p{L}\p{N}]+[\r\n]*
	j := i
	if s[i] == ' ' {
		j++
	}
	k := j
	for k < len(s) {
		_, w, cl := runeAt(s, k)
		if cl != clOther {
			break
		}
		k += w
	}
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	// Whitespace: W is the maximal run of spaces from i.
	end, firstNL, lastStart := i, -1, i
	for end < len(s) {
		r, w, cl := runeAt(s, end)
		if cl != clSpace {
			break
		}
		if firstNL < 0 && (r == '\r' || r == '\n') {
			firstNL = end
		}
		lastStart = end
		end += w
	}
	switch {
	case firstNL >= 0:
		// \s*[\r\n]+. Backtracking \s* should stop at the last line
		// break of W (as real tiktoken does); the library's compiled
		// pattern stops at the first, and we follow it.
		k := firstNL
		for k < end && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	case end == len(s): // \s+(?!\S) at the end of the text
		return end
	case lastStart > i: // \s+(?!\S): leave the last space to the next word
		return lastStart
	}
	return end // \s+
}

func letters(s string, j int) int {
	for j < len(s) {
		_, w, cl := runeAt(s, j)
		if cl != clLetter {
			break
		}
		j += w
	}
	return j
}

// contraction returns the length of the contraction suffix ('s, 't, 're,
// 've, 'm, 'll, 'd, any case) that s starts with, or 0.
func contraction(s string) int {
	if s == "" {
		return 0
	}
	second := func(want byte) int {
		if len(s) >= 2 && s[1]|0x20 == want {
			return 2
		}
		return 0
	}
	switch s[0] {
	case 's', 'S', 't', 'T', 'm', 'M', 'd', 'D':
		return 1
	case 'r', 'R', 'v', 'V':
		return second('e')
	case 'l', 'L':
		return second('l')
	case 0xC5: // U+017F 'ſ', which folds to 's'
		if len(s) >= 2 && s[1] == 0xBF {
			return 2
		}
	}
	return 0
}
