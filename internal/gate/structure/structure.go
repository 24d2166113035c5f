// Package structure provides the "structure" gate: length bounds,
// required and forbidden patterns, refusals, hedging and truncation. See
// the package doc of gate for its config.
package structure

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
	"github.com/sextant-router/sextant/internal/tokens"
)

// Kind is the gate's kind name.
const Kind = "structure"

func init() { gate.Register(Kind, New) }

// Defaults.
const (
	DefaultThreshold     = 1.0
	DefaultMinChars      = 1
	DefaultRefusalWindow = 300
)

// Gate checks the form of an answer. Its score is the share of its checks
// that pass; with the default threshold 1 every check must pass.
type Gate struct {
	gate.Base
	minChars, maxChars   int
	minTokens, maxTokens int
	require, forbid      []*answer.Pattern
	refusals             *answer.Phrases // nil: not checked
	refusalWindow        int
	hedges               *answer.Phrases
	maxHedges            int // -1: not checked
	truncation           bool
}

type config struct {
	gate.Common
	MinChars       *int      `json:"min_chars"`
	MaxChars       *int      `json:"max_chars"`
	MinTokens      *int      `json:"min_tokens"`
	MaxTokens      *int      `json:"max_tokens"`
	Require        []string  `json:"require"`
	Forbid         []string  `json:"forbid"`
	Refusals       *bool     `json:"refusals"`
	RefusalPhrases *[]string `json:"refusal_phrases"`
	RefusalWindow  *int      `json:"refusal_window"`
	MaxHedges      *int      `json:"max_hedges"`
	HedgePhrases   *[]string `json:"hedge_phrases"`
	Truncation     *bool     `json:"truncation"`
}

// New builds a structure gate; see the package doc of gate for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base, minChars: DefaultMinChars, refusalWindow: DefaultRefusalWindow, maxHedges: -1, truncation: true}
	for _, f := range []struct {
		name string
		src  *int
		dst  *int
	}{
		{"min_chars", cfg.MinChars, &g.minChars}, {"max_chars", cfg.MaxChars, &g.maxChars},
		{"min_tokens", cfg.MinTokens, &g.minTokens}, {"max_tokens", cfg.MaxTokens, &g.maxTokens},
		{"refusal_window", cfg.RefusalWindow, &g.refusalWindow}, {"max_hedges", cfg.MaxHedges, &g.maxHedges},
	} {
		if f.src == nil {
			continue
		}
		if *f.src < 0 {
			return nil, conf.Errorf(conf.Join(path, f.name), "must not be negative, got %d", *f.src)
		}
		*f.dst = *f.src
	}
	if g.maxChars > 0 && g.minChars > g.maxChars {
		return nil, conf.Errorf(conf.Join(path, "min_chars"), "%d is more than max_chars %d", g.minChars, g.maxChars)
	}
	if g.maxTokens > 0 && g.minTokens > g.maxTokens {
		return nil, conf.Errorf(conf.Join(path, "min_tokens"), "%d is more than max_tokens %d", g.minTokens, g.maxTokens)
	}
	if g.require, err = compile(conf.Join(path, "require"), cfg.Require); err != nil {
		return nil, err
	}
	if g.forbid, err = compile(conf.Join(path, "forbid"), cfg.Forbid); err != nil {
		return nil, err
	}
	if cfg.Refusals == nil || *cfg.Refusals {
		list := answer.DefaultRefusals
		if cfg.RefusalPhrases != nil {
			list = *cfg.RefusalPhrases
		}
		g.refusals = answer.NewPhrases(list)
	} else if cfg.RefusalPhrases != nil {
		return nil, conf.Errorf(conf.Join(path, "refusal_phrases"), "set with refusals: false; drop one")
	}
	hedges := answer.DefaultHedges
	if cfg.HedgePhrases != nil {
		hedges = *cfg.HedgePhrases
	}
	g.hedges = answer.NewPhrases(hedges)
	if cfg.Truncation != nil {
		g.truncation = *cfg.Truncation
	}
	return g, nil
}

func compile(path string, pats []string) ([]*answer.Pattern, error) {
	out := make([]*answer.Pattern, 0, len(pats))
	for i, p := range pats {
		re, err := answer.CompilePattern(p)
		if err != nil {
			return nil, conf.Errorf(conf.Index(path, i), "invalid regular expression: %v", err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Check runs every configured check on a's first choice. On a partial
// answer only checks that a prefix can fail are run (maximum lengths,
// forbidden patterns, a refusal at the start); the gate then fails or
// skips, never passes.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a == nil || a.Response == nil || len(a.Response.Choices) == 0 {
		return g.Verdict(c, 0, "no answer"), nil
	}
	ch := &a.Response.Choices[0]
	text := ch.Message.Content
	var (
		checks, passed int
		failed         []string
		metrics        = map[string]float64{}
	)
	rule := func(ok bool, format string, args ...any) {
		checks++
		if ok {
			passed++
		} else if len(failed) < 4 {
			failed = append(failed, fmt.Sprintf(format, args...))
		}
	}
	chars := utf8.RuneCountInString(text)
	metrics["chars"] = float64(chars)
	if g.minChars > 0 && !a.Partial {
		rule(chars >= g.minChars, "%d chars, under min_chars %d", chars, g.minChars)
	}
	if g.maxChars > 0 {
		rule(chars <= g.maxChars, "%d chars, over max_chars %d", chars, g.maxChars)
	}
	if g.minTokens > 0 || g.maxTokens > 0 {
		n := a.Response.Usage.CompletionTokens
		if n == 0 || a.Partial || len(a.Response.Choices) > 1 {
			n = tokens.Count(text)
		}
		metrics["tokens"] = float64(n)
		if g.minTokens > 0 && !a.Partial {
			rule(n >= g.minTokens, "%d tokens, under min_tokens %d", n, g.minTokens)
		}
		if g.maxTokens > 0 {
			rule(n <= g.maxTokens, "%d tokens, over max_tokens %d", n, g.maxTokens)
		}
	}
	lower := a.Analysis().Lower()
	if !a.Partial {
		for _, re := range g.require {
			_, ok := re.Find(text, lower)
			rule(ok, "required pattern %q missing", re.String())
		}
	}
	for _, re := range g.forbid {
		if m, ok := re.Find(text, lower); ok {
			rule(false, "forbidden pattern %q found: %q", re.String(), clip(m, 40))
		} else {
			rule(true, "")
		}
	}
	if g.refusals != nil {
		phrase, refused := g.refusals.Near(lower, g.refusalWindow)
		switch {
		case ch.Message.Refusal != "":
			rule(false, "refusal: %q", clip(ch.Message.Refusal, 60))
			metrics["refusal"] = 1
		case refused:
			rule(false, "refusal: %q", phrase)
			metrics["refusal"] = 1
		case !a.Partial || len(lower) >= g.refusalWindow:
			rule(true, "")
			metrics["refusal"] = 0
		}
	}
	hedges := g.hedges.Count(lower)
	metrics["hedges"] = float64(hedges)
	if g.maxHedges >= 0 && !a.Partial {
		rule(hedges <= g.maxHedges, "%d hedges, over max_hedges %d", hedges, g.maxHedges)
	}
	if g.truncation && !a.Partial {
		truncated := ch.FinishReason == llm.FinishLength
		metrics["truncated"] = b2f(truncated)
		rule(!truncated, "truncated (finish_reason length)")
	}
	if checks == 0 {
		v := g.Skip(c, "no check applies")
		if a.Partial {
			v.Reason = "prefix: no check applies yet"
		}
		v.Metrics = metrics
		return v, nil
	}
	v := g.Verdict(c, float64(passed)/float64(checks), "")
	switch {
	case a.Partial && v.Pass:
		v = g.Skip(c, fmt.Sprintf("prefix: %d of %d checks pass so far", passed, checks))
	case len(failed) > 0:
		v.Reason = strings.Join(failed, "; ")
	default:
		v.Reason = fmt.Sprintf("%d checks pass", checks)
	}
	v.Metrics = metrics
	return v, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var _ gate.Gate = (*Gate)(nil)
