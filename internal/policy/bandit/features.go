package bandit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	cls "github.com/sextant-router/sextant/internal/classify"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/learn"
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
	// models are the learned-model features, after the tier's elements.
	models []modelFeature
	dim    int
}

// modelFeature is a {model: FILE} feature: a learned model's predicted
// probabilities for some of its labels and, with logit, their logits.
type modelFeature struct {
	l      *cls.Learned
	labels []int // indices into l.Labels(), in config order
	logit  bool
}

// width is the number of elements f contributes to x.
func (f *modelFeature) width() int {
	if f.logit {
		return 2 * len(f.labels)
	}
	return len(f.labels)
}

// logitScale divides a logit so that p in [0.0003, 0.9997] maps into
// about [-1,1]; logitClip bounds it for p at 0 or 1.
const (
	logitScale = 8
	logitClip  = 1.5
)

// neutralP is the probability a model feature takes when the model cannot
// predict for a request (an embeddings call failed): no evidence either
// way.
const neutralP = 0.5

func (f *modelFeature) put(x []float64, p []float64) {
	for j, li := range f.labels {
		v := neutralP
		if p != nil && p[li] >= 0 && p[li] <= 1 { // NaN or out of range: no evidence
			v = p[li]
		}
		x[j] = v
		if f.logit {
			q := min(max(v, 1e-12), 1-1e-12)
			x[len(f.labels)+j] = min(logitClip, max(-logitClip, math.Log(q/(1-q))/logitScale))
		}
	}
}

// modelConfig is a {model: FILE, labels: [...], logit: bool} feature.
type modelConfig struct {
	Model  json.RawMessage `json:"model"`
	Labels []string        `json:"labels"`
	Logit  bool            `json:"logit"`
}

// parseModel reads the model feature at p.
func parseModel(b policy.Builder, p string, raw json.RawMessage) (modelFeature, string, error) {
	var mc modelConfig
	if err := conf.Decode(p, raw, &mc); err != nil {
		return modelFeature{}, "", err
	}
	mp := conf.Join(p, "model")
	lc, err := cls.DecodeLearned(mp, mc.Model)
	if err != nil {
		return modelFeature{}, "", err
	}
	if lc.File == "" {
		return modelFeature{}, "", conf.Errorf(mp, "required: a learned model file (or builtin:NAME)")
	}
	m, err := learn.Load(b.Path(lc.File))
	if err != nil {
		return modelFeature{}, "", conf.Errorf(mp, "%v", err)
	}
	l, err := cls.LoadLearned(b, mp, lc, m.Kind())
	if err != nil {
		return modelFeature{}, "", err
	}
	labels := l.Labels()
	f := modelFeature{l: l, logit: mc.Logit}
	if mc.Labels == nil {
		for i := range labels {
			f.labels = append(f.labels, i)
		}
	}
	lp := conf.Join(p, "labels")
	if mc.Labels != nil && len(mc.Labels) == 0 {
		return modelFeature{}, "", conf.Errorf(lp, "list at least one label, or leave labels out for all of them")
	}
	for j, name := range mc.Labels {
		i := slices.Index(labels, name)
		if i < 0 {
			return modelFeature{}, "", conf.Errorf(conf.Index(lp, j), "%q is not a label of %s (labels: %s)", name, l.Name(), strings.Join(labels, ", "))
		}
		if slices.Contains(f.labels, i) {
			return modelFeature{}, "", conf.Errorf(conf.Index(lp, j), "duplicate label %q", name)
		}
		f.labels = append(f.labels, i)
	}
	// The canonical name identifies the model's content, not just its
	// file name: a retrained model means new features, so fresh
	// statistics.
	var sb strings.Builder
	sb.WriteString("model=" + l.Name() + "@" + contentID(b, lc.File) + "[")
	for j, i := range f.labels {
		if j > 0 {
			sb.WriteString("|")
		}
		sb.WriteString(labels[i])
	}
	sb.WriteString("]")
	if f.logit {
		sb.WriteString("+logit")
	}
	return f, sb.String(), nil
}

// contentID is a short hash of a model file's bytes; a builtin model is
// identified by its name (it changes only with the binary).
func contentID(b policy.Builder, file string) string {
	if strings.HasPrefix(file, "builtin:") {
		return file
	}
	data, err := os.ReadFile(b.Path(file))
	if err != nil { // learn.Load just read it; a race with a rewrite
		return "unread"
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:8])
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// parseFeatures reads the features list at path; raw nil means the
// default set.
func parseFeatures(b policy.Builder, path string, raw json.RawMessage) (*featureSpec, error) {
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
				return nil, conf.Errorf(p, "unknown feature %q (want one of %s, tier, {tier: [TIER, ...]} or {model: FILE})", name, strings.Join(scalarNames(), ", "))
			}
			continue
		}
		var keys map[string]json.RawMessage
		if json.Unmarshal(it, &keys) == nil {
			if _, ok := keys["model"]; ok {
				f, name, err := parseModel(b, p, it)
				if err != nil {
					return nil, err
				}
				if seen[name] {
					return nil, conf.Errorf(p, "duplicate feature: the same model and labels twice")
				}
				seen[name] = true
				fs.models = append(fs.models, f)
				fs.names = append(fs.names, name)
				fs.dim += f.width()
				continue
			}
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

// vector computes x for c into a new slice. A model feature whose model
// cannot predict (its embeddings call failed) takes neutralP and the
// error is returned with the otherwise complete x; ctx carries the
// evaluation record (learn.WithRecord) to a cross-fitted model.
func (fs *featureSpec) vector(ctx context.Context, c *policy.Call) ([]float64, error) {
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
	switch {
	case fs.tiers != nil:
		i += len(fs.tiers)
	case fs.tierHash:
		i += tierBuckets
	}
	var errs []error
	for k := range fs.models {
		f := &fs.models[k]
		p, err := f.l.Predict(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, err)
			p = nil
		}
		f.put(x[i:i+f.width()], p)
		i += f.width()
	}
	return x, errors.Join(errs...)
}
