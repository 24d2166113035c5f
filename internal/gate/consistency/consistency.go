// Package consistency provides the "consistency" gate: a model that
// answers the same question the same way when asked again is more likely
// right. It draws k more samples and scores the share that agree with the
// answer judged. See the package doc of gate for its config.
package consistency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/answer"
	"github.com/sextant-router/sextant/internal/gate/embed"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "consistency"

func init() { gate.Register(Kind, New) }

// Sampling modes.
const (
	SamplingAuto     = "auto"
	SamplingN        = "n"
	SamplingParallel = "parallel"
)

// Comparisons.
const (
	CompareFinal     = "final"
	CompareEmbedding = "embedding"
)

// Defaults.
const (
	DefaultThreshold   = 0.5
	DefaultSamples     = 4
	DefaultTemperature = 0.7
	DefaultSimilarity  = 0.9
	maxSamples         = 16
)

// Gate scores the agreement of fresh samples with the answer.
type Gate struct {
	gate.Base
	samples     int
	model       string // "" : the model that answered
	sampling    string
	inline      bool
	temperature float64
	maxTokens   int
	compare     string
	embedModel  string
	similarity  float64
}

type config struct {
	gate.Common
	Samples        *int     `json:"samples"`
	Model          string   `json:"model"`
	Sampling       string   `json:"sampling"`
	Inline         bool     `json:"inline"`
	Temperature    *float64 `json:"temperature"`
	MaxTokens      *int     `json:"max_tokens"`
	Compare        string   `json:"compare"`
	EmbeddingModel string   `json:"embedding_model"`
	Similarity     *float64 `json:"similarity"`
}

// New builds a consistency gate; see the package doc of gate for its
// config.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	g := &Gate{Base: base, samples: DefaultSamples, model: cfg.Model, sampling: cfg.Sampling, inline: cfg.Inline,
		temperature: DefaultTemperature, compare: cfg.Compare, similarity: DefaultSimilarity}
	if cfg.Samples != nil {
		if s := *cfg.Samples; s < 1 || s > maxSamples {
			return nil, conf.Errorf(conf.Join(path, "samples"), "must be in [1,%d], got %d", maxSamples, s)
		}
		g.samples = *cfg.Samples
	}
	if g.model != "" && !b.HasModel(g.model) {
		return nil, conf.Errorf(conf.Join(path, "model"), "unknown model %q", g.model)
	}
	switch g.sampling {
	case "":
		g.sampling = SamplingAuto
	case SamplingAuto, SamplingN, SamplingParallel:
	default:
		return nil, conf.Errorf(conf.Join(path, "sampling"), "unknown value %q (want auto, n or parallel)", cfg.Sampling)
	}
	if g.inline && (g.model != "" || g.sampling == SamplingParallel) {
		return nil, conf.Errorf(conf.Join(path, "inline"), "inline samples come from the answering model with n: not with model or sampling: parallel")
	}
	if cfg.Temperature != nil {
		if t := *cfg.Temperature; !(t >= 0 && t <= 2) {
			return nil, conf.Errorf(conf.Join(path, "temperature"), "must be in [0,2], got %v", t)
		}
		g.temperature = *cfg.Temperature
	}
	if cfg.MaxTokens != nil {
		if *cfg.MaxTokens < 1 {
			return nil, conf.Errorf(conf.Join(path, "max_tokens"), "must be at least 1")
		}
		g.maxTokens = *cfg.MaxTokens
	}
	switch g.compare {
	case "":
		g.compare = CompareFinal
		if cfg.EmbeddingModel != "" {
			g.compare = CompareEmbedding
		}
	case CompareFinal, CompareEmbedding:
	default:
		return nil, conf.Errorf(conf.Join(path, "compare"), "unknown value %q (want final or embedding)", cfg.Compare)
	}
	if g.compare == CompareEmbedding {
		if err := embed.CheckModel(b, conf.Join(path, "embedding_model"), cfg.EmbeddingModel); err != nil {
			return nil, err
		}
		g.embedModel = cfg.EmbeddingModel
	} else if cfg.EmbeddingModel != "" {
		return nil, conf.Errorf(conf.Join(path, "embedding_model"), "only used with compare: embedding")
	}
	if cfg.Similarity != nil {
		if s := *cfg.Similarity; !(s >= -1 && s <= 1) {
			return nil, conf.Errorf(conf.Join(path, "similarity"), "must be in [-1,1], got %v", s)
		}
		g.similarity = *cfg.Similarity
	}
	return g, nil
}

// SupportsN reports whether sampling: auto sends n to model m: its adapter
// forwards n (openai, gemini) or its labels say supports_n: "true".
func SupportsN(m *catalog.Model) bool {
	if m == nil {
		return false
	}
	if v, ok := m.Labels["supports_n"]; ok {
		return v == "true"
	}
	return m.Provider == "openai" || m.Provider == "gemini"
}

func (g *Gate) useN(m *catalog.Model) bool {
	switch g.sampling {
	case SamplingN:
		return true
	case SamplingParallel:
		return false
	}
	return SupportsN(m)
}

// Prepare, with inline: true, asks the answering model for the samples
// with the answer: n = samples+1 at the gate's temperature, when the
// model takes n. The caller must Strip the extra choices.
func (g *Gate) Prepare(m *catalog.Model, req *llm.Request) *llm.Request {
	if !g.inline || !g.useN(m) || req.Stream {
		return req
	}
	want := g.samples + 1
	if req.N != nil && *req.N >= want {
		return req
	}
	r := req.Clone()
	r.N = &want
	if r.Temperature == nil || *r.Temperature == 0 {
		t := g.temperature
		r.Temperature = &t
	}
	return r
}

// Check compares the answer's first choice with samples: the answer's
// other choices when it has enough, else fresh ones from the model. It
// skips a partial answer. Failed sample calls are tolerated while at
// least half the samples arrive; otherwise Check returns the error.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a.Partial {
		return g.Skip(c, "prefix: consistency needs the whole answer"), nil
	}
	if a.Response == nil || len(a.Response.Choices) == 0 {
		return g.Verdict(c, 0, "no answer"), nil
	}
	text := a.Text()
	var samples []string
	if len(a.Response.Choices) > g.samples {
		for _, ch := range a.Response.Choices[1 : g.samples+1] {
			samples = append(samples, ch.Message.Content)
		}
	} else {
		var err error
		if samples, err = g.draw(ctx, c, a); err != nil {
			return gate.Verdict{}, err
		}
	}
	agree := make([]bool, len(samples))
	metrics := map[string]float64{"samples": float64(len(samples))}
	var what string
	switch g.compare {
	case CompareFinal:
		mine, _ := answer.Final(text)
		counts := map[string]int{mine: 1}
		for i, s := range samples {
			f, _ := answer.Final(s)
			agree[i] = f == mine && f != ""
			counts[f]++
		}
		top := 0
		for _, n := range counts {
			top = max(top, n)
		}
		metrics["majority_share"] = float64(top) / float64(len(samples)+1)
		what = fmt.Sprintf("on %q", clip(mine))
	case CompareEmbedding:
		vs, err := embed.Texts(ctx, c, g.embedModel, append([]string{text}, samples...))
		if err != nil {
			return gate.Verdict{}, err
		}
		sum := 0.0
		for i := range samples {
			sim := embed.Cosine(vs[0], vs[i+1])
			sum += sim
			agree[i] = sim >= g.similarity
		}
		metrics["mean_similarity"] = sum / float64(len(samples))
		what = fmt.Sprintf("at cosine >= %g", g.similarity)
	}
	n := 0
	for _, ok := range agree {
		if ok {
			n++
		}
	}
	metrics["agree"] = float64(n)
	v := g.Verdict(c, float64(n)/float64(len(samples)), fmt.Sprintf("%d of %d samples agree %s", n, len(samples), what))
	v.Metrics = metrics
	return v, nil
}

// draw asks the model for g.samples more answers to the answer's request.
func (g *Gate) draw(ctx context.Context, c *policy.Call, a *gate.Answer) ([]string, error) {
	if c == nil || c.Exec == nil {
		return nil, errors.New("consistency: no executor to draw samples")
	}
	model := g.model
	if model == "" {
		model = a.Model
	}
	m, _ := c.Exec.Model(model)
	base := a.Request
	if base == nil {
		base = c.Request
	}
	req := base.Clone()
	req.Stream, req.IncludeUsage = false, false
	req.Logprobs, req.TopLogprobs = false, nil
	if req.Temperature == nil || *req.Temperature == 0 || g.model != "" {
		t := g.temperature
		req.Temperature = &t
	}
	if g.maxTokens > 0 {
		mt := g.maxTokens
		req.MaxTokens = &mt
	}
	if g.useN(m) {
		k := g.samples
		r := req.Clone()
		r.N = &k
		out, err := c.Exec.Call(ctx, c, model, r)
		if err == nil && out.Response != nil && len(out.Response.Choices) > 0 {
			var s []string
			for _, ch := range out.Response.Choices {
				s = append(s, ch.Message.Content)
			}
			return s, nil
		}
		// A model that refuses n is sampled with parallel calls unless n
		// was demanded.
		if err == nil || g.sampling == SamplingN || ctx.Err() != nil ||
			(llm.ClassOf(err) != llm.ClassUnsupported && llm.ClassOf(err) != llm.ClassCaller) {
			if err == nil {
				err = errors.New("consistency: the model returned no choices")
			}
			return nil, err
		}
	}
	req.N = nil
	texts := make([]string, g.samples)
	errs := make([]error, g.samples)
	var wg sync.WaitGroup
	for i := range g.samples {
		wg.Go(func() {
			out, err := c.Exec.Call(ctx, c, model, req)
			switch {
			case err != nil:
				errs[i] = err
			case out.Response == nil:
				errs[i] = errors.New("consistency: no response")
			default:
				texts[i] = out.Response.Text()
			}
		})
	}
	wg.Wait()
	var got []string
	var firstErr error
	for i := range texts {
		if errs[i] != nil {
			firstErr = cmp(firstErr, errs[i])
			continue
		}
		got = append(got, texts[i])
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if 2*len(got) < g.samples {
		return nil, fmt.Errorf("consistency: %d of %d samples failed: %w", g.samples-len(got), g.samples, firstErr)
	}
	return got, nil
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

var (
	_ gate.Gate     = (*Gate)(nil)
	_ gate.Preparer = (*Gate)(nil)
)
