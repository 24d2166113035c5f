// Package logprob provides the "logprob" gate: the model's confidence in
// its answer, from the log-probabilities of the tokens it sampled. See the
// package doc of gate for its config.
package logprob

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "logprob"

func init() { gate.Register(Kind, New) }

// Metrics.
const (
	MetricMean   = "mean"
	MetricMin    = "min"
	MetricMargin = "margin"
)

// Defaults.
const (
	DefaultThreshold = 0.5
	DefaultMinTokens = 8
	// DefaultTopLogprobs is how many alternatives are asked for with the
	// margin metric (it needs at least two).
	DefaultTopLogprobs = 2
	maxTopLogprobs     = 20
)

// Gate scores an answer by its tokens' log-probabilities.
type Gate struct {
	gate.Base
	metric    string
	top       int // alternatives to ask for; 0: none
	minTokens int
}

type config struct {
	gate.Common
	Metric      string `json:"metric"`
	TopLogprobs *int   `json:"top_logprobs"`
	MinTokens   *int   `json:"min_tokens"`
}

// New builds a logprob gate; see the package doc of gate for its config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base, metric: cfg.Metric, minTokens: DefaultMinTokens}
	switch g.metric {
	case "":
		g.metric = MetricMean
	case MetricMean, MetricMin:
	case MetricMargin:
		g.top = DefaultTopLogprobs
	default:
		return nil, conf.Errorf(conf.Join(path, "metric"), "unknown metric %q (want mean, min or margin)", cfg.Metric)
	}
	if cfg.TopLogprobs != nil {
		t := *cfg.TopLogprobs
		if t < 0 || t > maxTopLogprobs {
			return nil, conf.Errorf(conf.Join(path, "top_logprobs"), "must be in [0,%d], got %d", maxTopLogprobs, t)
		}
		if g.metric == MetricMargin && t < 2 {
			return nil, conf.Errorf(conf.Join(path, "top_logprobs"), "the margin metric needs at least 2 alternatives, got %d", t)
		}
		g.top = t
	}
	if cfg.MinTokens != nil {
		if *cfg.MinTokens < 1 {
			return nil, conf.Errorf(conf.Join(path, "min_tokens"), "must be at least 1, got %d", *cfg.MinTokens)
		}
		g.minTokens = *cfg.MinTokens
	}
	return g, nil
}

// Prepare asks a model with the logprobs capability for log-probabilities
// (and top_logprobs alternatives when the gate needs them).
func (g *Gate) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	if !m.Has(catalog.CapLogprobs) {
		return req
	}
	have := 0
	if req.TopLogprobs != nil {
		have = *req.TopLogprobs
	}
	if req.Logprobs && have >= g.top {
		return req
	}
	r := req.Clone()
	r.Logprobs = true
	if g.top > have {
		top := g.top
		r.TopLogprobs = &top
	}
	return r
}

// Check scores a's first choice. It skips when the answer carries no
// log-probabilities or fewer than min_tokens of them (a prefix is judged
// like a whole answer once it has min_tokens).
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a == nil || a.Response == nil || len(a.Response.Choices) == 0 {
		return g.Skip(c, "no answer"), nil
	}
	s, ok := answer.Logprobs(a.Response.Choices[0].Logprobs)
	if !ok {
		return g.Skip(c, "no logprobs in the answer"), nil
	}
	metrics := map[string]float64{"tokens": float64(s.Tokens), "mean_logprob": s.Mean, "min_logprob": s.Min}
	if s.MarginTokens > 0 {
		metrics["margin"] = s.Margin
	}
	if s.Tokens < g.minTokens {
		v := g.Skip(c, fmt.Sprintf("%d tokens with logprobs, under min_tokens %d", s.Tokens, g.minTokens))
		v.Metrics = metrics
		return v, nil
	}
	var score float64
	var reason string
	switch g.metric {
	case MetricMean:
		score = math.Exp(s.Mean)
		reason = fmt.Sprintf("mean logprob %.3f (p %.3f) over %d tokens", s.Mean, score, s.Tokens)
	case MetricMin:
		score = math.Exp(s.Min)
		reason = fmt.Sprintf("min logprob %.3f (p %.3f) over %d tokens", s.Min, score, s.Tokens)
	case MetricMargin:
		if s.MarginTokens == 0 {
			v := g.Skip(c, "no top_logprobs alternatives in the answer")
			v.Metrics = metrics
			return v, nil
		}
		score = 1 - math.Exp(-s.Margin)
		reason = fmt.Sprintf("top-1 margin %.3f nats (score %.3f) over %d tokens", s.Margin, score, s.MarginTokens)
	}
	v := g.Verdict(c, score, reason)
	v.Metrics = metrics
	return v, nil
}

var (
	_ gate.Gate     = (*Gate)(nil)
	_ gate.Preparer = (*Gate)(nil)
)
