// Package learned provides the "learned" gate: a logistic-regression model
// (package learn, kind gate) predicts the probability that an answer is
// acceptable from its text, its measured features (AnswerExample) and the
// request's. `sextant train --kind gate` trains it from recorded answers.
// See the package doc of gate for its config.
package learned

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/gate"
	"github.com/sextant-router/sextant/internal/gate/embed"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/policy"
)

// Kind is the gate's kind name.
const Kind = "learned"

func init() { gate.Register(Kind, New) }

// DefaultThreshold is the probability of acceptance an answer must reach.
const DefaultThreshold = 0.5

// Gate scores an answer with a learned model.
type Gate struct {
	gate.Base
	model *learn.Model
	path  string
}

type config struct {
	gate.Common
	Model string `json:"model"`
}

// New builds a learned gate; see the package doc of gate for its config.
// The model file is read now.
func New(b policy.Builder, path string, raw json.RawMessage) (gate.Gate, error) {
	var cfg config
	if err := conf.Decode(path, raw, &cfg); err != nil {
		return nil, err
	}
	base, err := cfg.Common.Base(path, Kind, DefaultThreshold)
	if err != nil {
		return nil, err
	}
	mp := conf.Join(path, "model")
	if cfg.Model == "" {
		return nil, conf.Errorf(mp, "required: a model file of kind gate (sextant train --kind gate)")
	}
	m, err := learn.Load(b.Path(cfg.Model))
	if err != nil {
		return nil, conf.Errorf(mp, "%v", err)
	}
	if m.Kind() != learn.KindGate {
		return nil, conf.Errorf(mp, "%s is a %s model, not a gate model", cfg.Model, m.Kind())
	}
	if m.Input() == learn.InputEmbedding {
		if err := embed.CheckModel(b, mp, m.EmbeddingModel()); err != nil {
			return nil, conf.Errorf(mp, "the model reads embeddings of %q: %v", m.EmbeddingModel(), err)
		}
	}
	return &Gate{Base: base, model: m, path: cfg.Model}, nil
}

// NewFromModel returns a learned gate over m (tests, evaluation).
func NewFromModel(name string, thr *gate.Threshold, m *learn.Model) *Gate {
	return &Gate{Base: gate.NewBase(name, thr), model: m}
}

// Check predicts the probability that a's first choice is acceptable. An
// embedding model's vector is fetched through c.Exec. It skips a partial
// answer.
func (g *Gate) Check(ctx context.Context, c *policy.Call, a *gate.Answer) (gate.Verdict, error) {
	if a.Partial {
		return g.Skip(c, "prefix: the model judges whole answers"), nil
	}
	req := a.Request
	if req == nil && c != nil {
		req = c.Request
	}
	x := answerExample(req, a.Response, a.Analysis())
	if g.model.Input() == learn.InputEmbedding {
		vs, err := embed.Texts(ctx, c, g.model.EmbeddingModel(), []string{x.Text})
		if err != nil {
			return gate.Verdict{}, fmt.Errorf("learned: %w", err)
		}
		x.Vector = vs[0]
	}
	p := g.model.Predict(ctx, &x)[0]
	v := g.Verdict(c, p, fmt.Sprintf("P(accept) %.3f", p))
	v.Metrics = map[string]float64{
		"p_accept":          p,
		"arith_wrong_share": x.Numeric["arith_wrong_share"],
		"final_stated":      x.Numeric["final_stated"],
	}
	return v, nil
}

var _ gate.Gate = (*Gate)(nil)
