package classify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/sextant-router/sextant/internal/catalog"
	"github.com/sextant-router/sextant/internal/conf"
	"github.com/sextant-router/sextant/internal/learn"
	"github.com/sextant-router/sextant/internal/llm"
	"github.com/sextant-router/sextant/internal/policy"
)

// Learned is a model file of package learn, loaded to make predictions
// about requests. A model whose input is text reads the request through
// learn.RequestExample; a model whose input is an embedding also has the
// request's text (the same Example.Text) embedded by a catalog embeddings
// model through the executor, so the call is retried, accounted and
// traced like any other. Learned is immutable and safe for concurrent use.
type Learned struct {
	file  string // as configured
	model *learn.Model
	// embed is the catalog model that embeds the request for an
	// embedding-input model, "" for a text model.
	embed string
	// textOnly is true when the model reads no numeric features, so a
	// request needs no features.Extract.
	textOnly bool
}

// LearnedConfig names a model file and, for a model that takes
// embeddings, the embeddings model to use. It decodes from a string (the
// file) or a mapping.
type LearnedConfig struct {
	// File is the model file, relative to the config file's directory,
	// or builtin:NAME for a model embedded in the binary.
	File string `json:"file"`
	// EmbedModel is the catalog model (with the embeddings capability)
	// that embeds requests for a model whose input is an embedding; it
	// defaults to the embeddings model the file was trained with.
	EmbedModel string `json:"embed_model"`
}

// DecodeLearned decodes raw (a string or a LearnedConfig mapping) at path.
func DecodeLearned(path string, raw json.RawMessage) (LearnedConfig, error) {
	var cfg LearnedConfig
	if err := json.Unmarshal(raw, &cfg.File); err == nil {
		return cfg, nil
	}
	err := conf.Decode(path, raw, &cfg)
	return cfg, err
}

// LoadLearned loads the model file of cfg, at config path path, and checks
// that it is a model of kind want and that an embedding-input model has a
// usable embeddings model in b's catalog. Errors are *conf.Error values.
func LoadLearned(b policy.Builder, path string, cfg LearnedConfig, want string) (*Learned, error) {
	filePath := conf.Join(path, "file")
	if cfg.File == "" {
		return nil, conf.Errorf(filePath, "required: a model file (or builtin:NAME)")
	}
	m, err := learn.Load(b.Path(cfg.File))
	if err != nil {
		return nil, conf.Errorf(filePath, "%v", err)
	}
	if m.Kind() != want {
		return nil, conf.Errorf(filePath, "%s is a %s model, want a %s model", cfg.File, m.Kind(), want)
	}
	if len(m.Labels()) == 0 {
		return nil, conf.Errorf(filePath, "%s has no labels", cfg.File)
	}
	l := &Learned{file: cfg.File, model: m, textOnly: len(m.Numeric()) == 0}
	embedPath := conf.Join(path, "embed_model")
	switch m.Input() {
	case "text":
		if cfg.EmbedModel != "" {
			return nil, conf.Errorf(embedPath, "%s reads text, not embeddings; remove embed_model", cfg.File)
		}
	case "embedding":
		l.embed = cfg.EmbedModel
		if l.embed == "" {
			l.embed = m.EmbeddingModel()
		}
		if l.embed == "" {
			return nil, conf.Errorf(embedPath, "required: %s reads embeddings and names no embeddings model", cfg.File)
		}
		em, ok := b.Model(l.embed)
		if !ok {
			return nil, conf.Errorf(embedPath, "unknown model %q (the embeddings model for %s)", l.embed, cfg.File)
		}
		if !em.Has(catalog.CapEmbeddings) {
			return nil, conf.Errorf(embedPath, "model %q lacks the embeddings capability", l.embed)
		}
	default:
		return nil, conf.Errorf(filePath, "%s takes input %q, which requests cannot give", cfg.File, m.Input())
	}
	return l, nil
}

// Labels returns the model's labels.
func (l *Learned) Labels() []string { return l.model.Labels() }

// Name returns the file name as configured, without its directories.
func (l *Learned) Name() string {
	if strings.HasPrefix(l.file, "builtin:") {
		return l.file
	}
	return filepath.Base(l.file)
}

// EmbedModel returns the embeddings model used, "" for a text model.
func (l *Learned) EmbedModel() string { return l.embed }

// Predict returns the model's prediction for the request, one number per
// label. It fails only when embedding the request fails or the model
// returns a malformed prediction. ctx may mark an evaluation record
// (learn.WithRecord), which makes a cross-fitted model answer with the
// fold that never saw the record.
func (l *Learned) Predict(ctx context.Context, c *policy.Call) ([]float64, error) {
	var ex learn.Example
	if l.textOnly {
		// The model reads only the text: skip features.Extract, the
		// dominant cost of a decision on a long prompt.
		ex = learn.TextExample(c.Request)
	} else {
		ex = learn.RequestExample(c.Request, c.Features())
	}
	if l.embed != "" {
		resp, err := c.Exec.Embed(ctx, c, l.embed, &llm.EmbedRequest{Input: []string{ex.Text}})
		if err != nil {
			return nil, fmt.Errorf("embed the request with %s: %w", l.embed, err)
		}
		if len(resp.Vectors) != 1 {
			return nil, fmt.Errorf("embed the request with %s: got %d vectors, want 1", l.embed, len(resp.Vectors))
		}
		if d := len(resp.Vectors[0]); d != l.model.Dim() {
			return nil, fmt.Errorf("embed the request with %s: got %d dimensions, %s was trained on %d", l.embed, d, l.Name(), l.model.Dim())
		}
		ex.Vector = resp.Vectors[0]
	}
	p := l.model.Predict(ctx, &ex)
	if len(p) != len(l.model.Labels()) {
		return nil, fmt.Errorf("%s: predicted %d values for %d labels", l.Name(), len(p), len(l.model.Labels()))
	}
	for _, v := range p {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%s: prediction %v is not a probability", l.Name(), v)
		}
	}
	return p, nil
}

// Model is the learned classifier: a classifier model file whose input is
// text (hashed n-grams of the request) or an embedding of the request.
type Model struct {
	l *Learned
}

// NewModel builds a learned classifier from raw at path: a file name or
// {file, embed_model}. The file must hold a model of kind classifier.
func NewModel(b policy.Builder, path string, raw json.RawMessage) (*Model, error) {
	cfg, err := DecodeLearned(path, raw)
	if err != nil {
		return nil, err
	}
	l, err := LoadLearned(b, path, cfg, learn.KindClassifier)
	if err != nil {
		return nil, err
	}
	return &Model{l: l}, nil
}

// Name returns "model:" and the file's name.
func (m *Model) Name() string { return "model:" + m.l.Name() }

// Labels returns the model's classes.
func (m *Model) Labels() []string { return m.l.Labels() }

// Classify predicts the distribution over the model's classes.
func (m *Model) Classify(ctx context.Context, c *policy.Call) (Result, error) {
	p, err := m.l.Predict(ctx, c)
	if err != nil {
		return Result{}, err
	}
	// Renormalize: a calibrated distribution sums to 1 up to rounding.
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return Result{}, fmt.Errorf("%s: predicted probabilities sum to %v", m.l.Name(), sum)
	}
	probs := make([]float64, len(p))
	for i, v := range p {
		probs[i] = v / sum
	}
	res := fromProbs(m.Labels(), probs)
	src := "text"
	if m.l.embed != "" {
		src = "embedding by " + m.l.embed
	}
	res.Reason = fmt.Sprintf("%s (%s) predicts %s with p=%.3f", m.l.Name(), src, res.Label, res.Prob)
	return res, nil
}

var _ Classifier = (*Model)(nil)
