package classify

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxKeywords bounds the keywords of one classifier, so that the set of
// matches fits a fixed bitset and matching never allocates.
const maxKeywords = 256

// maxPhraseWords bounds the words of one keyword phrase.
const maxPhraseWords = 8

// keywords finds which of a fixed set of words and phrases occur in a text,
// matching whole words case-insensitively: "step by step" matches "Step
// by step," but not "stepping". Words are runs of letters and digits, so
// punctuation and hyphens separate words ("trade-off" is the phrase
// "trade off"). A match is presence only: a keyword repeated a hundred
// times counts once, so stuffing a prompt with keywords gains nothing over
// writing each once.
//
// Matching is one pass over the text: each word is lower-cased and hashed
// as it is read; a bloom filter on the last word of every phrase rejects
// almost every word before any table lookup.
type keywords struct {
	phrases []phrase
	// byLast maps the hash of a phrase's last word to the phrases ending
	// with it.
	byLast map[uint64][]int
	bloom  [64]uint64 // 4096 bits over byLast's keys
	shapes [64]uint64 // 4096 bits over the shapes of ASCII last words (see shapeBit)
	maxLen int        // words in the longest phrase
}

type phrase struct {
	text  string
	words []uint64 // hashes of the phrase's words, in order
}

// matches is the set of phrases found in one text, by index.
type matches [maxKeywords / 64]uint64

func (m *matches) set(i int)      { m[i/64] |= 1 << (i % 64) }
func (m *matches) has(i int) bool { return m[i/64]&(1<<(i%64)) != 0 }

// newKeywords compiles texts; it fails on a phrase without words or with
// more than maxPhraseWords, and on more than maxKeywords phrases.
func newKeywords(texts []string) (*keywords, error) {
	if len(texts) > maxKeywords {
		return nil, fmt.Errorf("at most %d keywords, got %d", maxKeywords, len(texts))
	}
	k := &keywords{byLast: map[uint64][]int{}}
	for i, t := range texts {
		var ws []uint64
		eachWord(t, func(h uint64) { ws = append(ws, h) })
		if len(ws) == 0 {
			return nil, fmt.Errorf("keyword %q has no letters or digits", t)
		}
		if len(ws) > maxPhraseWords {
			return nil, fmt.Errorf("keyword %q has more than %d words", t, maxPhraseWords)
		}
		last := ws[len(ws)-1]
		k.phrases = append(k.phrases, phrase{text: strings.ToLower(strings.TrimSpace(t)), words: ws})
		k.byLast[last] = append(k.byLast[last], i)
		k.bloom[(last>>6)&63] |= 1 << (last & 63)
		if lw := lastWord(t); isASCII(lw) {
			b := shapeBit(len(lw), fold[lw[0]], fold[lw[len(lw)-1]])
			k.shapes[b/64] |= 1 << (b % 64)
		}
		k.maxLen = max(k.maxLen, len(ws))
	}
	return k, nil
}

// find returns the set of phrases occurring in text.
//
// Most words are rejected by their shape alone: a pure-ASCII word is
// hashed only when its (length, first, last letter) key is in the bloom
// filter of the phrases' last words, so the common path costs a table
// lookup per byte. A word with a non-ASCII byte is always hashed, since
// lower-casing may change its bytes.
func (k *keywords) find(text string) matches {
	var (
		m    matches
		ring [maxPhraseWords]span // the last words, ring[n%len] the newest
		n    int                  // words read
	)
	if len(k.phrases) == 0 {
		return m
	}
	for i := 0; i < len(text); {
		// Skip ASCII separators.
		for i < len(text) && text[i] < utf8.RuneSelf && fold[text[i]] == 0 {
			i++
		}
		start, ascii := i, true
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if fold[c] == 0 {
					break
				}
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if !wordRune(r) {
				break
			}
			i += size
			ascii = false
		}
		if i == start {
			// A non-ASCII separator.
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		w := span{start, i, ascii}
		ring[n%maxPhraseWords] = w
		n++
		if k.maybeLast(text, w) {
			k.match(text, &ring, n, &m)
		}
	}
	return m
}

// span is a word of a text: text[start:end], ascii when every byte is.
type span struct {
	start, end int
	ascii      bool
}

// shapeBit is the bloom filter bit of an ASCII word's shape: its length
// and its first and last bytes, lower-cased.
func shapeBit(n int, first, last byte) uint {
	return (uint(n)*131 + uint(first)*31 + uint(last)) & 4095
}

// maybeLast reports whether w may be the last word of a phrase.
func (k *keywords) maybeLast(text string, w span) bool {
	if !w.ascii {
		return true
	}
	b := shapeBit(w.end-w.start, fold[text[w.start]], fold[text[w.end-1]])
	return k.shapes[b/64]&(1<<(b%64)) != 0
}

// match marks the phrases ending with the newest of the n words in ring.
func (k *keywords) match(text string, ring *[maxPhraseWords]span, n int, m *matches) {
	last := ring[(n-1)%maxPhraseWords]
	h := hashWord(text[last.start:last.end])
	if k.bloom[(h>>6)&63]&(1<<(h&63)) == 0 {
		return
	}
	for _, pi := range k.byLast[h] {
		p := &k.phrases[pi]
		if len(p.words) > n || m.has(pi) {
			continue
		}
		ok := true
		for j := len(p.words) - 2; j >= 0 && ok; j-- {
			w := ring[(n-len(p.words)+j)%maxPhraseWords]
			ok = hashWord(text[w.start:w.end]) == p.words[j]
		}
		if ok {
			m.set(pi)
		}
	}
}

// hashWord returns the hash of one word, lower-cased.
func hashWord(w string) uint64 {
	var h uint64
	eachWord(w, func(x uint64) { h = x })
	return h
}

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fold maps an ASCII byte to itself lower-cased when it is a letter or
// digit, and to 0 when it separates words.
var fold = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	return t
}()

// eachWord calls f with the hash of each lower-cased word of text. A word
// is a maximal run of letters, digits and combining marks.
func eachWord(text string, f func(uint64)) {
	h, in := uint64(fnvOffset), false
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			i++
			if l := fold[c]; l != 0 {
				h = (h ^ uint64(l)) * fnvPrime
				in = true
			} else if in {
				f(h)
				h, in = fnvOffset, false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !wordRune(r) {
			if in {
				f(h)
				h, in = fnvOffset, false
			}
			continue
		}
		var buf [utf8.UTFMax]byte
		for _, b := range buf[:utf8.EncodeRune(buf[:], unicode.ToLower(r))] {
			h = (h ^ uint64(b)) * fnvPrime
		}
		in = true
	}
	if in {
		f(h)
	}
}

// lastWord returns the last word of t (see eachWord), as written.
func lastWord(t string) string {
	end := -1
	for i := len(t); i > 0; {
		r, size := utf8.DecodeLastRuneInString(t[:i])
		word := r < utf8.RuneSelf && fold[r] != 0 || r >= utf8.RuneSelf && wordRune(r)
		switch {
		case word && end < 0:
			end = i
		case !word && end >= 0:
			return t[i:end]
		}
		i -= size
	}
	if end < 0 {
		return ""
	}
	return t[:end]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
