package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/features"
	"github.com/sextant-router/sextant/internal/policy"
)

// Inputs of the rules scorer, computed from the request's features. Each
// is a number a label's weights multiply.
const (
	InLogTokens     = "log_tokens"     // log2(1 + tokens of every message)
	InQuestionWords = "question_words" // English interrogatives the user wrote, at most 10
	InCode          = "code"           // 1 when the user wrote code
	InMath          = "math"           // 1 when the user wrote arithmetic, an equation or LaTeX
	InMultiStep     = "multi_step"     // 1 when the user asks for steps or lists them
	InTurns         = "turns"          // user turns after the first, at most 10
	InSystem        = "system"         // 1 when a system or developer prompt is present
	InNonLatin      = "non_latin"      // 1 when the last user message is mostly in a non-Latin script
	InTools         = "tools"          // tools declared, at most 10
	InJSON          = "json"           // 1 when a JSON response is asked for
	InImages        = "images"         // image parts, at most 10
)

// inputNames lists the inputs in the order of the scorer's vector.
var inputNames = []string{InLogTokens, InQuestionWords, InCode, InMath, InMultiStep, InTurns,
	InSystem, InNonLatin, InTools, InJSON, InImages}

// inputs computes the input vector of f, in inputNames order.
func inputs(f *features.Set) [11]float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	capped := func(n int) float64 { return float64(min(max(n, 0), 10)) }
	return [11]float64{
		math.Log2(1 + float64(max(f.Tokens, 0))),
		capped(f.QuestionWords),
		b(f.HasCode),
		b(f.HasMath),
		b(f.MultiStep),
		capped(f.UserTurns - 1),
		b(f.System),
		b(f.Language != features.LangNone && f.Language != features.LangLatin),
		capped(f.Tools),
		b(f.JSON),
		capped(f.Images),
	}
}

// Rules is the rule-based classifier: each label has a score, a bias plus
// weighted inputs (see the In constants) plus the weights of the label's
// keywords found in the last user message; the probabilities are the
// softmax of the scores. With two labels that is the logistic of the
// difference of their scores, so a label with only a bias acts as the
// threshold of the other. Rules is immutable and safe for concurrent use.
type Rules struct {
	preset string
	labels []string
	bias   []float64
	w      [][11]float64 // w[label][input]
	kw     *keywords     // every label's keywords
	kwW    [][]float64   // kwW[label][keyword index]
}

// RulesConfig configures Rules. Labels replaces the preset's labels
// whole; without it the preset's are used.
type RulesConfig struct {
	// Preset is "complexity" (labels simple and complex; the default) or
	// "domain" (general, code, math, writing).
	Preset string       `json:"preset"`
	Labels []LabelRules `json:"labels"`
}

// LabelRules scores one label.
type LabelRules struct {
	Name string `json:"name"`
	// Bias is the label's score before any input.
	Bias float64 `json:"bias"`
	// Weights maps an input name to its weight.
	Weights map[string]float64 `json:"weights"`
	// Keywords maps a word or phrase to the weight it adds when present
	// in the last user message (whole words, any case, counted once).
	Keywords map[string]float64 `json:"keywords"`
}

// Presets are the default label sets. Their weights are hand-set so that
// a short factual question is confidently simple and general, a long,
// multi-step, mathematical or coding request complex, and a request with
// code or maths of that domain; tune them on your traffic.
var Presets = map[string][]LabelRules{
	"complexity": {
		{Name: "simple"},
		{Name: "complex", Bias: -5, Weights: map[string]float64{
			InLogTokens: 0.5, InMultiStep: 1.5, InMath: 1, InCode: 1, InQuestionWords: 0.3, InTurns: 0.7,
			InTools: 0.3, InJSON: 0.3, InImages: 0.5,
		}, Keywords: map[string]float64{
			"prove": 0.8, "derive": 0.8, "analyze": 0.6, "analyse": 0.6, "optimize": 0.6, "compare": 0.5,
			"explain why": 0.6, "design": 0.5, "implement": 0.6, "trade off": 0.6, "trade offs": 0.6,
			"step by step": 0.6, "in detail": 0.5, "justify": 0.6, "evaluate": 0.5,
		}},
	},
	"domain": {
		{Name: "general", Weights: map[string]float64{InQuestionWords: 0.2}},
		{Name: "code", Bias: -2, Weights: map[string]float64{InCode: 4, InTools: 0.5, InJSON: 0.5}, Keywords: map[string]float64{
			"code": 1, "function": 1, "bug": 1, "debug": 1, "compile": 1, "compiler": 1, "error": 0.5,
			"python": 1, "javascript": 1, "typescript": 1, "java": 1, "golang": 1, "rust": 0.7, "sql": 1,
			"regex": 1, "api": 0.7, "class": 0.5, "program": 0.8, "script": 0.8, "algorithm": 0.8,
			"stack trace": 1, "unit test": 1,
		}},
		{Name: "math", Bias: -2, Weights: map[string]float64{InMath: 4}, Keywords: map[string]float64{
			"calculate": 1, "solve": 1, "equation": 1, "prove": 0.8, "integral": 1, "derivative": 1,
			"probability": 1, "how many": 0.8, "how much": 0.6, "percent": 0.8, "average": 0.6,
			"sum": 0.6, "theorem": 1, "matrix": 0.8, "fraction": 0.8,
		}},
		{Name: "writing", Bias: -2, Keywords: map[string]float64{
			"write": 1, "essay": 1.5, "story": 1.5, "poem": 1.5, "email": 1.2, "letter": 1, "rewrite": 1.5,
			"summarize": 1.2, "summarise": 1.2, "blog": 1.2, "draft": 1, "tone": 1, "paragraph": 1,
			"proofread": 1.5, "persuasive": 1.2, "slogan": 1.2,
		}},
	},
}

// NewRules builds the rules classifier of cfg; errors name paths under
// path.
func NewRules(path string, raw json.RawMessage) (*Rules, error) {
	var cfg RulesConfig
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	r := &Rules{preset: cfg.Preset}
	labels := cfg.Labels
	labelsPath := conf.Join(path, "labels")
	switch {
	case cfg.Preset != "" && labels != nil:
		return nil, conf.Errorf(path, "use either preset or labels, not both")
	case labels == nil:
		if r.preset == "" {
			r.preset = "complexity"
		}
		p, ok := Presets[r.preset]
		if !ok {
			return nil, conf.Errorf(conf.Join(path, "preset"), "unknown preset %q (want complexity or domain)", cfg.Preset)
		}
		labels = p
	case len(labels) < 2:
		return nil, conf.Errorf(labelsPath, "at least two labels are needed")
	}
	var (
		texts    []string
		kwIndex  = map[string]int{} // a keyword's words -> index in texts
		perLabel []map[int]float64  // per label: keyword index -> weight
	)
	for i, l := range labels {
		p := conf.Index(labelsPath, i)
		if l.Name == "" {
			return nil, conf.Errorf(conf.Join(p, "name"), "required")
		}
		if slices.Contains(r.labels, l.Name) {
			return nil, conf.Errorf(conf.Join(p, "name"), "duplicate label %q", l.Name)
		}
		if !finite(l.Bias) {
			return nil, conf.Errorf(conf.Join(p, "bias"), "must be a finite number")
		}
		var w [11]float64
		for _, name := range sortedKeys(l.Weights) {
			v := l.Weights[name]
			j := slices.Index(inputNames, name)
			if j < 0 {
				return nil, conf.Errorf(conf.Join(conf.Join(p, "weights"), name), "unknown input (known: %s)", strings.Join(inputNames, ", "))
			}
			if !finite(v) {
				return nil, conf.Errorf(conf.Join(conf.Join(p, "weights"), name), "must be a finite number")
			}
			w[j] = v
		}
		r.labels = append(r.labels, l.Name)
		r.bias = append(r.bias, l.Bias)
		r.w = append(r.w, w)
		kwW := map[int]float64{}
		for _, text := range sortedKeys(l.Keywords) {
			v := l.Keywords[text]
			kp := conf.Join(conf.Join(p, "keywords"), text)
			if !finite(v) {
				return nil, conf.Errorf(kp, "must be a finite number")
			}
			norm := wordKey(text)
			if norm == "" {
				return nil, conf.Errorf(kp, "a keyword needs a letter or digit")
			}
			j, ok := kwIndex[norm]
			if !ok {
				j = len(texts)
				kwIndex[norm] = j
				texts = append(texts, text)
			}
			if _, dup := kwW[j]; dup {
				return nil, conf.Errorf(kp, "the same keyword as another of this label")
			}
			kwW[j] = v
		}
		perLabel = append(perLabel, kwW)
	}
	for _, kwW := range perLabel {
		row := make([]float64, len(texts))
		for j, v := range kwW {
			row[j] = v
		}
		r.kwW = append(r.kwW, row)
	}
	kw, err := newKeywords(texts)
	if err != nil {
		return nil, conf.Errorf(labelsPath, "%v", err)
	}
	r.kw = kw
	return r, nil
}

// wordKey identifies a keyword by its words, so that "Trade-off" and
// "trade off" are one keyword.
func wordKey(text string) string {
	var sb strings.Builder
	eachWord(text, func(h uint64) { fmt.Fprintf(&sb, "%x.", h) })
	return sb.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Name returns "rules:" and the preset, or "rules:custom".
func (r *Rules) Name() string {
	if r.preset == "" {
		return "rules:custom"
	}
	return "rules:" + r.preset
}

// Labels returns the labels in config order.
func (r *Rules) Labels() []string { return r.labels }

// Classify scores the request's features. It never fails.
func (r *Rules) Classify(_ context.Context, c *policy.Call) (Result, error) {
	return r.classify(c.Features()), nil
}

// classify is the scorer: a pure function of f.
func (r *Rules) classify(f *features.Set) Result {
	x := inputs(f)
	found := r.kw.find(f.LastUser)
	scores := make([]float64, len(r.labels))
	for i := range r.labels {
		s := r.bias[i]
		for j, v := range x {
			s += r.w[i][j] * v
		}
		for j, v := range r.kwW[i] {
			if v != 0 && found.has(j) {
				s += v
			}
		}
		scores[i] = s
	}
	res := fromScores(r.labels, scores)
	res.Reason = r.reason(res.Index, x, found, scores)
	return res
}

// reason explains the chosen label's score by its largest contributions.
// The other labels' scores follow.
func (r *Rules) reason(i int, x [11]float64, found matches, scores []float64) string {
	type part struct {
		name string
		v    float64
	}
	var parts []part
	for j, v := range x {
		if c := r.w[i][j] * v; c != 0 {
			parts = append(parts, part{inputNames[j], c})
		}
	}
	for j, v := range r.kwW[i] {
		if v != 0 && found.has(j) {
			parts = append(parts, part{fmt.Sprintf("%q", r.kw.phrases[j].text), v})
		}
	}
	sort.SliceStable(parts, func(a, b int) bool { return math.Abs(parts[a].v) > math.Abs(parts[b].v) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s score %.2f = bias %.2f", r.labels[i], scores[i], r.bias[i])
	for k, p := range parts {
		if k == 4 {
			fmt.Fprintf(&sb, " (+%d more)", len(parts)-k)
			break
		}
		fmt.Fprintf(&sb, " %+.2f %s", p.v, p.name)
	}
	sep := "; others:"
	for j, s := range scores {
		if j != i {
			fmt.Fprintf(&sb, "%s %s %.2f", sep, r.labels[j], s)
			sep = ","
		}
	}
	return sb.String()
}

var _ Classifier = (*Rules)(nil)
