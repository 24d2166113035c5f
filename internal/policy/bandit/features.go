package bandit

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/policy"
)

// featureVersion changes whenever a feature's scaling changes, so that
// statistics learned under the old scaling are not mixed with the new.
const featureVersion = "v1"

// tierBuckets is the number of buckets the "tier" feature hashes tiers
// into.
const tierBuckets = 4

// scalar features: name -> value in about [0,1] from the request's
// features. Keep the doc.go table in step.
var scalars = map[string]func(s *features.Set) float64{
	"tokens":    func(s *features.Set) float64 { return min(1.5, math.Log2(1+float64(s.Tokens))/16) },
	"turns":     func(s *features.Set) float64 { return float64(min(max(s.UserTurns-1, 0), 8)) / 8 },
	"code":      func(s *features.Set) float64 { return b2f(s.HasCode) },
	"math":      func(s *features.Set) float64 { return b2f(s.HasMath) },
	"multistep": func(s *features.Set) float64 { return b2f(s.MultiStep) },
	"question":  func(s *features.Set) float64 { return float64(min(s.QuestionWords, 3)) / 3 },
	"non_latin": func(s *features.Set) float64 {
		return b2f(s.Language != features.LangNone && s.Language != features.LangLatin)
	},
	"system":     func(s *features.Set) float64 { return b2f(s.System) },
	"tools":      func(s *features.Set) float64 { return b2f(s.Tools > 0) },
	"json":       func(s *features.Set) float64 { return b2f(s.JSON) },
	"images":     func(s *features.Set) float64 { return b2f(s.Images > 0) },
	"max_tokens": func(s *features.Set) float64 { return min(1.5, math.Log2(1+float64(s.MaxTokens))/16) },
	"stream":     func(s *features.Set) float64 { return b2f(s.Stream) },
}

// defaultFeatures is the feature list when the config gives none.
var defaultFeatures = []string{"tokens", "turns", "code", "math", "multistep", "question",
	"non_latin", "system", "tools", "json", "images", "tier"}

// maxDim bounds d: each arm keeps d² + d + 3 sums.
const maxDim = 32

// featureSpec turns a call into the context vector x: x[0] is always the
// bias 1, then one element per scalar feature, then the tier's elements.
type featureSpec struct {
	names []string // canonical, in order; for the hash and the docs
	funcs []func(s *features.Set) float64
	// tiers one-hot encodes these tiers when set; otherwise tierHash
	// hashes the tier into tierBuckets elements, when tierOn.
	tiers    []string
	tierHash bool
	dim      int
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// parseFeatures reads the features list at path; raw nil means the
// default set.
func parseFeatures(path string, raw json.RawMessage) (*featureSpec, error) {
	var items []json.RawMessage
	if raw == nil {
		for _, n := range defaultFeatures {
			items = append(items, json.RawMessage(strconv.Quote(n)))
		}
	} else if err := conf.Decode(path, raw, &items); err != nil {
		return nil, err
	}
	fs := &featureSpec{names: []string{"bias"}, dim: 1}
	seen := map[string]bool{}
	for i, it := range items {
		p := conf.Index(path, i)
		var name string
		if json.Unmarshal(it, &name) == nil {
			if seen[name] {
				return nil, conf.Errorf(p, "duplicate feature %q", name)
			}
			seen[name] = true
			switch f, ok := scalars[name]; {
			case ok:
				fs.names = append(fs.names, name)
				fs.funcs = append(fs.funcs, f)
				fs.dim++
			case name == "tier":
				fs.tierHash = true
				fs.names = append(fs.names, fmt.Sprintf("tier#%d", tierBuckets))
				fs.dim += tierBuckets
			case name == "bias":
				return nil, conf.Errorf(p, "the bias is always included; leave it out")
			default:
				return nil, conf.Errorf(p, "unknown feature %q (want one of %s, tier or {tier: [TIER, ...]})", name, strings.Join(scalarNames(), ", "))
			}
			continue
		}
		var m struct {
			Tier []string `json:"tier"`
		}
		if err := conf.Decode(p, it, &m); err != nil {
			return nil, err
		}
		if len(m.Tier) == 0 {
			return nil, conf.Errorf(conf.Join(p, "tier"), "list the tiers to one-hot encode")
		}
		if seen["tier"] {
			return nil, conf.Errorf(p, "duplicate feature \"tier\"")
		}
		seen["tier"] = true
		ts := map[string]bool{}
		for j, t := range m.Tier {
			if t == "" || ts[t] {
				return nil, conf.Errorf(conf.Index(conf.Join(p, "tier"), j), "tiers must be distinct and non-empty")
			}
			ts[t] = true
		}
		fs.tiers = m.Tier
		fs.names = append(fs.names, "tier="+strings.Join(m.Tier, "|"))
		fs.dim += len(m.Tier)
	}
	if fs.dim > maxDim {
		return nil, conf.Errorf(path, "%d dimensions is more than %d: each arm keeps d² statistics", fs.dim, maxDim)
	}
	return fs, nil
}

func scalarNames() []string {
	out := make([]string, 0, len(scalars))
	for n := range scalars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// hash identifies the spec's shape and scaling, for the statistics keys.
func (fs *featureSpec) hash() string {
	h := fnv.New64a()
	h.Write([]byte(featureVersion + ":" + strings.Join(fs.names, ",")))
	return strconv.FormatUint(h.Sum64(), 16)
}

// vector computes x for c into a new slice.
func (fs *featureSpec) vector(c *policy.Call) []float64 {
	x := make([]float64, fs.dim)
	x[0] = 1
	i := 1
	if len(fs.funcs) > 0 {
		s := c.Features()
		for _, f := range fs.funcs {
			x[i] = f(s)
			i++
		}
	}
	switch {
	case fs.tiers != nil:
		for j, t := range fs.tiers {
			if c.Caller.Tier == t {
				x[i+j] = 1
			}
		}
	case fs.tierHash && c.Caller.Tier != "":
		h := fnv.New32a()
		h.Write([]byte(c.Caller.Tier))
		x[i+int(h.Sum32()%tierBuckets)] = 1
	}
	return x
}
