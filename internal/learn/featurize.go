package learn

import (
	"fmt"
	"math"
	"slices"
)

// Featurizer says how an Example's text becomes hashed features. It is
// part of the model file, so a model is always served with the featurizer
// it was trained with.
//
// Text is read as bytes. A word is a maximal run of ASCII letters and
// digits and of non-ASCII bytes (so UTF-8 letters join words), with ASCII
// letters lower-cased; with Punct every other printable ASCII character
// is a one-byte token of its own. Tokens are hashed with FNV-1a (64 bit)
// and finished with the MurmurHash3 mixer into one of 2^Bits buckets;
// word n-grams up to Words are hashed from their tokens' hashes. Char
// n-grams (CharMin to CharMax bytes, lower-cased) are taken over the first
// CharPrefix bytes only, which bounds their cost on long prompts.
//
// Every occurrence of a feature adds Scale(n) to its bucket, n being the
// number of features the text produced, so a text's vector has about unit
// length whatever its size: Scale(n) = 1/sqrt(n).
type Featurizer struct {
	// Bits is log2 of the number of buckets, 8 to 24.
	Bits int `json:"bits"`
	// Words is the longest word n-gram: 0 (none), 1, 2 or 3.
	Words int `json:"words"`
	// Punct makes punctuation characters tokens.
	Punct bool `json:"punct,omitempty"`
	// Digits is how number tokens (all digits) are hashed: DigitsKeep as
	// written, DigitsShape as their length only ("####"), DigitsBoth as
	// both features (the n-grams use the shape).
	Digits int `json:"digits,omitempty"`
	// CharMin and CharMax bound the char n-grams; 0 turns them off.
	CharMin    int `json:"char_min,omitempty"`
	CharMax    int `json:"char_max,omitempty"`
	CharPrefix int `json:"char_prefix,omitempty"`
}

// Digits modes.
const (
	DigitsKeep  = 0
	DigitsShape = 1
	DigitsBoth  = 2
)

// DefaultFeaturizer is the featurizer Train uses when TrainOptions leaves
// it zero: word unigrams and bigrams with punctuation and number shapes,
// in 2^18 buckets (see the experiment notes in experiment_test.go).
var DefaultFeaturizer = Featurizer{Bits: 18, Words: 2, Punct: true, Digits: DigitsBoth}

func (f *Featurizer) validate() error {
	switch {
	case f.Bits < 8 || f.Bits > 24:
		return fmt.Errorf("featurizer: bits %d not in [8,24]", f.Bits)
	case f.Words < 0 || f.Words > 3:
		return fmt.Errorf("featurizer: words %d not in [0,3]", f.Words)
	case f.Digits < DigitsKeep || f.Digits > DigitsBoth:
		return fmt.Errorf("featurizer: digits %d not in [0,2]", f.Digits)
	case f.CharMin < 0 || f.CharMax < f.CharMin || f.CharMax > 8 || (f.CharMin == 0) != (f.CharMax == 0):
		return fmt.Errorf("featurizer: char n-grams [%d,%d] not within [1,8]", f.CharMin, f.CharMax)
	case f.CharPrefix < 0 || f.CharPrefix > 1<<16:
		return fmt.Errorf("featurizer: char_prefix %d not in [0,65536]", f.CharPrefix)
	}
	return nil
}

// Buckets is the number of hash buckets, 2^Bits.
func (f *Featurizer) Buckets() int { return 1 << f.Bits }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// Seeds separate the n-gram orders and char n-grams in hash space.
	seedBigram  = 0x9e3779b97f4a7c15
	seedTrigram = 0xc2b2ae3d27d4eb4f
	seedChar    = 0x165667b19e3779f9
	seedShape   = 0x27d4eb2f165667c5
)

// mix is MurmurHash3's 64-bit finalizer.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Byte classes, from byteClass.
const (
	classOther  = iota // space and control bytes
	classPunct         // printable ASCII punctuation
	classLetter        // ASCII letters and non-ASCII bytes
	classDigit
)

// byteClass and byteLower are lookup tables: one load per byte instead of
// a chain of comparisons.
var byteClass, byteLower = func() (c, l [256]byte) {
	for i := range 256 {
		b := byte(i)
		l[i] = b
		switch {
		case b >= 'A' && b <= 'Z':
			c[i], l[i] = classLetter, b+'a'-'A'
		case b >= 'a' && b <= 'z' || b >= 0x80:
			c[i] = classLetter
		case b >= '0' && b <= '9':
			c[i] = classDigit
		case b > ' ' && b < 0x7f:
			c[i] = classPunct
		}
	}
	return c, l
}()

// wordByte reports whether c belongs in a word.
func wordByte(c byte) bool { return byteClass[c] >= classLetter }

func lower(c byte) byte { return byteLower[c] }

// visit calls emit with the bucket of every feature of text, in order, and
// returns how many there were.
func (f *Featurizer) visit(text string, emit func(bucket uint32)) int {
	var h hasher
	h.reset(f, text)
	for bs := h.fill(); len(bs) > 0; bs = h.fill() {
		for _, b := range bs {
			emit(b)
		}
	}
	return h.n
}

// batchSize is about how many buckets hasher.fill returns at once.
const batchSize = 256

// hasher hashes one text's features, a batch at a time: the caller pulls
// batches with fill and loops over them itself, so no function value is
// called per feature and the batch's loads can overlap. A hasher lives on
// the caller's stack; it does not allocate.
type hasher struct {
	f      *Featurizer
	text   string
	mask   uint64
	p1, p2 uint64 // the previous two tokens' hashes, 0 when none
	i      int    // next byte of the word pass
	ci     int    // next byte of the char pass
	n      int    // features so far
	k      int    // buckets in buf
	// buf has room for a batch and one more token's or position's
	// features (at most 4 per token, CharMax per char position).
	buf [batchSize + 8]uint32
}

func (h *hasher) reset(f *Featurizer, text string) {
	h.f, h.text, h.mask = f, text, uint64(1)<<f.Bits-1
	h.p1, h.p2, h.i, h.ci, h.n, h.k = 0, 0, 0, 0, 0, 0
}

func (h *hasher) add(x uint64) {
	h.buf[h.k] = uint32(mix(x) & h.mask)
	h.k++
}

// token adds a token's unigram and n-grams.
func (h *hasher) token(x uint64) {
	if h.f.Words >= 1 {
		h.add(x)
	}
	if h.f.Words >= 2 && h.p1 != 0 {
		h.add(h.p1*31 ^ x ^ seedBigram)
	}
	if h.f.Words >= 3 && h.p2 != 0 {
		h.add((h.p2*31^h.p1)*31 ^ x ^ seedTrigram)
	}
	h.p2, h.p1 = h.p1, x
}

// fill returns the next batch of buckets, empty when the text is done.
// The slice is valid until the next call.
func (h *hasher) fill() []uint32 {
	f, text := h.f, h.text
	h.k = 0
	for h.i < len(text) && h.k < batchSize {
		i := h.i
		c := text[i]
		if cl := byteClass[c]; cl >= classLetter {
			x := uint64(fnvOffset)
			letters := byte(0)
			j := i
			for ; j < len(text); j++ {
				b := text[j]
				cl := byteClass[b]
				if cl < classLetter {
					break
				}
				letters |= cl ^ classDigit // non-zero for a letter
				x ^= uint64(byteLower[b])
				x *= fnvPrime
			}
			digits := letters == 0
			if digits && f.Digits != DigitsKeep {
				if f.Digits == DigitsBoth && f.Words >= 1 {
					h.add(x)
				}
				x = seedShape + uint64(min(j-i, 12))
			}
			h.token(x)
			h.i = j
			continue
		}
		if f.Punct && byteClass[c] == classPunct {
			h.token((fnvOffset ^ uint64(c)) * fnvPrime)
		}
		h.i++
	}
	if f.CharMin > 0 && h.i >= len(text) {
		end := min(len(text), f.CharPrefix)
		for ; h.ci < end && h.k < batchSize; h.ci++ {
			x := uint64(fnvOffset ^ seedChar)
			for k := 0; k < f.CharMax && h.ci+k < end; k++ {
				x ^= uint64(lower(text[h.ci+k]))
				x *= fnvPrime
				if k+1 >= f.CharMin {
					h.add(x)
				}
			}
		}
	}
	h.n += h.k
	return h.buf[:h.k]
}

// scale is the value one occurrence of a feature adds, for a text with n
// features.
func scale(n int) float32 {
	if n <= 0 {
		return 0
	}
	return float32(1 / math.Sqrt(float64(n)))
}

// sparse is one featurized text: bucket ids (sorted, unique) and values.
type sparse struct {
	idx []uint32
	val []float32
}

// featurize returns the sparse vector of text (training path; it
// allocates).
func (f *Featurizer) featurize(text string) sparse {
	counts := map[uint32]float32{}
	n := f.visit(text, func(b uint32) { counts[b]++ })
	s := scale(n)
	out := sparse{idx: make([]uint32, 0, len(counts)), val: make([]float32, 0, len(counts))}
	for b := range counts {
		out.idx = append(out.idx, b)
	}
	slices.Sort(out.idx)
	for _, b := range out.idx {
		out.val = append(out.val, counts[b]*s)
	}
	return out
}
