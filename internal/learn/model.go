package learn

import (
	"context"
	"math"
	"slices"
	"time"
)

// Inputs of a model.
const (
	InputText      = "text"
	InputEmbedding = "embedding"
)

// Model is a trained linear model with calibrated outputs (see the package
// doc). It is immutable once loaded or trained and safe for concurrent
// use.
type Model struct {
	kind           string
	labels         []string
	input          string
	embeddingModel string
	info           Info

	feat Featurizer // InputText
	dim  int        // InputEmbedding: the vector length

	numeric  []NumericStat
	full     *linear
	folds    []*linear
	foldSeed uint64
	// calib has one entry per label for winrate and gate, one
	// (temperature) for a classifier.
	calib []Calibration
	// output is how a winrate model's heads become its predictions
	// (OutputIndependent or OutputWinRate).
	output string
}

// Outputs of a winrate model.
const (
	// OutputIndependent: each label's prediction is its head's
	// calibrated probability (of the outcome it was trained on).
	OutputIndependent = "independent"
	// OutputWinRate: the heads are each model's P(correct), trained on
	// correct/incorrect outcomes; the prediction for model m is its win
	// rate against the best other model j (the one with the highest
	// P(correct)): P(m right, j wrong) + P(both alike)/2, taking their
	// errors as independent, which is (1 + P(m right) - P(j right))/2.
	// A router that keeps the cheap model while its win rate clears a
	// threshold sends the strong model the requests with the largest
	// expected quality gain, not those both models get wrong.
	OutputWinRate = "win_rate"
)

// NumericStat is a numeric feature a model reads and the mean and
// standard deviation it is standardised with.
type NumericStat struct {
	Name string  `json:"name"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

// linear is one set of weights. w is feature-major: the weight of feature
// f for label l is w[f*L+l], so one feature's weights share a cache line.
type linear struct {
	w    []float32 // features × labels
	num  []float32 // numeric features × labels
	bias []float32 // labels
}

// Info describes how a model was trained, for logs and traces.
type Info struct {
	// Version is the model file format version.
	Version   int       `json:"version"`
	Kind      string    `json:"kind"`
	TrainedAt time.Time `json:"trained_at"`
	// Data summarises the training samples.
	Data DataSummary `json:"data"`
	// Validation holds the metrics on the held-out validation split (a
	// model trained on the rest), nil without one.
	Validation *Metrics `json:"validation,omitempty"`
	// CrossFit holds the metrics of the fold models' out-of-fold
	// predictions over all samples.
	CrossFit *Metrics `json:"cross_fit,omitempty"`
	// L2 is the regularisation strength chosen; Folds the number of fold
	// models; Calibration the calibration method.
	L2          float64 `json:"l2"`
	Folds       int     `json:"folds"`
	Calibration string  `json:"calibration"`
	// Output is a winrate model's output (OutputIndependent or
	// OutputWinRate).
	Output string `json:"output,omitempty"`
	// CategoryMix is TrainOptions.CategoryMix.
	CategoryMix float64 `json:"category_mix,omitempty"`
	// Featurizer is the text featurizer (also at the file's top level).
	Featurizer *Featurizer `json:"featurizer,omitempty"`
}

// DataSummary counts the training samples.
type DataSummary struct {
	Samples int      `json:"samples"`
	Sources []string `json:"sources,omitempty"`
	// Labels counts, per label, the samples of that class (classifier) or
	// with a known outcome and with a good one (winrate, gate).
	Labels map[string]LabelCount `json:"labels"`
}

// LabelCount counts one label's samples.
type LabelCount struct {
	Known int `json:"known"`
	Good  int `json:"good,omitempty"`
}

// Kind returns the model's kind: KindClassifier, KindWinrate or KindGate.
func (m *Model) Kind() string { return m.kind }

// Labels returns the labels Predict scores, in order: classes, model
// names, or ["accept"]. The caller must not change the slice.
func (m *Model) Labels() []string { return m.labels }

// Input returns InputText or InputEmbedding: what Predict reads of an
// Example (Text and Numeric, or Vector and Numeric).
func (m *Model) Input() string { return m.input }

// EmbeddingModel returns the catalog name of the embeddings model whose
// vectors an InputEmbedding model was trained on, "" for text models.
func (m *Model) EmbeddingModel() string { return m.embeddingModel }

// Info returns how the model was trained.
func (m *Model) Info() Info { return m.info }

// Numeric returns the names of the numeric features the model reads, in
// order; none means Example.Numeric is ignored (TextExample suffices for
// a text model). The slice is the caller's.
func (m *Model) Numeric() []string {
	out := make([]string, len(m.numeric))
	for i, ns := range m.numeric {
		out[i] = ns.Name
	}
	return out
}

// Folds returns the number of fold models the model holds (0 or K).
func (m *Model) Folds() int { return len(m.folds) }

// Dim returns the vector length an InputEmbedding model expects, 0 for
// text models.
func (m *Model) Dim() int { return m.dim }

// Predict scores x: for a classifier a distribution over Labels summing to
// 1; for winrate and gate, per label, the independent probability that the
// outcome is good. The result has len(Labels()) elements in [0,1].
//
// When ctx carries a record id (WithRecord) and the model holds fold
// models, the fold model trained without that record answers; otherwise
// the model trained on everything. Numeric features missing from x count
// as their training mean; an embedding of the wrong length counts as no
// vector, so the prediction falls back to the numeric features and the
// prior. Predict allocates only its result.
func (m *Model) Predict(ctx context.Context, x *Example) []float64 {
	lin := m.full
	if len(m.folds) > 0 {
		if id, ok := RecordFrom(ctx); ok {
			lin = m.folds[FoldSeed(id, len(m.folds), m.foldSeed)]
		}
	}
	out := make([]float64, len(m.labels))
	m.logits(lin, x, out)
	m.calibrate(out)
	return out
}

// logits writes the uncalibrated scores of x under lin into z.
func (m *Model) logits(lin *linear, x *Example, z []float64) {
	L := len(z)
	clear(z)
	switch m.input {
	case InputText:
		w := lin.w
		var h hasher
		h.reset(&m.feat, x.Text)
		switch L {
		case 1:
			var s float32
			for bs := h.fill(); len(bs) > 0; bs = h.fill() {
				for _, b := range bs {
					s += w[b]
				}
			}
			z[0] = float64(s)
		case 2:
			var s0, s1 float32
			for bs := h.fill(); len(bs) > 0; bs = h.fill() {
				for _, b := range bs {
					i := int(b) * 2
					s0 += w[i]
					s1 += w[i+1]
				}
			}
			z[0], z[1] = float64(s0), float64(s1)
		default:
			for bs := h.fill(); len(bs) > 0; bs = h.fill() {
				for _, b := range bs {
					row := w[int(b)*L : int(b)*L+L]
					for l, v := range row {
						z[l] += float64(v)
					}
				}
			}
		}
		s := float64(scale(h.n))
		for l := range z {
			z[l] *= s
		}
	case InputEmbedding:
		if len(x.Vector) == m.dim {
			for f, v := range x.Vector {
				row := lin.w[f*L : f*L+L]
				for l, w := range row {
					z[l] += float64(v * w)
				}
			}
		}
	}
	for j := range m.numeric {
		ns := &m.numeric[j]
		v, ok := x.Numeric[ns.Name]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := (v - ns.Mean) / ns.Std
		row := lin.num[j*L : j*L+L]
		for l, w := range row {
			z[l] += s * float64(w)
		}
	}
	for l, b := range lin.bias {
		z[l] += float64(b)
	}
}

// calibrate turns logits into predictions in place: calibrated heads,
// then the output transform.
func (m *Model) calibrate(z []float64) {
	m.heads(z)
	if m.output == OutputWinRate {
		winRate(z)
	}
}

// heads turns logits into the heads' calibrated probabilities in place.
func (m *Model) heads(z []float64) {
	if m.kind == KindClassifier {
		t := 1.0
		if len(m.calib) == 1 {
			t = m.calib[0].A
		}
		softmax(z, t)
		return
	}
	for l := range z {
		z[l] = m.calib[l].apply(z[l])
	}
}

// winRate replaces P(correct) per model with the win rate against the
// best other model, (1 + P(m) - max over j != m of P(j))/2. A single
// label is left as it is.
func winRate(p []float64) {
	if len(p) < 2 {
		return
	}
	first, second := math.Inf(-1), math.Inf(-1)
	for _, v := range p {
		if v > first {
			first, second = v, first
		} else if v > second {
			second = v
		}
	}
	for l, v := range p {
		other := first
		if v == first {
			other = second
		}
		p[l] = (1 + v - other) / 2
	}
}

// softmax replaces z with softmax(t*z).
func softmax(z []float64, t float64) {
	hi := math.Inf(-1)
	for _, v := range z {
		hi = max(hi, t*v)
	}
	sum := 0.0
	for i, v := range z {
		z[i] = math.Exp(t*v - hi)
		sum += z[i]
	}
	for i := range z {
		z[i] /= sum
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Label returns the index of label in Labels, or -1.
func (m *Model) Label(label string) int { return slices.Index(m.labels, label) }

// Fold returns the fold, in [0,k), of the record with id: a stable hash,
// the same in every process and version. k must be positive.
func Fold(id string, k int) int { return FoldSeed(id, k, 0) }

// FoldSeed is Fold under another seed, for an independent assignment
// (repeated cross-validation). Seed 0 is Fold.
func FoldSeed(id string, k int, seed uint64) int {
	h := uint64(fnvOffset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= fnvPrime
	}
	return int(mix(h^seed*0x9e3779b97f4a7c15) % uint64(k))
}
