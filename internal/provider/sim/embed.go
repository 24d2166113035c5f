package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/provider"
	"github.com/sextant-router/sextant/internal/tokens"
)

// Embedding vector lengths.
const (
	defaultEmbedDims = 64
	maxEmbedDims     = 8192
)

// Feature weights: a shared word counts for more than a shared trigram, so
// that texts about the same words are closer than texts that merely share
// spellings, while a misspelt word still lands near the right one.
const (
	wordWeight    = 1.0
	trigramWeight = 0.5
)

// embedSalt separates embedding fault draws from chat ones.
const embedSalt = 0xe4bed_0000_0002

func embeddingDimensions(path string, n int) (int, error) {
	switch {
	case n == 0:
		return defaultEmbedDims, nil
	case n < 1 || n > maxEmbedDims:
		return 0, conf.Errorf(path, "must be between 1 and %d, got %d", maxEmbedDims, n)
	}
	return n, nil
}

// Embed returns one deterministic vector per input, in input order: a
// hashed bag of the text's words and character trigrams, L2-normalised (see
// the package doc). Identical texts get identical vectors; texts that share
// words are closer in cosine similarity than texts that do not. Usage is
// the inputs' cl100k_base token count. Faults are drawn as for Chat; in
// realtime mode Embed returns after one TTFT draw.
func (s *Sim) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	start := time.Now()
	if len(req.Input) == 0 {
		e := llm.Errorf("input", "at least one input is required")
		e.Model = s.model
		return nil, e
	}
	dims := s.embedDims
	if req.Dimensions != 0 {
		if req.Dimensions < 1 || req.Dimensions > maxEmbedDims {
			e := llm.Errorf("dimensions", "the sim provider supports 1 to %d dimensions, not %d", maxEmbedDims, req.Dimensions)
			e.Model = s.model
			return nil, e
		}
		dims = req.Dimensions
	}
	pl := s.embedPlan(req.Input, dims)
	if err := s.fault(ctx, pl); err != nil {
		return nil, err
	}
	out := &llm.EmbedResponse{Model: s.upstream, Vectors: make([][]float32, len(req.Input))}
	for i, text := range req.Input {
		out.Vectors[i] = s.embed(text, dims)
		out.Usage.PromptTokens += tokens.Count(text)
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	if err := s.waitUntil(ctx, start, pl.ttft); err != nil {
		return nil, err
	}
	return out, nil
}

// embedPlan draws an embedding call's outcome, TTFT and error status as
// plan draws a chat call's, from the fault stream seeded by the inputs, the
// length and the number of earlier identical calls. A stream break does
// not apply to embeddings; that share of calls succeeds, as a Chat does.
func (s *Sim) embedPlan(input []string, dims int) *plan {
	key := uint64(embedSalt)
	for _, text := range input {
		key = mix(key, hashString(text))
	}
	key = mix(key, uint64(dims))
	n := s.calls.next(key)
	faults := rand.New(rand.NewPCG(s.seed^faultSalt, mix(key, n)))
	pl := &plan{outcome: s.rates.pick(faults.Float64()), ttft: s.ttft.Sample(faults), status: 500}
	if faults.IntN(2) == 1 {
		pl.status = 503
	}
	return pl
}

// embed hashes text into a unit vector of dims values. Words are maximal
// runs of letters and digits, lowercased; each adds wordWeight to one
// bucket, and each trigram of the word padded with a space on both sides
// adds trigramWeight to another, with a sign from the same hash (the
// hashing trick: collisions cancel rather than pile up). Hashes are FNV-1a
// mixed with the sim's seed. A text without words maps to the vector of a
// reserved feature, so that it is still a unit vector.
func (s *Sim) embed(text string, dims int) []float32 {
	acc := make([]float64, dims)
	add := func(kind byte, feature string, w float64) {
		h := mix(s.seed, fnv1a(kind, feature))
		if h>>63 == 1 {
			w = -w
		}
		acc[h%uint64(dims)] += w
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		add('w', w, wordWeight)
		padded := " " + w + " "
		// Slide a three-rune window over padded by byte offsets.
		a, b := 0, 0
		for range 2 {
			_, size := utf8.DecodeRuneInString(padded[b:])
			b += size
		}
		for b < len(padded) {
			_, size := utf8.DecodeRuneInString(padded[b:])
			b += size
			add('t', padded[a:b], trigramWeight)
			_, size = utf8.DecodeRuneInString(padded[a:])
			a += size
		}
	}
	if len(words) == 0 {
		add('e', "", wordWeight)
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	if norm == 0 {
		// Every feature cancelled out; fall back to the reserved one.
		out[mix(s.seed, fnv1a('e', ""))%uint64(dims)] = 1
		return out
	}
	for i, x := range acc {
		out[i] = float32(x / norm)
	}
	return out
}

// fnv1a is FNV-1a (64-bit) over kind and s, without allocating.
func fnv1a(kind byte, s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h = (h ^ uint64(kind)) * prime
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * prime
	}
	return h
}

var _ provider.Embedder = (*Sim)(nil)
