package split

import "github.com/sextant-router/sextant/internal/policy"

// hash is FNV-1a (64 bit) over a sequence of fields, each ended by a zero
// byte so that ("ab", "c") and ("a", "bc") differ. It allocates nothing.
type hash uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newHash(seed uint64) hash {
	h := hash(fnvOffset)
	for i := 0; i < 8; i++ {
		h = (h ^ hash(byte(seed>>(8*i)))) * fnvPrime
	}
	return h
}

func (h hash) str(s string) hash {
	for i := 0; i < len(s); i++ {
		h = (h ^ hash(s[i])) * fnvPrime
	}
	return (h ^ 0) * fnvPrime
}

// request hashes the content of every message: role, text and image URLs.
func (h hash) request(c *policy.Call) hash {
	if c.Request == nil {
		return h
	}
	for _, m := range c.Request.Messages {
		h = h.str(m.Role).str(m.Content)
		for _, p := range m.Parts {
			if p.ImageURL != "" {
				h = h.str(p.ImageURL)
			}
		}
	}
	return h
}

// bucket mixes the hash (MurmurHash3's 64-bit finalizer, so that nearby
// inputs spread over the whole range) and maps its top 53 bits to [0,1).
func (h hash) bucket() float64 {
	x := uint64(h)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}
